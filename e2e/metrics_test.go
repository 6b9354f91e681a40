package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics of ndt-server v0.22.0 the tests judge by, with their labels.
const (
	// tokenRequests counts the access token controller's decisions
	// (m-lab/access controller): path, request (accepted or rejected) and
	// reason (the token's issuer when accepted, what was wrong when not).
	tokenRequests = "controller_access_token_requests_total"
	// testRate is observed once per measurement with a rate, labelled
	// direction and monitoring ("true" when locate's token has subject
	// "monitoring").
	testRate = "ndt_test_rate_mbps"
	// connections counts measurements begun (status "result").
	connections = "ndt7_client_connections_total"
	// testResults counts measurements ended.
	testResults = "ndt7_client_test_results_total"
)

// tally is what ndt-server counted, in the terms the tests use. Maps are
// keyed "DIRECTION REASON" for token decisions and "DIRECTION" for
// measurements; DIRECTION is the last element of the URL path.
type tally struct {
	accepted   map[string]float64 // token requests accepted
	rejected   map[string]float64 // token requests rejected
	monitoring map[string]float64 // measurements counted as monitoring
	other      map[string]float64 // measurements not counted as monitoring
	// started and finished count measurements begun and ended; the
	// server is idle when they are equal.
	started, finished float64
}

// counts builds the wanted tally of a probe: the directions whose token
// locate's emulator issued and the server accepted and counted as
// monitoring, and rejected tokens as "DIRECTION REASON".
func counts(monitoring []string, rejected ...string) tally {
	t := tally{accepted: map[string]float64{}, rejected: map[string]float64{}, monitoring: map[string]float64{}, other: map[string]float64{}}
	for _, dir := range monitoring {
		t.accepted[dir+" locate"]++
		t.monitoring[dir]++
	}
	for _, r := range rejected {
		t.rejected[r]++
	}
	return t
}

// Reasons ndt-server gives for rejecting a token (the error of
// go-jose.v2's validation or signature check, as m-lab/access v0.0.11
// labels it).
const (
	reasonMissing   = "missing"
	reasonAudience  = "invalid audience claim (aud)"
	reasonSignature = "square/go-jose: error in cryptographic primitive"
)

// scrape reads ndt-server's metrics.
func scrape(metricsURL string) (tally, error) {
	families, err := getMetrics(metricsURL)
	if err != nil {
		return tally{}, err
	}
	return tallyOf(families), nil
}

// getMetrics reads a /metrics page as Prometheus does.
func getMetrics(metricsURL string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", metricsURL, resp.Status)
	}
	families, err := parseText(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", metricsURL, err)
	}
	return families, nil
}

// parseText reads the text exposition format as Prometheus does.
func parseText(r io.Reader) (map[string]*dto.MetricFamily, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(r)
}

// tallyOf sums the metric families into a tally.
func tallyOf(families map[string]*dto.MetricFamily) tally {
	t := counts(nil)
	for _, m := range families[tokenRequests].GetMetric() {
		l := labels(m)
		key := direction(l["path"]) + " " + l["reason"]
		switch l["request"] {
		case "accepted":
			t.accepted[key] += m.GetCounter().GetValue()
		default:
			t.rejected[key] += m.GetCounter().GetValue()
		}
	}
	for _, m := range families[testRate].GetMetric() {
		l := labels(m)
		n := float64(m.GetHistogram().GetSampleCount())
		if l["monitoring"] == "true" {
			t.monitoring[direction(l["direction"])] += n
		} else {
			t.other[direction(l["direction"])] += n
		}
	}
	for _, m := range families[connections].GetMetric() {
		if labels(m)["status"] == "result" {
			t.started += m.GetCounter().GetValue()
		}
	}
	for _, m := range families[testResults].GetMetric() {
		t.finished += m.GetCounter().GetValue()
	}
	return t
}

// labels returns a metric's labels as a map.
func labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// direction turns a URL path such as /ndt/v7/download into "download";
// anything else stays as it is.
func direction(path string) string {
	return path[strings.LastIndex(path, "/")+1:]
}

// minus returns the counts of t that came after earlier, without zeros.
func (t tally) minus(earlier tally) tally {
	diff := func(now, then map[string]float64) map[string]float64 {
		d := map[string]float64{}
		for k, v := range now {
			if v != then[k] {
				d[k] = v - then[k]
			}
		}
		return d
	}
	return tally{
		accepted:   diff(t.accepted, earlier.accepted),
		rejected:   diff(t.rejected, earlier.rejected),
		monitoring: diff(t.monitoring, earlier.monitoring),
		other:      diff(t.other, earlier.other),
		started:    t.started - earlier.started,
		finished:   t.finished - earlier.finished,
	}
}

// equal reports whether two tallies of one run agree on every token
// decision and every measurement counted; begun and ended measurements are
// not compared (a rejected request begins none).
func (t tally) equal(u tally) bool {
	same := func(a, b map[string]float64) bool {
		for k, v := range a {
			if v != 0 && b[k] != v {
				return false
			}
		}
		for k, v := range b {
			if v != 0 && a[k] != v {
				return false
			}
		}
		return true
	}
	return same(t.accepted, u.accepted) && same(t.rejected, u.rejected) && same(t.monitoring, u.monitoring) && same(t.other, u.other)
}

// String lists the non-zero counts.
func (t tally) String() string {
	var parts []string
	for _, m := range []struct {
		name string
		m    map[string]float64
	}{{"accepted", t.accepted}, {"rejected", t.rejected}, {"monitoring", t.monitoring}, {"not monitoring", t.other}} {
		for _, k := range slices.Sorted(maps.Keys(m.m)) {
			if m.m[k] != 0 {
				parts = append(parts, fmt.Sprintf("%s %q: %v", m.name, k, m.m[k]))
			}
		}
	}
	if len(parts) == 0 {
		return "{nothing}"
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// TestTally checks the reading of ndt-server's metrics on a sample in the
// text format, with the labels ndt-server v0.22.0 writes.
func TestTally(t *testing.T) {
	const sample = `# TYPE controller_access_token_requests_total counter
controller_access_token_requests_total{path="/ndt/v7/download",reason="locate",request="accepted"} 3
controller_access_token_requests_total{path="/ndt/v7/download",reason="missing",request="rejected"} 1
controller_access_token_requests_total{path="/ndt/v7/upload",reason="invalid audience claim (aud)",request="rejected"} 2
# TYPE ndt_test_rate_mbps histogram
ndt_test_rate_mbps_bucket{direction="download",monitoring="true",protocol="ndt7+wss",le="+Inf"} 3
ndt_test_rate_mbps_sum{direction="download",monitoring="true",protocol="ndt7+wss"} 30000
ndt_test_rate_mbps_count{direction="download",monitoring="true",protocol="ndt7+wss"} 3
ndt_test_rate_mbps_bucket{direction="upload",monitoring="false",protocol="ndt7+unknown",le="+Inf"} 1
ndt_test_rate_mbps_sum{direction="upload",monitoring="false",protocol="ndt7+unknown"} 9000
ndt_test_rate_mbps_count{direction="upload",monitoring="false",protocol="ndt7+unknown"} 1
# TYPE ndt7_client_connections_total counter
ndt7_client_connections_total{direction="download",status="result"} 3
ndt7_client_connections_total{direction="upload",status="result"} 1
ndt7_client_connections_total{direction="upload",status="websocket-error"} 5
# TYPE ndt7_client_test_results_total counter
ndt7_client_test_results_total{direction="download",protocol="ndt7+wss",result="okay-with-rate"} 2
ndt7_client_test_results_total{direction="upload",protocol="ndt7+unknown",result="okay-with-rate"} 1
`
	families, err := parseText(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	got := tallyOf(families)
	want := counts([]string{"download", "download", "download"}, "download missing", "upload "+reasonAudience, "upload "+reasonAudience)
	want.other["upload"] = 1
	if !got.equal(want) {
		t.Errorf("tally = %v, want %v", got, want)
	}
	if got.started != 4 || got.finished != 3 {
		t.Errorf("started %v, finished %v; want 4, 3", got.started, got.finished)
	}
	// One more monitoring download after the sample.
	later := counts([]string{"download", "download", "download", "download"}, "download missing", "upload "+reasonAudience, "upload "+reasonAudience)
	later.other["upload"] = 1
	if d := later.minus(got); !d.equal(counts([]string{"download"})) {
		t.Errorf("difference = %v, want one monitoring download", d)
	}
	if got.equal(counts(nil)) || counts(nil).equal(got) {
		t.Errorf("a tally with counts equals an empty one")
	}
}
