package metricstest_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/monitoring-token/monitoring-token/internal/metrics/metricstest"
)

func TestParse(t *testing.T) {
	text := `# HELP a_seconds Phases.
# TYPE a_seconds gauge
a_seconds{machine="m",phase="sign"} 0.5
a_seconds{machine="m",phase="locate"} 1.5 1700000000000
# TYPE b_total counter
b_total 3
`
	got, err := metricstest.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]metricstest.Family{
		"a_seconds": {Help: "Phases.", Type: "GAUGE", Series: []metricstest.Series{
			{Name: "a_seconds", Labels: map[string]string{"machine": "m", "phase": "sign"}, Value: 0.5},
			{Name: "a_seconds", Labels: map[string]string{"machine": "m", "phase": "locate"}, Value: 1.5, Timestamp: true},
		}},
		"b_total": {Type: "COUNTER", Series: []metricstest.Series{{Name: "b_total", Labels: map[string]string{}, Value: 3}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", got, want)
	}
	if k := got["a_seconds"].Series[0].Key(); k != "a_seconds{sign}" {
		t.Errorf("Key = %q, want a_seconds{sign}", k)
	}
	if k := got["b_total"].Series[0].Key(); k != "b_total" {
		t.Errorf("Key = %q, want b_total", k)
	}
	if _, err := metricstest.Parse(strings.NewReader("not text\n")); err == nil {
		t.Error("Parse of a line that is not the text format: no error")
	}
}
