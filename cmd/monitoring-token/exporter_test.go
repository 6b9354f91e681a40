package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/locate/locatetest"
	"github.com/monitoring-token/monitoring-token/token"
)

// scriptExporter stands in for ricoberger/script_exporter v3 running one
// script: a scrape's query parameters other than script go into the
// script's environment after the exporter's own, overriding it; with a
// timeout it sets SCRIPT_TIMEOUT, SCRIPT_DEADLINE and
// SCRIPT_TIMEOUT_ENFORCED and SIGKILLs the script (not its children) at
// the deadline.
type scriptExporter struct {
	command []string      // the script's command: and args:
	env     []string      // the exporter's own environment
	timeout time.Duration // the scrape's timeout less the offset
}

// scrape is one /probe?QUERY. It returns the script's exit code (-1 when a
// signal killed it, as v3 reports it), stdout and stderr.
func (e scriptExporter) scrape(t *testing.T, query string) (code int, stdout, stderr string) {
	t.Helper()
	params, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(e.timeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cmd := osexec.CommandContext(ctx, e.command[0], e.command[1:]...)
	cmd.Env = append([]string{}, e.env...)
	for name, values := range params {
		if name != "script" {
			cmd.Env = append(cmd.Env, name+"="+values[0])
		}
	}
	cmd.Env = append(cmd.Env,
		"SCRIPT_TIMEOUT="+strconv.FormatFloat(e.timeout.Seconds(), 'f', -1, 64),
		"SCRIPT_DEADLINE="+strconv.FormatFloat(float64(deadline.UnixNano())/1e9, 'f', 6, 64),
		"SCRIPT_TIMEOUT_ENFORCED=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if err != nil && !errors.As(err, new(*osexec.ExitError)) {
		t.Fatalf("run %v: %v", e.command, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// exporterLine is the script of the documented script_exporter v3
// configuration for an ndt7 probe, as the docs give it: every setting on
// the command line and -read-env=false, so that a scrape's parameters
// cannot redirect the token; the machine comes from ?target=.
const exporterLine = `exec monitoring-token -read-env=false -locate-url=https://locate.measurementlab.net/v2/platform/monitoring/ -monitoring-signer-key=/etc/monitoring-token/monitoring.jwk -machine="$target" -timeout=25s -kill-after=2s -metrics-file=- -- ndt7-client -quiet`

// TestScrapeCannotRedirectTheToken: a scrape that injects another locate,
// key, lifetime and -insecure through its parameters reaches nothing but
// the pinned locate with -read-env=false, and the probe passes; without
// the flag the same scrape sends the token to the injected host.
func TestScrapeCannotRedirectTheToken(t *testing.T) {
	f := newFixture(t)
	other, err := token.GenerateKey("EdDSA", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := filepath.Join(f.dir, "other.jwk")
	if err := os.WriteFile(otherKey, other.Private, 0o600); err != nil {
		t.Fatal(err)
	}
	injected, err := locatetest.Start("", other.Public)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { injected.Close() })

	stubs := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(stubs, "ndt7-client")); err != nil {
		t.Fatal(err)
	}
	// The command gets HOME, not STUB_LOG, under -read-env=false.
	stubLog := filepath.Join(f.dir, "clients.log")
	line := strings.NewReplacer(
		"https://locate.measurementlab.net/v2/platform/monitoring/", f.emu.URL,
		"/etc/monitoring-token/monitoring.jwk", f.keyPath,
	).Replace(exporterLine)
	query := url.Values{
		"script":                                 {"ndt7"},
		"target":                                 {machine},
		"MONITORING_TOKEN_LOCATE_URL":            {injected.URL},
		"LOCATE_URL":                             {injected.URL},
		"MONITORING_TOKEN_TOKEN_LIFETIME":        {"1h"},
		"MONITORING_SIGNER_KEY":                  {otherKey},
		"MONITORING_TOKEN_MONITORING_SIGNER_KEY": {otherKey},
		"MONITORING_TOKEN_INSECURE":              {"true"},
	}.Encode()
	exporter := func(line string) scriptExporter {
		return scriptExporter{
			command: []string{"sh", "-c", line},
			env:     append([]string{"PATH=" + stubs + ":" + binDir + ":" + os.Getenv("PATH"), "HOME=" + f.dir, "STUB_LOG=" + stubLog}, testEnv()...),
			timeout: 30 * time.Second,
		}
	}

	code, stdout, stderr := exporter(line).scrape(t, query)
	if code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, stderr)
	}
	if n := injected.Requests(); n != 0 {
		t.Errorf("%d requests reached the injected locate", n)
	}
	if f.emu.Requests() == 0 {
		t.Errorf("the pinned locate was not asked")
	}
	if got := strings.TrimSpace(readFile(t, stubLog)); got != "ndt7-client:ok:/ndt/v7/download" {
		t.Errorf("ndt7-client stand-in says %q", got)
	}
	if m := metricsOf(t, f, stdout); m["monitoring_probe_success"] != 1 {
		t.Errorf("monitoring_probe_success %v on stdout %q", m["monitoring_probe_success"], stdout)
	}

	// The flag keeps what the line does not pin: the token's lifetime.
	for _, tt := range []struct {
		line    string
		maxLife time.Duration
		minLife time.Duration
	}{
		{line: line, maxLife: 2 * time.Minute},
		{line: strings.Replace(line, " -read-env=false", "", 1), minLife: 30 * time.Minute},
	} {
		started := time.Now()
		_, _, stderr := exporter(strings.Replace(tt.line, " -locate-url", " -logx.debug -locate-url", 1)).scrape(t, query)
		_, described, _ := strings.Cut(stderr, "signed token: ")
		_, exp, ok := strings.Cut(described, " exp=")
		if !ok {
			t.Fatalf("no signed token in the debug log: %q", stderr)
		}
		expiry, err := time.Parse(time.RFC3339, strings.Fields(exp)[0])
		life := expiry.Sub(started)
		if err != nil || tt.maxLife != 0 && life > tt.maxLife || life < tt.minLife {
			t.Errorf("%s: token lives %v (%v); want %v to %v", tt.line, life.Round(time.Second), err, tt.minLife, tt.maxLife)
		}
	}

	// Configured from the environment, as without -read-env=false it may
	// be, the same scrape sends the token to the injected host.
	envConfigured := exporter(`exec monitoring-token -machine="$target" -metrics-file=- -- ndt7-client -quiet`)
	envConfigured.env = append(envConfigured.env, "LOCATE_URL="+f.emu.URL, "MONITORING_SIGNER_KEY="+f.keyPath)
	envConfigured.scrape(t, query)
	if injected.Requests() == 0 {
		t.Errorf("configured from the environment, the injection did not reach the injected locate either; the test proves nothing")
	}
}

// metricsOf parses text as the metrics file would be parsed.
func metricsOf(t *testing.T, f *fixture, text string) map[string]float64 {
	t.Helper()
	path := filepath.Join(f.dir, "stdout.prom")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return probeMetrics(t, path)
}

// TestMetricsOnStdout: -metrics-file - writes the metrics to stdout once
// the run ends, and the command's stdout never goes there.
func TestMetricsOnStdout(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name       string
		flags      []string
		script     string
		wantStatus int
		wantStderr []string
	}{
		{name: "success", script: "echo to-stdout", wantStatus: 0},
		{name: "failure", script: "echo to-stdout; exit 3", wantStatus: 3},
		{name: "shown output goes to stderr", flags: []string{"-show-output"}, script: "echo to-stdout; echo to-stderr >&2", wantStderr: []string{"to-stdout\n", "to-stderr\n"}},
		{name: "debug output goes to stderr", flags: []string{"-logx.debug"}, script: "echo to-stdout", wantStderr: []string{"to-stdout\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, nil, f.flags(append(tt.flags, "-metrics-file=-", "--", "sh", "-c", tt.script)...)...)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d; stderr %q", r.status, tt.wantStatus, r.stderr)
			}
			m := metricsOf(t, f, r.stdout)
			if m["monitoring_probe_exit_code"] != float64(tt.wantStatus) || m["monitoring_probe_success"] != boolFloat(tt.wantStatus == 0) {
				t.Errorf("exit code %v, success %v; want %d", m["monitoring_probe_exit_code"], m["monitoring_probe_success"], tt.wantStatus)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q lacks the command's %q", r.stderr, want)
				}
			}
		})
	}
}

func boolFloat(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}

// TestScriptDeadline: under a scrape deadline the run ends, with 124 and a
// line naming the deadline, before the exporter's SIGKILL at the deadline
// would end it (the wait below is bounded by that deadline).
func TestScriptDeadline(t *testing.T) {
	f := newFixture(t)
	exporter := scriptExporter{command: []string{binary}, env: baseEnv(), timeout: 6 * time.Second}
	exporter.command = append(exporter.command, f.flags("-timeout=60s", "--", "sleep", "30")...)
	code, _, stderr := exporter.scrape(t, "script=ndt7")
	if code != 124 {
		t.Fatalf("exit code %d (-1: the exporter's SIGKILL came first), stderr %q; want 124", code, stderr)
	}
	if !strings.Contains(stderr, "SCRIPT_DEADLINE") || !strings.Contains(stderr, "raise scrape_timeout") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q; want one line naming SCRIPT_DEADLINE and advising a larger scrape_timeout", stderr)
	}
}

// TestScriptDeadlineValues: a deadline already past refuses to run; one
// that is not a Unix time is warned about and ignored; one far off changes
// nothing. SCRIPT_DEADLINE is read with -read-env=false too.
func TestScriptDeadlineValues(t *testing.T) {
	f := newFixture(t)
	unix := func(d time.Duration) string {
		return strconv.FormatFloat(float64(time.Now().Add(d).UnixNano())/1e9, 'f', 6, 64)
	}
	tests := []struct {
		name       string
		deadline   string
		wantStatus int
		wantStderr string
		wantRun    bool
	}{
		{name: "past", deadline: unix(-time.Second), wantStatus: statusFailed, wantStderr: "nothing was run: raise scrape_timeout"},
		{name: "within the margin", deadline: unix(deadlineMargin / 2), wantStatus: statusFailed, wantStderr: "nothing was run"},
		{name: "not a time", deadline: "soon", wantStatus: 0, wantStderr: `monitoring-token: warning: SCRIPT_DEADLINE="soon" is not a Unix time; ignored` + "\n", wantRun: true},
		{name: "far off", deadline: unix(time.Hour), wantStatus: 0, wantRun: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, command := f.saveVar("SCRIPT_DEADLINE")
			os.Remove(out)
			r := runBinary(t, []string{"SCRIPT_DEADLINE=" + tt.deadline}, append(f.flags("-read-env=false"), command...)...)
			if r.status != tt.wantStatus || !strings.Contains(r.stderr, tt.wantStderr) || tt.wantStderr == "" && r.stderr != "" {
				t.Errorf("status %d stderr %q; want %d and %q", r.status, r.stderr, tt.wantStatus, tt.wantStderr)
			}
			if _, err := os.Stat(out); (err == nil) != tt.wantRun {
				t.Errorf("command ran: %v, want %v", err == nil, tt.wantRun)
			}
		})
	}
}

// TestFitDeadline: the deadline only ever shortens -timeout and
// -kill-after, and leaves the margin.
func TestFitDeadline(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	at := func(d time.Duration) string {
		return fmt.Sprintf("%.6f", float64(now.Add(d).UnixNano())/1e9)
	}
	tests := []struct {
		name                  string
		timeout, killAfter    time.Duration
		deadline              string
		wantTimeout, wantKill time.Duration
		wantCut, wantErr      bool
	}{
		{name: "Prometheus' default 10s scrape", timeout: 60 * time.Second, killAfter: 5 * time.Second, deadline: at(9500 * time.Millisecond), wantTimeout: 8100 * time.Millisecond, wantKill: 900 * time.Millisecond, wantCut: true},
		{name: "fits already", timeout: 20 * time.Second, killAfter: 2 * time.Second, deadline: at(25 * time.Second), wantTimeout: 20 * time.Second, wantKill: 2 * time.Second},
		{name: "exactly fits", timeout: 20 * time.Second, killAfter: 2 * time.Second, deadline: at(22*time.Second + deadlineMargin), wantTimeout: 20 * time.Second, wantKill: 2 * time.Second},
		{name: "kill-after pushes past it", timeout: 20 * time.Second, killAfter: 5 * time.Second, deadline: at(22*time.Second + deadlineMargin), wantTimeout: 19800 * time.Millisecond, wantKill: 2200 * time.Millisecond, wantCut: true},
		{name: "short kill-after kept", timeout: 60 * time.Second, killAfter: 100 * time.Millisecond, deadline: at(10*time.Second + deadlineMargin), wantTimeout: 9900 * time.Millisecond, wantKill: 100 * time.Millisecond, wantCut: true},
		{name: "past", timeout: time.Minute, killAfter: time.Second, deadline: at(-time.Second), wantTimeout: time.Minute, wantKill: time.Second, wantErr: true},
		{name: "not a number", timeout: time.Minute, killAfter: time.Second, deadline: "x", wantTimeout: time.Minute, wantKill: time.Second},
		{name: "NaN", timeout: time.Minute, killAfter: time.Second, deadline: "NaN", wantTimeout: time.Minute, wantKill: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config{timeout: tt.timeout, killAfter: tt.killAfter}
			err := cfg.fitDeadline(tt.deadline, now)
			if (err != nil) != tt.wantErr || cfg.timeout != tt.wantTimeout || cfg.killAfter != tt.wantKill || cfg.deadlineCut != tt.wantCut {
				t.Errorf("timeout %v kill-after %v cut %v err %v; want %v %v %v error %v", cfg.timeout, cfg.killAfter, cfg.deadlineCut, err, tt.wantTimeout, tt.wantKill, tt.wantCut, tt.wantErr)
			}
		})
	}
}

// TestReadEnvIsNotReadFromTheEnvironment: a variable cannot turn the
// environment off.
func TestReadEnvIsNotReadFromTheEnvironment(t *testing.T) {
	f := newFixture(t)
	env := []string{"LOCATE_URL=" + f.emu.URL, "MONITORING_SIGNER_KEY=" + f.keyPath, "MONITORING_TOKEN_MACHINE=" + machine, "MONITORING_TOKEN_READ_ENV=false"}
	if r := runBinary(t, env, "--", "true"); r.status != 0 {
		t.Errorf("status %d stderr %q; MONITORING_TOKEN_READ_ENV=false turned the environment off", r.status, r.stderr)
	}
}
