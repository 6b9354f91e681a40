package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// machineRun is a cached probe of a machine whose health the test sets:
// the command exits with the status in a file, so the cache key stays the
// same whatever the machine does.
type machineRun struct {
	*cacheRun
	health string // holds the command's exit status
}

func newMachineRun(t *testing.T) *machineRun {
	t.Helper()
	c := newCacheRun(t)
	return &machineRun{cacheRun: c, health: filepath.Join(c.dir, "health")}
}

// probe runs the binary with the machine's health at status.
func (m *machineRun) probe(t *testing.T, status int, extra ...string) result {
	t.Helper()
	if err := os.WriteFile(m.health, []byte(fmt.Sprint(status)), 0o600); err != nil {
		t.Fatal(err)
	}
	args := m.flags(append([]string{"-cache-dir=" + m.cacheDir, "-timeout=2s"}, extra...)...)
	return runBinary(t, nil, append(args, "--", "sh", "-c", fmt.Sprintf("echo ran >> %s; exit $(cat %s)", m.count, m.health))...)
}

// TestLoweredTTLKeepsTheLastSuccess: an entry written under -cache-ttl=1h
// is not fresh under a lower TTL, but during a locate outage its success
// is still served stale, and the metrics keep its time.
func TestLoweredTTLKeepsTheLastSuccess(t *testing.T) {
	m := newMachineRun(t)
	metricsFile := filepath.Join(m.dir, "probe.prom")
	if r := m.probe(t, 0, "-cache-ttl=1h", "-metrics-file="+metricsFile); r.status != 0 {
		t.Fatalf("first run: status %d stderr %q", r.status, r.stderr)
	}
	first := probeMetrics(t, metricsFile)["monitoring_probe_last_success_timestamp_seconds"]
	m.emu.Inject(repeat(100, status(http.StatusServiceUnavailable, "text/plain", "busy"))...)
	r := m.probe(t, 0, "-cache-ttl=10m", "-stale-if-error=1h", "-metrics-file="+metricsFile)
	if r.status != 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "stale result") {
		t.Errorf("with a lowered TTL during a locate outage: status %d stderr %q; want 0 and the stale line", r.status, r.stderr)
	}
	got := probeMetrics(t, metricsFile)
	if got["monitoring_probe_stale"] != 1 || got["monitoring_probe_last_success_timestamp_seconds"] != first || m.runs(t) != 1 {
		t.Errorf("metrics %v, %d runs of the command; want stale, the last success of the first run (%v), 1 run", got, m.runs(t), first)
	}
}

// TestStrangersCacheIsNeverServed: a fresh success that another user may
// have written (issue 18.7) is not served: the probe runs and reports the
// machine's real failure, with one line naming the directory. The tests
// run as root, which can give files to another uid (nobody, 65534).
func TestStrangersCacheIsNeverServed(t *testing.T) {
	const nobody = 65534
	me := os.Getuid()
	tests := []struct {
		name            string
		dirUID          int
		dirMode         os.FileMode
		entryUID        int
		entryMode       os.FileMode
		locateDown      bool
		want            int    // the exit status
		problem         string // in the line about the cache; "" for none
		commandRunsMore int
	}{
		{name: "world-writable directory of another user", dirUID: nobody, dirMode: 0o777, entryUID: nobody, entryMode: 0o644, want: 3, problem: "owned by uid 65534", commandRunsMore: 1},
		{name: "our directory left 0777", dirUID: me, dirMode: 0o777, entryUID: nobody, entryMode: 0o644, want: 3, problem: "writable by group or others", commandRunsMore: 1},
		{name: "our directory left 0777, locate down", dirUID: me, dirMode: 0o777, entryUID: nobody, entryMode: 0o644, locateDown: true, want: statusFailed, problem: "writable by group or others"},
		{name: "another user's entry in our directory", dirUID: me, dirMode: 0o700, entryUID: nobody, entryMode: 0o644, want: 3, problem: "owned by uid 65534", commandRunsMore: 1},
		{name: "control: our 0700 directory and 0600 entry", dirUID: me, dirMode: 0o700, entryUID: me, entryMode: 0o600, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMachineRun(t)
			if r := m.probe(t, 0); r.status != 0 {
				t.Fatalf("first run: status %d stderr %q", r.status, r.stderr)
			}
			entries, _ := filepath.Glob(filepath.Join(m.cacheDir, "*.json"))
			if len(entries) != 1 {
				t.Fatalf("entries %v", entries)
			}
			for _, f := range []struct {
				path string
				uid  int
				mode os.FileMode
			}{{entries[0], tt.entryUID, tt.entryMode}, {m.cacheDir, tt.dirUID, tt.dirMode}} {
				if err := os.Chown(f.path, f.uid, -1); err != nil {
					t.Skipf("cannot give %s to uid %d: %v", f.path, f.uid, err)
				}
				if err := os.Chmod(f.path, f.mode); err != nil {
					t.Fatal(err)
				}
			}
			if tt.locateDown {
				m.emu.Close()
			}
			r := m.probe(t, 3)
			var lines []string
			for line := range strings.Lines(r.stderr) {
				if strings.Contains(line, m.cacheDir) {
					lines = append(lines, line)
				}
			}
			if r.status != tt.want || m.runs(t) != 1+tt.commandRunsMore {
				t.Errorf("status %d, %d runs of the command, stderr %q; want %d and %d runs", r.status, m.runs(t), r.stderr, tt.want, 1+tt.commandRunsMore)
			}
			if tt.problem == "" && len(lines) != 0 || tt.problem != "" && (len(lines) != 1 || !strings.Contains(lines[0], tt.problem)) {
				t.Errorf("stderr %q; want one line naming %s with %q", r.stderr, m.cacheDir, tt.problem)
			}
		})
	}
}
