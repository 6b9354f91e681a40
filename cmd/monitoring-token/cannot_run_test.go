package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/token"
)

// locate400 is what a locate regression answered every monitoring request
// for three weeks in January 2026.
var locate400 = status(http.StatusBadRequest, "application/json", `{"error":{"type":"claim","title":"Must provide access_token","status":400}}`)

// TestPassIfCannotRun: with -pass-if-cannot-run a probe that could not
// run exits 0 while its metrics keep the probe's status and say that
// monitoring-token produced it; a status the command produced, whatever
// its number, is never passed, nor is a hung command's 124.
func TestPassIfCannotRun(t *testing.T) {
	tests := []struct {
		name      string
		flags     []string
		inject    int // requests locate answers 400
		wrongKey  bool
		script    string
		status    int  // the process's exit status
		probe     int  // monitoring_probe_exit_code
		cannotRun bool // monitoring_probe_cannot_run
		timedOut  bool // monitoring_probe_timed_out
		line      string
	}{
		{name: "locate answers 400", inject: 3, script: "exit 0", status: 0, probe: 125, cannotRun: true, line: "exit status 0 (-pass-if-cannot-run)"},
		{name: "locate refuses the key", wrongKey: true, script: "exit 0", status: 0, probe: 125, cannotRun: true, line: "exit status 0 (-pass-if-cannot-run)"},
		{name: "the client is not found", script: "", status: 0, probe: 127, cannotRun: true, line: "exit status 0 (-pass-if-cannot-run)"},
		{name: "the server passes", script: "exit 0", status: 0, probe: 0},
		{name: "the server fails", script: "exit 1", status: 1, probe: 1},
		{name: "the client's own 124", script: "exit 124", status: 124, probe: 124},
		{name: "the client's own 125", script: "exit 125", status: 125, probe: 125},
		{name: "the client's own 126", script: "exit 126", status: 126, probe: 126},
		{name: "the client's own 127", script: "exit 127", status: 127, probe: 127},
		{name: "the client killed by a signal", script: "kill -9 $$", status: 137, probe: 137},
		{name: "the client hangs", flags: []string{"-timeout=3s", "-kill-after=1s"}, script: "sleep 30", status: 124, probe: 124, timedOut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for range tt.inject {
				f.emu.Inject(locate400)
			}
			if tt.wrongKey {
				other, err := token.GenerateKey("EdDSA", "", 0)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f.keyPath, other.Private, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			command := []string{"--", "sh", "-c", tt.script}
			if tt.script == "" {
				command = []string{"--", "no-such-client-here"}
			}
			path := filepath.Join(f.dir, "probe.prom")
			args := append(f.flags(append(tt.flags, "-pass-if-cannot-run", "-metrics-file="+path)...), command...)
			r := runBinary(t, nil, args...)
			if r.status != tt.status || !strings.Contains(r.stderr, tt.line) {
				t.Errorf("status %d, stderr %q; want %d and %q", r.status, r.stderr, tt.status, tt.line)
			}
			m := probeMetrics(t, path)
			want := map[string]float64{
				"monitoring_probe_success":    boolFloat(tt.status == 0),
				"monitoring_probe_exit_code":  float64(tt.probe),
				"monitoring_probe_cannot_run": boolFloat(tt.cannotRun),
				"monitoring_probe_timed_out":  boolFloat(tt.timedOut),
			}
			for name, v := range want {
				if m[name] != v {
					t.Errorf("%s = %v, want %v", name, m[name], v)
				}
			}
		})
	}
}

// TestCannotRunFailsWithoutTheFlag: without -pass-if-cannot-run, a probe
// that could not run exits 125 as before, and the metrics say why.
func TestCannotRunFailsWithoutTheFlag(t *testing.T) {
	f := newFixture(t)
	f.emu.Inject(locate400, locate400, locate400)
	path := filepath.Join(f.dir, "probe.prom")
	r := runBinary(t, nil, f.flags("-metrics-file="+path, "--", "true")...)
	m := probeMetrics(t, path)
	if r.status != 125 || strings.Contains(r.stderr, "pass-if-cannot-run") || m["monitoring_probe_success"] != 0 || m["monitoring_probe_cannot_run"] != 1 {
		t.Errorf("status %d, stderr %q, metrics %v; want 125, not passed, cannot_run 1", r.status, r.stderr, m)
	}
}

// TestPassIfCannotRunUnderV3: through the v3 stand-in, a locate that
// answers 400 to every monitoring request leaves script_success 1 with
// the metrics saying 125 and cannot_run; a client that exits 125 itself
// stays a failure, for the exporter and in the metrics.
func TestPassIfCannotRunUnderV3(t *testing.T) {
	tests := []struct {
		name      string
		inject    int
		client    string
		code      int // the script's exit code, which v3 makes script_success
		probe     float64
		cannotRun float64
	}{
		{name: "locate answers 400", inject: 3, client: "exit 0", code: 0, probe: 125, cannotRun: 1},
		{name: "the client exits 125", client: "exit 125", code: 125, probe: 125, cannotRun: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for range tt.inject {
				f.emu.Inject(locate400)
			}
			line := `exec monitoring-token -read-env=false -locate-url=` + f.emu.URL + ` -monitoring-signer-key=` + f.keyPath +
				` -machine="$target" -timeout=25s -kill-after=2s -pass-if-cannot-run -metrics-file=- -- sh -c '` + tt.client + `'`
			e := scriptExporter{command: []string{"sh", "-c", line}, env: []string{"PATH=" + binDir + ":" + os.Getenv("PATH")}, timeout: 30 * time.Second}
			code, stdout, stderr := e.scrape(t, url.Values{"script": {"ndt7"}, "target": {machine}}.Encode())
			m := metricsOf(t, f, stdout)
			if code != tt.code || m["monitoring_probe_exit_code"] != tt.probe || m["monitoring_probe_cannot_run"] != tt.cannotRun || m["monitoring_probe_success"] != boolFloat(tt.code == 0) {
				t.Errorf("exit code %d, metrics %v, stderr %q; want %d, exit code %v, cannot_run %v", code, m, stderr, tt.code, tt.probe, tt.cannotRun)
			}
		})
	}
}

// TestPassedIsNotCached: a probe that could not run and was passed is not
// recorded as a success, so the next scrape probes the machine.
func TestPassedIsNotCached(t *testing.T) {
	c := newCacheRun(t)
	c.emu.Inject(locate400) // not retried
	if r := runBinary(t, nil, c.args(3, "-pass-if-cannot-run")...); r.status != 0 {
		t.Fatalf("locate answering 400: status %d, stderr %q; want 0 (passed)", r.status, r.stderr)
	}
	if r := runBinary(t, nil, c.args(3, "-pass-if-cannot-run")...); r.status != 3 || c.runs(t) != 1 {
		t.Errorf("next run: status %d, %d runs of the command; want the server's 3 from a real probe", r.status, c.runs(t))
	}
}

// TestSharedStatusProducer: a status shared through the cache keeps who
// produced it; one from an entry that does not say counts as the
// command's, so that -pass-if-cannot-run never passes it.
func TestSharedStatusProducer(t *testing.T) {
	for _, tt := range []struct {
		recorded string
		want     producer
	}{
		{"cannot-run", cannotRun},
		{"timed-out", timedOut},
		{"command", byCommand},
		{"", byCommand},
		{"something else", byCommand},
	} {
		err := &sharedStatus{status: 125, by: recordedProducer(tt.recorded)}
		if got := judge(err, false).by; got != tt.want {
			t.Errorf("shared status 125 recorded as by %q: produced by %q, want %q", tt.recorded, got, tt.want)
		}
	}
}
