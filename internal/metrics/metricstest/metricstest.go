// Package metricstest reads metrics as Prometheus' own text parser
// (prometheus/common/expfmt) reads them, for the tests of what
// internal/metrics writes: a metrics file as node_exporter's textfile
// collector reads it, and monitoring-token's series in a scrape.
package metricstest

import (
	"fmt"
	"io"
	"os"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Family is one metric family.
type Family struct {
	Help   string
	Type   string // as the TYPE line says it, upper case: GAUGE, COUNTER, …
	Series []Series
}

// Series is one sample of a family.
type Series struct {
	Name      string // the family's
	Labels    map[string]string
	Value     float64 // a gauge's, counter's or untyped sample's
	Timestamp bool    // the sample carries one, which node_exporter refuses
}

// Key names a series among those of one machine and service: its family's
// name, and for a phase of monitoring_probe_phase_duration_seconds
// NAME{PHASE}.
func (s Series) Key() string {
	if phase, ok := s.Labels["phase"]; ok {
		return s.Name + "{" + phase + "}"
	}
	return s.Name
}

// Parse reads the text exposition format with legacy metric and label
// names, as node_exporter's textfile collector reads a file, and returns
// its families by name.
func Parse(r io.Reader) (map[string]Family, error) {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	return Of(mfs), nil
}

// ParseFile is Parse of the file at path; an error names the file.
func ParseFile(path string) (map[string]Family, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fams, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s does not parse: %w", path, err)
	}
	return fams, nil
}

// Of returns the families the parser returned, by name, such as those of
// a scrape.
func Of(mfs map[string]*dto.MetricFamily) map[string]Family {
	fams := map[string]Family{}
	for name, mf := range mfs {
		fam := Family{Help: mf.GetHelp(), Type: mf.GetType().String()}
		for _, m := range mf.GetMetric() {
			s := Series{Name: name, Labels: map[string]string{}, Timestamp: m.TimestampMs != nil}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.Gauge != nil:
				s.Value = m.GetGauge().GetValue()
			case m.Counter != nil:
				s.Value = m.GetCounter().GetValue()
			case m.Untyped != nil:
				s.Value = m.GetUntyped().GetValue()
			}
			fam.Series = append(fam.Series, s)
		}
		fams[name] = fam
	}
	return fams
}
