package main

import (
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/internal/metrics/metricstest"
	"github.com/monitoring-token/monitoring-token/internal/poll"
)

// probeMetrics reads a metrics file with the Prometheus text parser and
// returns each series' value by name (phases as NAME{phase}), checking the
// labels every series must carry.
func probeMetrics(t *testing.T, path string) map[string]float64 {
	t.Helper()
	fams, err := metricstest.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for name, fam := range fams {
		if fam.Type != "GAUGE" {
			t.Errorf("%s is a %v, want a gauge", name, fam.Type)
		}
		for _, s := range fam.Series {
			if s.Labels["machine"] != machine || s.Labels["service"] != "ndt/ndt7" {
				t.Errorf("%s has labels %v", name, s.Labels)
			}
			got[s.Key()] = s.Value
		}
	}
	return got
}

// checkPhases checks that the phases are disjoint parts of the whole run.
func checkPhases(t *testing.T, m map[string]float64) {
	t.Helper()
	sum := m["monitoring_probe_phase_duration_seconds{sign}"] + m["monitoring_probe_phase_duration_seconds{locate}"] + m["monitoring_probe_phase_duration_seconds{command}"]
	if total := m["monitoring_probe_duration_seconds"]; sum > total || total <= 0 {
		t.Errorf("phases add up to %v, the whole run is %v", sum, total)
	}
}

func TestMetricsForEachOutcome(t *testing.T) {
	tests := []struct {
		name     string
		flags    []string
		inject   []http.HandlerFunc
		command  []string
		status   int
		attempts float64
		http     float64
		command0 bool // no command phase: it was not tried
		// who produced the status: monitoring-token because the probe
		// could not run, or because it stopped the command at -timeout;
		// neither: the command.
		cannotRun, timedOut bool
	}{
		{name: "success", command: []string{"true"}, status: 0, attempts: 1, http: 200},
		{name: "command failed", command: []string{"sh", "-c", "exit 3"}, status: 3, attempts: 1, http: 200},
		{name: "timed out", flags: []string{"-timeout=3s", "-kill-after=1s"}, command: []string{"sleep", "30"}, status: 124, attempts: 1, http: 200, timedOut: true},
		{name: "locate refused after a retry", inject: []http.HandlerFunc{status(http.StatusServiceUnavailable, "", ""), status(http.StatusForbidden, "text/plain", "no")}, command: []string{"true"}, status: 125, attempts: 2, http: 403, command0: true, cannotRun: true},
		{name: "not executable", command: []string{"/dev/null"}, status: 126, attempts: 1, http: 200, cannotRun: true},
		{name: "not found", command: []string{"no-such-command-here"}, status: 127, attempts: 1, http: 200, cannotRun: true},
		{name: "the command's own 124", command: []string{"sh", "-c", "exit 124"}, status: 124, attempts: 1, http: 200},
		{name: "the command's own 125", command: []string{"sh", "-c", "exit 125"}, status: 125, attempts: 1, http: 200},
		{name: "the command's own 127", command: []string{"sh", "-c", "exit 127"}, status: 127, attempts: 1, http: 200},
		{name: "killed", command: []string{"sh", "-c", "kill -9 $$"}, status: 137, attempts: 1, http: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.emu.Inject(tt.inject...)
			path := filepath.Join(f.dir, "probe.prom")
			r := runBinary(t, nil, append(f.flags(append(tt.flags, "-metrics-file="+path)...), append([]string{"--"}, tt.command...)...)...)
			if r.status != tt.status {
				t.Fatalf("status %d stderr %q, want %d", r.status, r.stderr, tt.status)
			}
			m := probeMetrics(t, path)
			want := map[string]float64{
				"monitoring_probe_success":            map[bool]float64{true: 1}[tt.status == 0],
				"monitoring_probe_exit_code":          float64(tt.status),
				"monitoring_probe_cannot_run":         boolFloat(tt.cannotRun),
				"monitoring_probe_timed_out":          boolFloat(tt.timedOut),
				"monitoring_probe_locate_attempts":    tt.attempts,
				"monitoring_probe_locate_http_status": tt.http,
				"monitoring_probe_cached":             0,
				"monitoring_probe_stale":              0,
			}
			for name, v := range want {
				if got, ok := m[name]; !ok || got != v {
					t.Errorf("%s = %v (present %v), want %v", name, got, ok, v)
				}
			}
			checkPhases(t, m)
			for _, phase := range []string{"sign", "locate"} {
				if m["monitoring_probe_phase_duration_seconds{"+phase+"}"] <= 0 {
					t.Errorf("no %s phase: %v", phase, m)
				}
			}
			if ran := m["monitoring_probe_phase_duration_seconds{command}"] > 0; tt.command0 && ran || tt.status < 125 && !ran {
				t.Errorf("command phase %v", m["monitoring_probe_phase_duration_seconds{command}"])
			}
			last := m["monitoring_probe_last_success_timestamp_seconds"]
			if tt.status == 0 && time.Since(time.Unix(int64(last), 0)) > time.Minute || tt.status != 0 && last != 0 {
				t.Errorf("last success %v after status %d", last, tt.status)
			}
		})
	}
}

// TestMetricsLastSuccess: the last real success survives failures and
// cache hits, with the cache and without it.
func TestMetricsLastSuccess(t *testing.T) {
	for _, withCache := range []bool{false, true} {
		t.Run(map[bool]string{false: "no cache", true: "cache"}[withCache], func(t *testing.T) {
			c := newCacheRun(t)
			path := filepath.Join(c.dir, "probe.prom")
			args := func(status int) []string {
				extra := []string{"-metrics-file=" + path}
				if !withCache {
					return append(c.flags(extra...), "--", "sh", "-c", "exit "+string(rune('0'+status)))
				}
				return c.args(status, extra...)
			}
			if r := runBinary(t, nil, args(0)...); r.status != 0 {
				t.Fatalf("status %d stderr %q", r.status, r.stderr)
			}
			first := probeMetrics(t, path)["monitoring_probe_last_success_timestamp_seconds"]
			if first == 0 {
				t.Fatal("no last success after a success")
			}
			if withCache {
				m := runAndRead(t, path, args(0))
				if m["monitoring_probe_cached"] != 1 || m["monitoring_probe_locate_attempts"] != 0 || m["monitoring_probe_success"] != 1 ||
					m["monitoring_probe_last_success_timestamp_seconds"] != first {
					t.Errorf("cache hit: %v; want cached, no attempt, success, last success %v", m, first)
				}
				checkPhases(t, m)
			}
			m := runAndRead(t, path, args(3))
			if m["monitoring_probe_success"] != 0 || m["monitoring_probe_last_success_timestamp_seconds"] != first {
				t.Errorf("after a failure: %v; want the last success %v kept", m, first)
			}
		})
	}
}

func runAndRead(t *testing.T, path string, args []string) map[string]float64 {
	t.Helper()
	runBinary(t, nil, args...)
	return probeMetrics(t, path)
}

func TestMetricsStale(t *testing.T) {
	c := newCacheRun(t)
	path := filepath.Join(c.dir, "probe.prom")
	args := c.args(0, "-cache-ttl=1s", "-stale-if-error=1h", "-timeout=2s", "-metrics-file="+path)
	if r := runBinary(t, nil, args...); r.status != 0 {
		t.Fatalf("status %d", r.status)
	}
	first := probeMetrics(t, path)["monitoring_probe_last_success_timestamp_seconds"]
	primed := time.Now()
	poll.Until(t, "the TTL to pass", func() bool { return time.Since(primed) > 1100*time.Millisecond })
	c.emu.Inject(status(http.StatusBadRequest, "application/json", `{"error":{"title":"Must provide access_token","status":400}}`))
	m := runAndRead(t, path, args)
	if m["monitoring_probe_stale"] != 1 || m["monitoring_probe_success"] != 1 || m["monitoring_probe_exit_code"] != 0 || m["monitoring_probe_cannot_run"] != 1 ||
		m["monitoring_probe_locate_http_status"] != 400 || m["monitoring_probe_locate_attempts"] != 1 ||
		m["monitoring_probe_last_success_timestamp_seconds"] != first {
		t.Errorf("stale run: %v", m)
	}
}

func TestMetricsSignalAndWriteFailure(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(f.dir, "probe.prom")
	// A command killed by a SIGTERM sent from elsewhere: the run exits
	// 143, and the file says so.
	cmd := osexec.Command(binary, append(f.flags("-metrics-file="+path), "--", "sh", "-c", "kill -TERM $$")...)
	cmd.Env = baseEnv()
	cmd.Run()
	if m := probeMetrics(t, path); m["monitoring_probe_exit_code"] != 143 || cmd.ProcessState.ExitCode() != 143 {
		t.Errorf("exit code %v, process %v; want 143 in both", m["monitoring_probe_exit_code"], cmd.ProcessState)
	}
	// A directory in the way: one line, the command's status.
	blocked := filepath.Join(f.dir, "dir.prom")
	os.MkdirAll(filepath.Join(blocked, "x"), 0o755)
	r := runBinary(t, nil, append(f.flags("-metrics-file="+blocked), "--", "sh", "-c", "exit 5")...)
	if r.status != 5 || strings.Count(r.stderr, "\n") != 2 || !strings.Contains(r.stderr, "status 5") || !strings.Contains(r.stderr, blocked) {
		t.Errorf("status %d stderr %q; want 5, the command's failure line and one naming the file", r.status, r.stderr)
	}
	// Not a .prom name: refused before anything runs.
	r = runBinary(t, nil, append(f.flags("-metrics-file="+filepath.Join(f.dir, "probe.txt")), "--", "true")...)
	if r.status != statusFailed || !strings.Contains(r.stderr, "does not end in .prom") {
		t.Errorf("status %d stderr %q", r.status, r.stderr)
	}
}

// TestMetricsKilledRun: a run killed at any moment leaves the previous
// file whole and no stray *.prom file.
func TestMetricsKilledRun(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(f.dir, "probe.prom")
	if r := runBinary(t, nil, append(f.flags("-metrics-file="+path), "--", "true")...); r.status != 0 {
		t.Fatalf("status %d", r.status)
	}
	before, _ := os.ReadFile(path)
	for i := range 20 {
		cmd := osexec.Command(binary, append(f.flags("-metrics-file="+path), "--", "true")...)
		cmd.Env = baseEnv()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill at moments spread over the run, from its start to its end.
		time.AfterFunc(time.Duration(i)*time.Millisecond, func() { cmd.Process.Signal(syscall.SIGKILL) })
		cmd.Wait()
		probeMetrics(t, path)
		proms, _ := filepath.Glob(filepath.Join(f.dir, "*.prom"))
		if len(proms) != 1 {
			t.Fatalf("after a kill: %v", proms)
		}
	}
	if after, _ := os.ReadFile(path); len(after) == 0 || len(before) == 0 {
		t.Errorf("the file is empty")
	}
}
