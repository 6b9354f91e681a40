package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/internal/poll"
	"github.com/monitoring-token/monitoring-token/locate/locatetest"
)

// The tests of issue 23: every verdict is the server's. A failure that
// belongs to locate, to another run or to the set-up must not be reported
// as the server's.

// TestAnswerChecked: an answer for another machine, or whose URLs carry no
// access_token, stops the run with 125 naming what was wrong, and the
// command does not run. The emulator's -service-addr still works.
func TestAnswerChecked(t *testing.T) {
	for _, tt := range []struct {
		name string
		emu  locatetest.Config
		want string // in stderr; "" for a run that succeeds
	}{
		{"another machine", locatetest.Config{AnswerMachine: "mlab2-lga01.mlab-oti.measurement-lab.org"}, `locate's answer is for machine "mlab2-lga01.mlab-oti.measurement-lab.org", not ` + machine},
		{"no access_token", locatetest.Config{URLsWithoutToken: true}, "the URL for MONITORING_URL carries no access_token"},
		{"service-addr", locatetest.Config{ServiceAddr: "127.0.0.1:4443"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureWith(t, tt.emu)
			ran := filepath.Join(f.dir, "ran")
			r := runBinary(t, nil, f.flags("--", "touch", ran)...)
			_, err := os.Stat(ran)
			if tt.want == "" {
				if r.status != 0 || err != nil {
					t.Errorf("status %d stderr %q, command ran: %v; want 0 and the command run", r.status, r.stderr, err == nil)
				}
				return
			}
			if r.status != statusFailed || !strings.Contains(r.stderr, tt.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("status %d stderr %q; want %d and one line with %q", r.status, r.stderr, statusFailed, tt.want)
			}
			if err == nil {
				t.Error("the command ran")
			}
		})
	}
}

// TestNoNearestServer: in locate-URL mode (-service-url=false, on the
// command line or from a shared environment) a service whose standard
// client tests the nearest server without a URL is refused with 125
// unless -env-name says which variable gets the locate URL; the stand-in
// client, which records whether SERVICE_URL was set, does not run.
func TestNoNearestServer(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name   string
		flags  []string
		env    []string
		status int
	}{
		{"ndt7 -service-url=false", []string{"-service-url=false"}, nil, statusFailed},
		{"ndt7 -service-url=false from the environment", nil, []string{"MONITORING_TOKEN_SERVICE_URL=false"}, statusFailed},
		{"ndt5 -service-url=false", []string{"-service=ndt/ndt5", "-service-url=false"}, nil, statusFailed},
		{"ndt7 -service-url=false -env-name", []string{"-service-url=false", "-env-name=LOCATE_REQUEST"}, nil, 0},
		{"wehe", []string{"-service=wehe/replay"}, nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			record := filepath.Join(t.TempDir(), "service_url")
			client := []string{"--", "sh", "-c", `echo "SERVICE_URL ${SERVICE_URL+set}" > ` + record}
			r := runBinary(t, tt.env, f.flags(append(tt.flags, client...)...)...)
			got, err := os.ReadFile(record)
			if tt.status == 0 {
				if r.status != 0 || string(got) != "SERVICE_URL \n" {
					t.Errorf("status %d stderr %q, the client recorded %q (%v); want 0 and SERVICE_URL unset", r.status, r.stderr, got, err)
				}
				return
			}
			if r.status != tt.status || !strings.Contains(r.stderr, "would test the server nearest to it") {
				t.Errorf("status %d stderr %q; want %d and the nearest server named", r.status, r.stderr, tt.status)
			}
			if err == nil {
				t.Errorf("the client ran, and recorded %q", got)
			}
		})
	}
}

// TestSmallerItems: a bare number in a duration flag gets a unit hint; a
// locate host that does not resolve is named with the attempt count and
// advice; names a process needs are refused as variables for the URL; an
// unparseable LOGX_DEBUG is warned about and the probe runs.
func TestSmallerItems(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name   string
		env    []string
		flags  []string
		status int
		want   []string // in stderr
	}{
		{"bare -timeout", nil, []string{"-timeout", "5"}, statusFailed, []string{`invalid value "5" for flag -timeout: 5 has no unit; add one, e.g. 5s`}},
		{"bare from a variable", []string{"MONITORING_TOKEN_KILL_AFTER=2"}, nil, statusFailed, []string{"MONITORING_TOKEN_KILL_AFTER", "2 has no unit; add one, e.g. 2s"}},
		{"no such host", nil, []string{"-locate-url=https://locate.invalid/v2/platform/monitoring/"}, statusFailed, []string{"locate's host name locate.invalid does not resolve (1 attempt, not retried)", "check the host of -locate-url"}},
		{"-env-name PATH", nil, []string{"-env-name=PATH"}, statusFailed, []string{"-env-name PATH is a variable processes need"}},
		{"-export LD_PRELOAD", nil, []string{"-export=LD_PRELOAD=wss:///ndt/v7/download"}, statusFailed, []string{"-export LD_PRELOAD is a variable processes need"}},
		{"-export-all HOME", nil, []string{"-export-all=HOME"}, 0, nil}, // HOME_WSS_… is not HOME
		{"-token-env-name HOME", nil, []string{"-token-env-name=HOME"}, statusFailed, []string{"-token-env-name HOME is a variable processes need"}},
		{"LOGX_DEBUG=yes", []string{"LOGX_DEBUG=yes"}, nil, 0, []string{`warning: LOGX_DEBUG="yes" is not true or false; ignored`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, append([]string{"MONITORING_SIGNER_KEY=" + f.keyPath}, tt.env...), f.flags(append(tt.flags, "--", "true")...)...)
			if r.status != tt.status {
				t.Errorf("status %d, want %d; stderr %q", r.status, tt.status, r.stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q lacks %q", r.stderr, want)
				}
			}
		})
	}
}

// TestSlowLocateIsNotTheServers: -timeout bounds the whole run. A command
// stopped by it after locate (the emulator's delay) used more than a tenth
// of it is 125, and the line says how long locate took; with a quick
// locate a hung command is the server's 124. The exporter's deadline stays
// a hard cap and follows the same rule.
func TestSlowLocateIsNotTheServers(t *testing.T) {
	const delay = 1200 * time.Millisecond
	for _, tt := range []struct {
		name   string
		delay  time.Duration
		flags  []string
		env    func() []string
		status int
		want   string
	}{
		{"slow locate", delay, []string{"-timeout=6s"}, nil, statusFailed, "before the command started (locate took 1.2"},
		{"quick locate", 0, []string{"-timeout=5s"}, nil, 124, "timed out"},
		{"slow locate under the exporter's deadline", delay, []string{"-timeout=60s", "-kill-after=1s"}, func() []string {
			return []string{fmt.Sprintf("SCRIPT_DEADLINE=%.3f", float64(time.Now().Add(6*time.Second).UnixMilli())/1000)}
		}, statusFailed, "the exporter's SCRIPT_DEADLINE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each row has its own emulator and files
			f := newFixtureWith(t, locatetest.Config{Delay: tt.delay})
			var env []string
			if tt.env != nil {
				env = tt.env()
			}
			prom := filepath.Join(t.TempDir(), "probe.prom")
			r := runBinary(t, env, f.flags(append(tt.flags, "-metrics-file="+prom, "--", "sleep", "30")...)...)
			if r.status != tt.status || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, fmt.Sprintf("exit status %d", tt.status)) {
				t.Errorf("status %d stderr %q; want %d and %q", r.status, r.stderr, tt.status, tt.want)
			}
			// Cut short by locate's time is could-not-run, not the
			// server's hang, in the metrics too.
			m := probeMetrics(t, prom)
			if cannot, hung := m["monitoring_probe_cannot_run"] == 1, m["monitoring_probe_timed_out"] == 1; cannot != (tt.status == statusFailed) || hung != (tt.status == 124) {
				t.Errorf("metrics cannot_run %v timed_out %v for status %d", m["monitoring_probe_cannot_run"], m["monitoring_probe_timed_out"], tt.status)
			}
			if tt.status == statusFailed && !strings.Contains(r.stderr, "locate took 1.2") {
				t.Errorf("stderr %q does not say how long locate took", r.stderr)
			}
		})
	}
}

// TestCacheSharesOnlyTheMachinesStatus: with -cache-dir, a run cut by its
// own short SCRIPT_DEADLINE (124) does not hand that status to a run with
// a longer deadline that waited for it: the waiting run probes for itself.
func TestCacheSharesOnlyTheMachinesStatus(t *testing.T) {
	c := newCacheRun(t)
	// The same command, so the same probe; HANG makes the first one hang.
	args := c.flags("-cache-dir="+c.cacheDir, "-kill-after=1s", "--", "sh", "-c", fmt.Sprintf(`echo ran >> %s; [ -z "$HANG" ] || sleep 30`, c.count))
	deadline := func(d time.Duration) string {
		return fmt.Sprintf("SCRIPT_DEADLINE=%.3f", float64(time.Now().Add(d).UnixMilli())/1000)
	}
	short := make(chan result, 1)
	go func() { short <- runBinary(t, []string{"HANG=1", deadline(6 * time.Second)}, args...) }()
	poll.Until(t, "the short run's probe", func() bool { return c.runs(t) == 1 })
	long := make(chan result, 1)
	go func() { long <- runBinary(t, []string{deadline(50 * time.Second)}, args...) }()
	poll.Until(t, "the long run waiting", func() bool { return blockedOnLock(t, c.cacheDir) == 1 })
	if r := <-short; r.status != 124 || !strings.Contains(r.stderr, "the exporter's SCRIPT_DEADLINE") {
		t.Errorf("the short run: status %d stderr %q; want 124, cut by its deadline", r.status, r.stderr)
	}
	if r := <-long; r.status != 0 || r.stderr != "" {
		t.Errorf("the long run: status %d stderr %q; want 0 from its own probe", r.status, r.stderr)
	}
	if c.runs(t) != 2 {
		t.Errorf("%d probes, want 2: the long run probes for itself", c.runs(t))
	}
}

// TestCacheSharesATimeoutOnlyWithinItsLimit: a probe stopped by its own
// -timeout (124) is not handed to a waiting run allowed a longer -timeout,
// which probes for itself; a run with the same -timeout takes the 124.
func TestCacheSharesATimeoutOnlyWithinItsLimit(t *testing.T) {
	for _, tt := range []struct {
		name       string
		waiter     string // the waiting run's -timeout
		wantStatus int
		wantProbes int
	}{
		{"a longer -timeout probes for itself", "-timeout=60s", 0, 2},
		{"the same -timeout shares the 124", "-timeout=5s", 124, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each row has its own emulator and cache
			c := newCacheRun(t)
			// The same probe for both runs; HANG makes the first one hang.
			args := func(timeout string) []string {
				return c.flags("-cache-dir="+c.cacheDir, timeout, "-kill-after=1s", "--", "sh", "-c", fmt.Sprintf(`echo ran >> %s; [ -z "$HANG" ] || sleep 30`, c.count))
			}
			first := make(chan result, 1)
			go func() { first <- runBinary(t, []string{"HANG=1"}, args("-timeout=5s")...) }()
			poll.Until(t, "the first run's probe", func() bool { return c.runs(t) == 1 })
			second := make(chan result, 1)
			go func() { second <- runBinary(t, nil, args(tt.waiter)...) }()
			poll.Until(t, "the second run waiting", func() bool { return blockedOnLock(t, c.cacheDir) == 1 })
			if r := <-first; r.status != 124 {
				t.Errorf("the first run: status %d stderr %q; want 124", r.status, r.stderr)
			}
			if r := <-second; r.status != tt.wantStatus {
				t.Errorf("the waiting run: status %d stderr %q; want %d", r.status, r.stderr, tt.wantStatus)
			}
			if n := c.runs(t); n != tt.wantProbes {
				t.Errorf("%d probes, want %d", n, tt.wantProbes)
			}
		})
	}
}

// TestFailureLineKeepsTheReason: a client that prints why it failed and
// then a long summary (as ndt7-client does) keeps the reason in the
// failure line, within the same ten lines, tokens redacted.
func TestFailureLineKeepsTheReason(t *testing.T) {
	f := newFixture(t)
	script := `printf '\rstarting download\rdownload failed: websocket: bad handshake %s\n' "$MONITORING_URL"; i=1; while [ $i -le 15 ]; do echo "summary $i"; i=$((i+1)); done; exit 1`
	r := runBinary(t, nil, f.flags("--", "sh", "-c", script)...)
	want := `its output ended with: "download failed: websocket: bad handshake `
	if r.status != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, `\n...\nsummary 8\n`) || !strings.HasSuffix(r.stderr, `summary 15"`+"\n") {
		t.Errorf("status %d stderr %q; want 1, the reason, then the last lines", r.status, r.stderr)
	}
	if strings.Contains(r.stderr, "summary 7") || !strings.Contains(r.stderr, "REDACTED") {
		t.Errorf("stderr %q: more than ten lines, or the token not redacted", r.stderr)
	}
}
