package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/monitoring-token/monitoring-token/internal/metrics/metricstest"
)

// The metrics files are checked by the real node_exporter (v1.10.1, built
// from tools/node_exporter) with only its textfile collector, as a
// deployment runs it next to script_exporter.

// probeFamilies are the families monitoring-token writes into a metrics
// file (internal/metrics), each checked below for every kind of result.
var probeFamilies = []string{
	"monitoring_probe_success",
	"monitoring_probe_exit_code",
	"monitoring_probe_cannot_run",
	"monitoring_probe_timed_out",
	"monitoring_probe_duration_seconds",
	"monitoring_probe_phase_duration_seconds",
	"monitoring_probe_locate_attempts",
	"monitoring_probe_locate_http_status",
	"monitoring_probe_cached",
	"monitoring_probe_stale",
	"monitoring_probe_last_success_timestamp_seconds",
}

// phases are the values of monitoring_probe_phase_duration_seconds's label
// phase.
var phases = []string{"sign", "locate", "command"}

// series is one metrics file's values for one machine and service: the
// family's name, or for the phases "monitoring_probe_phase_duration_seconds{PHASE}"
// (metricstest.Series.Key).
type series map[string]float64

// textfileRun is a set-up for writing metrics files: a locate emulator, a
// key it refuses, a result cache and the textfile directory.
type textfileRun struct {
	dir       string // the textfile collector's directory
	cacheDir  string
	locateURL string // the emulator
	// otherKey is a signer key that the emulator does not know: locate
	// refuses its tokens (401).
	otherKey string
	env      []string
}

func newTextfileRun(t *testing.T) *textfileRun {
	t.Helper()
	c := &chain{dir: t.TempDir()}
	// The probes' commands never connect to the service.
	_, locateURL, err := c.startEmulator(t, freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	r := &textfileRun{
		dir:       filepath.Join(c.dir, "textfile"),
		cacheDir:  filepath.Join(c.dir, "cache"),
		locateURL: locateURL,
		otherKey:  writeOtherKey(t, c.dir),
		env: []string{
			"PATH=/usr/bin:/bin",
			"HOME=" + c.dir,
			"MONITORING_SIGNER_KEY=" + filepath.Join(c.dir, "monitoring.jwk"),
		},
	}
	if err := os.Mkdir(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// probe runs monitoring-token with args, writing its metrics to
// FILE.prom in the textfile directory, and returns its exit status and
// the file's values.
func (r *textfileRun) probe(t *testing.T, file string, args ...string) (int, series) {
	t.Helper()
	path := filepath.Join(r.dir, file+".prom")
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	argv := append([]string{"-metrics-file=" + path, "-locate-url=" + r.locateURL}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "monitoring-token"), argv...)
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("monitoring-token %s: %v", strings.Join(argv, " "), err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("monitoring-token %s wrote no metrics: %v; output:\n%s", strings.Join(argv, " "), err, redact(string(out)))
	}
	families, err := metricstest.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), probeSeries(families)[""]
}

// probeSeries returns the values of monitoring-token's families by machine
// (the key "" holds them all when one machine is present).
func probeSeries(families map[string]metricstest.Family) map[string]series {
	byMachine := map[string]series{}
	for _, name := range probeFamilies {
		for _, s := range families[name].Series {
			m := s.Labels["machine"]
			if byMachine[m] == nil {
				byMachine[m] = series{}
			}
			byMachine[m][s.Key()] = s.Value
		}
	}
	if len(byMachine) == 1 {
		for _, s := range byMachine {
			byMachine[""] = s
		}
	}
	return byMachine
}

// seriesKeys are the keys every file must hold, one per series written.
func seriesKeys() []string {
	var keys []string
	for _, name := range probeFamilies {
		if name == "monitoring_probe_phase_duration_seconds" {
			for _, p := range phases {
				keys = append(keys, name+"{"+p+"}")
			}
			continue
		}
		keys = append(keys, name)
	}
	return keys
}

// nodeExporter is a running node_exporter with only the textfile
// collector, reading dir.
type nodeExporter struct {
	*process
	metricsURL string
}

// startNodeExporter starts node_exporter on loopback; it stops when the
// test ends.
func startNodeExporter(t *testing.T, dir string) *nodeExporter {
	t.Helper()
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		addr := freeAddr(t)
		var p *process
		p, err = startProcess(t, "node_exporter", serviceLife, []string{"PATH=/usr/bin:/bin"},
			filepath.Join(binDir, "node_exporter"),
			"--collector.disable-defaults",
			"--collector.textfile",
			"--collector.textfile.directory="+dir,
			"--web.listen-address="+addr,
			"--web.disable-exporter-metrics")
		if err != nil {
			t.Fatal(err)
		}
		var n *nodeExporter
		if n, err = waitNodeExporter(p, addr); err == nil {
			return n
		}
		p.stop()
		if !strings.Contains(p.output(), "address already in use") {
			break
		}
		t.Logf("attempt %d: %v", attempt, err)
	}
	t.Fatal(err)
	return nil
}

// waitNodeExporter waits for the node_exporter p, listening on addr, to
// serve its metrics.
func waitNodeExporter(p *process, addr string) (*nodeExporter, error) {
	n := &nodeExporter{process: p, metricsURL: "http://" + addr + "/metrics"}
	err := waitFor(startTimeout, "node_exporter's /metrics", func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("node_exporter exited: %s", p.output())
		}
		_, err := n.scrape()
		return err == nil, nil
	})
	return n, err
}

// scrape reads node_exporter's metrics as Prometheus does.
func (n *nodeExporter) scrape() (map[string]*dto.MetricFamily, error) {
	return getMetrics(n.metricsURL)
}

// gauge returns the value of a family without labels.
func gauge(families map[string]*dto.MetricFamily, name string) (float64, bool) {
	for _, m := range families[name].GetMetric() {
		if len(m.GetLabel()) == 0 {
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestTextfileCollector runs monitoring-token for a success, a command
// failure, a cache hit and a stale result, each for a machine of its own,
// and scrapes the files with node_exporter: the scrape must have no error
// and serve every series with the value the run must have written.
func TestTextfileCollector(t *testing.T) {
	r := newTextfileRun(t)
	machines := map[string]string{
		"success": "mlab1-lga03.mlab-oti.measurement-lab.org",
		"failure": "mlab2-lga03.mlab-oti.measurement-lab.org",
		"hit":     "mlab3-lga03.mlab-oti.measurement-lab.org",
		"stale":   "mlab4-lga03.mlab-oti.measurement-lab.org",
	}
	cache := "-cache-dir=" + r.cacheDir
	start := float64(time.Now().UnixMicro()) / 1e6

	// A real success, for the success and the result the cache hit and
	// the stale run give.
	exit, success := r.probe(t, "success", "-machine="+machines["success"], cache, "--", "true")
	end := float64(time.Now().UnixMicro()) / 1e6
	if exit != 0 {
		t.Fatalf("success: exit status %d", exit)
	}
	if exit, _ := r.probe(t, "failure", "-machine="+machines["failure"], cache, "--", "sh", "-c", "exit 3"); exit != 3 {
		t.Fatalf("failure: exit status %d, want 3", exit)
	}
	// The same probe twice: the second is a hit (no locate request, the
	// values say).
	_, first := r.probe(t, "hit", "-machine="+machines["hit"], cache, "--", "true")
	if exit, _ := r.probe(t, "hit", "-machine="+machines["hit"], cache, "--", "true"); exit != 0 {
		t.Fatalf("cache hit: exit status %d", exit)
	}
	// The stale run signs with a key locate refuses. It repeats until
	// its entry (kept 0.5 to 1 s) is no longer fresh: until then it is a
	// cache hit.
	_, stale := r.probe(t, "stale", "-machine="+machines["stale"], cache, "-cache-ttl=1s", "--", "true")
	err := waitFor(10*time.Second, "the 1 s cache entry to expire", func() (bool, error) {
		exit, s := r.probe(t, "stale", "-machine="+machines["stale"], cache, "-cache-ttl=1s", "-stale-if-error=1h", "-monitoring-signer-key="+r.otherKey, "--", "true")
		if exit != 0 {
			return false, fmt.Errorf("stale run: exit status %d: %v", exit, s)
		}
		return s["monitoring_probe_cached"] == 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The values each run must have written; durations are checked
	// apart.
	lastSuccess := success["monitoring_probe_last_success_timestamp_seconds"]
	if lastSuccess < start || lastSuccess > end {
		t.Errorf("success: last success %f, want the run's time, between %f and %f", lastSuccess, start, end)
	}
	want := map[string]series{
		"success": {"monitoring_probe_cannot_run": 0, "monitoring_probe_timed_out": 0, "monitoring_probe_success": 1, "monitoring_probe_exit_code": 0, "monitoring_probe_locate_attempts": 1, "monitoring_probe_locate_http_status": 200, "monitoring_probe_cached": 0, "monitoring_probe_stale": 0, "monitoring_probe_last_success_timestamp_seconds": lastSuccess},
		"failure": {"monitoring_probe_cannot_run": 0, "monitoring_probe_timed_out": 0, "monitoring_probe_success": 0, "monitoring_probe_exit_code": 3, "monitoring_probe_locate_attempts": 1, "monitoring_probe_locate_http_status": 200, "monitoring_probe_cached": 0, "monitoring_probe_stale": 0, "monitoring_probe_last_success_timestamp_seconds": 0},
		"hit":     {"monitoring_probe_cannot_run": 0, "monitoring_probe_timed_out": 0, "monitoring_probe_success": 1, "monitoring_probe_exit_code": 0, "monitoring_probe_locate_attempts": 0, "monitoring_probe_locate_http_status": 0, "monitoring_probe_cached": 1, "monitoring_probe_stale": 0, "monitoring_probe_last_success_timestamp_seconds": first["monitoring_probe_last_success_timestamp_seconds"]},
		"stale":   {"monitoring_probe_cannot_run": 1, "monitoring_probe_timed_out": 0, "monitoring_probe_success": 1, "monitoring_probe_exit_code": 0, "monitoring_probe_locate_attempts": 1, "monitoring_probe_locate_http_status": 401, "monitoring_probe_cached": 0, "monitoring_probe_stale": 1, "monitoring_probe_last_success_timestamp_seconds": stale["monitoring_probe_last_success_timestamp_seconds"]},
	}
	// Phases that ran: the others must be 0.
	ran := map[string][]string{
		"success": {"sign", "locate", "command"},
		"failure": {"sign", "locate", "command"},
		"hit":     nil,
		"stale":   {"sign", "locate"},
	}

	n := startNodeExporter(t, r.dir)
	families, err := n.scrape()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := gauge(families, "node_textfile_scrape_error"); !ok || v != 0 {
		t.Errorf("node_textfile_scrape_error = %v (present: %v), want 0; node_exporter's log:\n%s", v, ok, n.output())
	}
	mtimes := 0
	for _, m := range families["node_textfile_mtime_seconds"].GetMetric() {
		if strings.HasSuffix(labels(m)["file"], ".prom") {
			mtimes++
		}
	}
	if mtimes != len(machines) {
		t.Errorf("node_textfile_mtime_seconds for %d files, want %d", mtimes, len(machines))
	}
	served := probeSeries(metricstest.Of(families))
	for kind, machine := range machines {
		got := served[machine]
		for _, key := range seriesKeys() {
			if _, ok := got[key]; !ok {
				t.Errorf("%s: node_exporter serves no %s", kind, key)
			}
		}
		for key, v := range want[kind] {
			if got[key] != v {
				t.Errorf("%s: node_exporter serves %s %v, want %v", kind, key, got[key], v)
			}
		}
		total := got["monitoring_probe_duration_seconds"]
		if total <= 0 {
			t.Errorf("%s: duration %v, want > 0", kind, total)
		}
		sum := 0.0
		for _, p := range phases {
			d := got["monitoring_probe_phase_duration_seconds{"+p+"}"]
			sum += d
			if slices.Contains(ran[kind], p) != (d > 0) {
				t.Errorf("%s: phase %s took %v; want > 0 only for the phases that ran, %v", kind, p, d, ran[kind])
			}
		}
		if sum > total {
			t.Errorf("%s: the phases add up to %v, more than the run's %v", kind, sum, total)
		}
	}
}

// duplicateLog is what node_exporter v1.10.1 logs (level ERROR, "error
// gathering metrics") for each series that a second file repeats.
const duplicateLog = "collected before with the same name and label values"

// TestTextfileSameMachineTwice pins what node_exporter does with two files
// about one machine and service, which the README warns against: the
// scrape does not fail and node_textfile_scrape_error stays 0; it serves
// the values of the first file by name, whichever was written last, and
// only its log tells. A silent error, which the docs must say.
func TestTextfileSameMachineTwice(t *testing.T) {
	r := newTextfileRun(t)
	const m = "mlab1-lga03.mlab-oti.measurement-lab.org"
	// The second file by name is written first, and is a success.
	if exit, _ := r.probe(t, "b-success", "-machine="+m, "--", "true"); exit != 0 {
		t.Fatalf("success: exit status %d", exit)
	}
	exit, failure := r.probe(t, "a-failure", "-machine="+m, "--", "sh", "-c", "exit 3")
	if exit != 3 {
		t.Fatalf("failure: exit status %d, want 3", exit)
	}

	n := startNodeExporter(t, r.dir)
	families, err := n.scrape()
	if err != nil {
		t.Fatalf("the scrape failed: %v", err)
	}
	if v, ok := gauge(families, "node_textfile_scrape_error"); !ok || v != 0 {
		t.Errorf("node_textfile_scrape_error = %v (present: %v), want 0", v, ok)
	}
	got := probeSeries(metricstest.Of(families))[m]
	for _, key := range seriesKeys() {
		if got[key] != failure[key] {
			t.Errorf("node_exporter serves %s %v, want a-failure.prom's %v", key, got[key], failure[key])
		}
	}
	if err := waitFor(startTimeout, "node_exporter's log of the repeated series", func() (bool, error) {
		return strings.Contains(n.output(), duplicateLog), nil
	}); err != nil {
		t.Errorf("%v; its log:\n%s", err, n.output())
	}
}

// writeOtherKey writes an Ed25519 signer key (a private JWK) that no locate
// knows into dir and returns its path.
func writeOtherKey(t *testing.T, dir string) string {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwk, err := json.Marshal(map[string]string{
		"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "unknown-to-locate",
		"x": b64(pub), "d": b64(priv.Seed()),
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "other.jwk")
	if err := os.WriteFile(path, jwk, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
