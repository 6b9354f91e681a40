package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/internal/poll"
	"github.com/monitoring-token/monitoring-token/locate/locatetest"
	"github.com/monitoring-token/monitoring-token/token"
)

// runWithin runs the binary with args as runBinary does, but kills it at
// limit and fails the test if it had not ended by then: for runs whose
// -timeout is far longer than limit and that must end long before it.
func runWithin(t *testing.T, limit time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := osexec.CommandContext(ctx, binary, args...)
	cmd.Env = baseEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("run %v still going after %v (stderr %q)", args, limit, stderr.String())
	}
	if err != nil && !errors.As(err, new(*osexec.ExitError)) {
		t.Fatalf("run %v: %v", args, err)
	}
	status, sig := statusOf(cmd.ProcessState)
	return result{status: status, signal: sig, stdout: stdout.String(), stderr: stderr.String()}
}

// TestLocateDownFailsFast: a locate that refuses connections or keeps
// failing is given up after 3 attempts, long before -timeout, and the one
// line names the cause exactly; one that never answers is given up at
// -timeout, which the line names.
func TestLocateDownFailsFast(t *testing.T) {
	busy := status(http.StatusServiceUnavailable, "text/plain", "busy")
	tests := []struct {
		name    string
		closed  bool // locate's address refuses connections
		inject  []http.HandlerFunc
		timeout string
		want    *regexp.Regexp
	}{
		{name: "connection refused", closed: true, timeout: "60s", want: regexp.MustCompile(`^monitoring-token: locate refused the connection \(3 attempts\): GET http://127\.0\.0\.1:\d+/v2/platform/monitoring/ndt/ndt7: .*connection refused\n$`)},
		{name: "HTTP 503", inject: repeat(10, busy), timeout: "60s", want: regexp.MustCompile(`^monitoring-token: locate answered HTTP 503 \(3 attempts\): GET http://`)},
		{name: "no answer", inject: repeat(10, hang), timeout: "1s", want: regexp.MustCompile(`^monitoring-token: no answer from locate within [0-9.]+m?s \(1 attempt\): GET http://`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.emu.Inject(tt.inject...)
			if tt.closed {
				f.emu.Close()
			}
			r := runWithin(t, 20*time.Second, f.flags("-timeout="+tt.timeout, "--", "true")...)
			if r.status != statusFailed || !tt.want.MatchString(r.stderr) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("status %d stderr %q; want %d and one line matching %s", r.status, r.stderr, statusFailed, tt.want)
			}
			if jwtPattern.MatchString(r.stderr) {
				t.Errorf("stderr %q holds a token", r.stderr)
			}
		})
	}
}

// TestStaleIfErrorLocateDown: with locate refusing connections,
// -stale-if-error gives the stale success after the 3 attempts, not after
// -timeout.
func TestStaleIfErrorLocateDown(t *testing.T) {
	c := newCacheRun(t)
	args := c.args(0, "-cache-ttl=1s", "-stale-if-error=1h", "-timeout=60s")
	if r := runBinary(t, nil, args...); r.status != 0 {
		t.Fatalf("first run: status %d stderr %q", r.status, r.stderr)
	}
	primed := time.Now()
	poll.Until(t, "the TTL to pass", func() bool { return time.Since(primed) > 1100*time.Millisecond })
	c.emu.Close()
	r := runWithin(t, 20*time.Second, args...)
	want := regexp.MustCompile(`^monitoring-token: stale result: .*locate refused the connection \(3 attempts\)`)
	if r.status != 0 || !want.MatchString(r.stderr) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("status %d stderr %q; want 0 and one line matching %s", r.status, r.stderr, want)
	}
}

// clockFixture is an emulator whose clock runs offset ahead of this
// host's, and a key it trusts; with wrongKey, the key file holds another
// key, whose kid the emulator does not know.
func clockFixture(t *testing.T, offset time.Duration, wrongKey bool) *fixture {
	t.Helper()
	trusted, err := token.GenerateKey("EdDSA", "trusted", 0)
	if err != nil {
		t.Fatal(err)
	}
	used := trusted
	if wrongKey {
		if used, err = token.GenerateKey("EdDSA", "other", 0); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "monitoring.jwk")
	if err := os.WriteFile(keyPath, used.Private, 0o600); err != nil {
		t.Fatal(err)
	}
	emu, err := locatetest.Config{VerifyKeys: [][]byte{trusted.Public}, ClockOffset: offset}.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return &fixture{emu: emu, keyPath: keyPath, keyID: used.KeyID, dir: dir}
}

// TestUnauthorizedSaysWhy: locate's 401 (from m-lab/access's verifier,
// which allows no leeway) is put down to this host's clock, with the
// figure, when the clock is that far behind, and to the key otherwise.
func TestUnauthorizedSaysWhy(t *testing.T) {
	tests := []struct {
		name     string
		offset   time.Duration
		wrongKey bool
		want     *regexp.Regexp
		notWant  string
	}{
		{name: "75 s behind", offset: 75 * time.Second, want: regexp.MustCompile(`\(HTTP 401\); this host's clock is 7[4-6] s behind locate's; tokens live 1m0s \(-token-lifetime\), so locate takes them for expired`), notWant: "kid"},
		{name: "clocks agree, unknown kid", wrongKey: true, want: regexp.MustCompile(`\(HTTP 401\); this host's clock agrees with locate's .*, so check that locate holds the public key for kid "other"`), notWant: "behind"},
		{name: "10 s behind, unknown kid", offset: 10 * time.Second, wrongKey: true, want: regexp.MustCompile(`\(HTTP 401\); this host's clock is (9|10|11) s behind locate's, but tokens live 1m0s \(-token-lifetime\), so the clock is not why: check that locate holds the public key for kid "other"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clockFixture(t, tt.offset, tt.wrongKey)
			r := runBinary(t, nil, f.flags("--", "true")...)
			if r.status != statusFailed || !tt.want.MatchString(r.stderr) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("status %d stderr %q; want %d and one line matching %s", r.status, r.stderr, statusFailed, tt.want)
			}
			if tt.notWant != "" && strings.Contains(r.stderr, tt.notWant) {
				t.Errorf("stderr %q says %q", r.stderr, tt.notWant)
			}
		})
	}
}

// TestDebugShowsClock: -logx.debug shows how this host's clock compares
// with locate's on every run, a successful one included.
func TestDebugShowsClock(t *testing.T) {
	tests := []struct {
		offset time.Duration
		want   *regexp.Regexp
	}{
		{offset: 0, want: regexp.MustCompile(`locate answered HTTP 200 dated \S+: this host's clock agrees with locate's`)},
		{offset: 30 * time.Second, want: regexp.MustCompile(`locate answered HTTP 200 dated \S+: this host's clock is (29|30|31) s behind locate's`)},
		{offset: -30 * time.Second, want: regexp.MustCompile(`locate answered HTTP 200 dated \S+: this host's clock is (29|30|31) s ahead of locate's`)},
	}
	for _, tt := range tests {
		t.Run(tt.offset.String(), func(t *testing.T) {
			f := clockFixture(t, tt.offset, false)
			r := runBinary(t, nil, f.flags("-logx.debug", "--", "true")...)
			if r.status != 0 || !tt.want.MatchString(r.stderr) {
				t.Errorf("status %d stderr %q; want 0 and a line matching %s", r.status, r.stderr, tt.want)
			}
		})
	}
}
