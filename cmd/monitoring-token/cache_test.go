package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/internal/poll"
)

// cacheRun is a fixture with a cache directory and a command that counts
// how often it ran.
type cacheRun struct {
	*fixture
	cacheDir string
	count    string // the command appends a line here each time it runs
}

func newCacheRun(t *testing.T) *cacheRun {
	t.Helper()
	f := newFixture(t)
	return &cacheRun{fixture: f, cacheDir: filepath.Join(f.dir, "cache"), count: filepath.Join(f.dir, "count")}
}

// args are the flags of a cached probe whose command counts its runs and
// exits with status.
func (c *cacheRun) args(status int, extra ...string) []string {
	args := c.flags(append([]string{"-cache-dir=" + c.cacheDir}, extra...)...)
	return append(args, "--", "sh", "-c", fmt.Sprintf("echo ran >> %s; exit %d", c.count, status))
}

// runs returns how many times the command ran.
func (c *cacheRun) runs(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(c.count)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "ran\n")
}

func TestCacheHitRunsNothing(t *testing.T) {
	c := newCacheRun(t)
	if r := runBinary(t, nil, c.args(0)...); r.status != 0 {
		t.Fatalf("first run: status %d stderr %q", r.status, r.stderr)
	}
	requests := c.emu.Requests()
	// The hit reads neither the key nor locate: it works with the key gone.
	if err := os.Rename(c.keyPath, c.keyPath+".gone"); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, nil, c.args(0, "-logx.debug")...)
	if r.status != 0 || !strings.Contains(r.stderr, "cached success of") || !strings.Contains(r.stderr, "kept until") {
		t.Errorf("second run: status %d stderr %q; want 0 and a debug line on the cached result", r.status, r.stderr)
	}
	if c.runs(t) != 1 || c.emu.Requests() != requests {
		t.Errorf("the hit ran the command (%d runs) or asked locate (%d requests, %d before)", c.runs(t), c.emu.Requests(), requests)
	}
	// Another command is another probe.
	other := c.flags("-cache-dir="+c.cacheDir, "--", "sh", "-c", "echo ran >> "+c.count)
	if err := os.Rename(c.keyPath+".gone", c.keyPath); err != nil {
		t.Fatal(err)
	}
	if r := runBinary(t, nil, other...); r.status != 0 || c.runs(t) != 2 {
		t.Errorf("a different command: status %d, %d runs; want its own probe", r.status, c.runs(t))
	}
}

func TestCacheExpiry(t *testing.T) {
	c := newCacheRun(t)
	args := c.args(0, "-cache-ttl=1s")
	if r := runBinary(t, nil, args...); r.status != 0 {
		t.Fatalf("status %d stderr %q", r.status, r.stderr)
	}
	// Within a second the result is served; after it, the probe runs again.
	poll.Until(t, "a probe after the TTL", func() bool {
		if r := runBinary(t, nil, args...); r.status != 0 {
			t.Fatalf("status %d stderr %q", r.status, r.stderr)
		}
		return c.runs(t) == 2
	})
}

func TestCacheKeepsNoFailure(t *testing.T) {
	c := newCacheRun(t)
	for i := 1; i <= 3; i++ {
		if r := runBinary(t, nil, c.args(3)...); r.status != 3 {
			t.Fatalf("run %d: status %d, want the command's 3", i, r.status)
		}
		if c.runs(t) != i {
			t.Fatalf("run %d: the command ran %d times; a failure must not be served from the cache", i, c.runs(t))
		}
	}
	// 125 from locate is not kept either.
	c.emu.Inject(status(http.StatusForbidden, "text/plain", "no"))
	if r := runBinary(t, nil, c.args(0)...); r.status != statusFailed {
		t.Fatalf("status %d, want %d", r.status, statusFailed)
	}
	if r := runBinary(t, nil, c.args(0)...); r.status != 0 || c.runs(t) != 4 {
		t.Errorf("after a locate failure: status %d, %d runs; want a new probe", r.status, c.runs(t))
	}
}

// blockedOnLock returns how many processes wait for the lock file in dir.
func blockedOnLock(t *testing.T, dir string) int {
	t.Helper()
	locks, _ := filepath.Glob(filepath.Join(dir, "*.lock"))
	if len(locks) != 1 {
		return 0
	}
	fi, err := os.Stat(locks[0])
	if err != nil {
		t.Fatal(err)
	}
	ino := fmt.Sprintf(":%d ", fi.Sys().(*syscall.Stat_t).Ino)
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "->") && strings.Contains(line, ino) {
			n++
		}
	}
	return n
}

func TestCacheOneProbeAtATime(t *testing.T) {
	for _, tt := range []struct {
		runs, status int
	}{{2, 0}, {10, 0}, {2, 3}, {10, 3}} {
		t.Run(fmt.Sprintf("%d runs, status %d", tt.runs, tt.status), func(t *testing.T) {
			c := newCacheRun(t)
			release := filepath.Join(c.dir, "release")
			// The probe holds on until every other run waits for it.
			args := c.flags("-cache-dir="+c.cacheDir, "--", "sh", "-c",
				fmt.Sprintf("echo ran >> %s; until [ -e %s ]; do sleep 0.01; done; exit %d", c.count, release, tt.status))
			results := make([]result, tt.runs)
			var wg sync.WaitGroup
			for i := range tt.runs {
				wg.Go(func() { results[i] = runBinary(t, nil, args...) })
			}
			poll.Until(t, "one probe and the other runs waiting", func() bool {
				return c.runs(t) == 1 && blockedOnLock(t, c.cacheDir) == tt.runs-1
			})
			if err := os.WriteFile(release, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			for i, r := range results {
				if r.status != tt.status {
					t.Errorf("run %d: status %d stderr %q; want the probe's %d", i, r.status, r.stderr, tt.status)
				}
			}
			if c.runs(t) != 1 || c.emu.Requests() != 1 {
				t.Errorf("%d probes and %d requests to locate, want 1 of each", c.runs(t), c.emu.Requests())
			}
			// A run that starts later uses a success, never a failure.
			later := runBinary(t, nil, args...)
			if want := map[bool]int{true: 1, false: 2}[tt.status == 0]; later.status != tt.status || c.runs(t) != want {
				t.Errorf("a later run: status %d, %d probes in all; want %d and %d", later.status, c.runs(t), tt.status, want)
			}
		})
	}
}

func TestCacheWaitTimesOut(t *testing.T) {
	c := newCacheRun(t)
	release := filepath.Join(c.dir, "release")
	t.Cleanup(func() { os.WriteFile(release, nil, 0o600) })
	slow := c.flags("-cache-dir="+c.cacheDir, "--", "sh", "-c", fmt.Sprintf("echo ran >> %s; until [ -e %s ]; do sleep 0.01; done", c.count, release))
	done := make(chan result, 1)
	go func() { done <- runBinary(t, nil, slow...) }()
	poll.Until(t, "the first probe", func() bool { return c.runs(t) == 1 })
	r := runBinary(t, nil, append(c.flags("-cache-dir="+c.cacheDir, "-timeout=1s"), slow[len(c.flags("-cache-dir="+c.cacheDir)):]...)...)
	if r.status != statusFailed || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "another run was still probing") {
		t.Errorf("status %d stderr %q; want %d and one line about the wait", r.status, r.stderr, statusFailed)
	}
	os.WriteFile(release, nil, 0o600)
	if first := <-done; first.status != 0 {
		t.Errorf("the probing run: status %d stderr %q", first.status, first.stderr)
	}
}

// TestCacheSurvivesKill: a run killed while it probes (holding the lock)
// blocks nobody, and the cache stays usable.
func TestCacheSurvivesKill(t *testing.T) {
	c := newCacheRun(t)
	if r := runBinary(t, nil, c.args(3)...); r.status != 3 {
		t.Fatalf("status %d", r.status)
	}
	release := filepath.Join(c.dir, "never")
	cmd := osexec.Command(binary, c.flags("-cache-dir="+c.cacheDir, "--", "sh", "-c", fmt.Sprintf("echo ran >> %s; until [ -e %s ]; do sleep 0.01; done", c.count, release))...)
	cmd.Env = baseEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the probe to run", func() bool { return c.runs(t) == 2 })
	cmd.Process.Kill()
	cmd.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	next := osexec.CommandContext(ctx, binary, c.args(0)...)
	next.Env = baseEnv()
	var stderr bytes.Buffer
	next.Stderr = &stderr
	if err := next.Run(); err != nil || stderr.Len() != 0 {
		t.Errorf("the run after the kill: %v, stderr %q", err, stderr.String())
	}
	if r := runBinary(t, nil, c.args(0)...); r.status != 0 || c.runs(t) != 3 {
		t.Errorf("then: status %d, %d runs; want a hit", r.status, c.runs(t))
	}
}

func TestCacheCorruptEntry(t *testing.T) {
	c := newCacheRun(t)
	if r := runBinary(t, nil, c.args(0)...); r.status != 0 {
		t.Fatalf("status %d", r.status)
	}
	entries, _ := filepath.Glob(filepath.Join(c.cacheDir, "*.json"))
	if len(entries) != 1 {
		t.Fatalf("entries %v", entries)
	}
	for _, garbage := range []string{"", "{", `{"v":99}`, "\x00\x01"} {
		if err := os.WriteFile(entries[0], []byte(garbage), 0o600); err != nil {
			t.Fatal(err)
		}
		before := c.runs(t)
		r := runBinary(t, nil, c.args(0, "-logx.debug")...)
		if r.status != 0 || c.runs(t) != before+1 || !strings.Contains(r.stderr, "treated as missing") {
			t.Errorf("entry %q: status %d, %d runs (was %d), stderr %q; want a probe and a debug line", garbage, r.status, c.runs(t), before, r.stderr)
		}
	}
}

func TestCacheUnusableDirectory(t *testing.T) {
	c := newCacheRun(t)
	// A regular file where the directory should be: even root cannot use it.
	if err := os.WriteFile(c.cacheDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, status := range []int{0, 3} {
		r := runBinary(t, nil, c.args(status)...)
		// A failed command adds its own line.
		lines := 1 + min(status, 1)
		if r.status != status || strings.Count(r.stderr, "\n") != lines || !strings.Contains(r.stderr, c.cacheDir) {
			t.Errorf("status %d stderr %q; want the probe's %d and %d lines, one naming %s", r.status, r.stderr, status, lines, c.cacheDir)
		}
	}
	if c.runs(t) != 2 {
		t.Errorf("the command ran %d times, want 2", c.runs(t))
	}
}

func TestCacheFilesAreOwnerOnly(t *testing.T) {
	c := newCacheRun(t)
	c.cacheDir = filepath.Join(c.dir, "a", "b")
	if r := runBinary(t, nil, c.args(0)...); r.status != 0 {
		t.Fatalf("status %d", r.status)
	}
	for _, dir := range []string{filepath.Join(c.dir, "a"), c.cacheDir} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want a 0700 directory", dir, fi.Mode(), err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(c.cacheDir, "*"))
	for _, f := range files {
		fi, err := os.Stat(f)
		b, _ := os.ReadFile(f)
		if err != nil || fi.Mode().Perm() != 0o600 || len(b) > 1024 || jwtPattern.Match(b) || bytes.Contains(b, []byte("access_token")) {
			t.Errorf("%s: mode %v, %d bytes; want 0600, small, no token", f, fi.Mode(), len(b))
		}
	}
}

// TestStaleIfError: after a recent success, a run that cannot ask locate
// exits 0 with one line saying why; configuration errors and the
// command's own failures never do.
func TestStaleIfError(t *testing.T) {
	tests := []struct {
		name   string
		inject []http.HandlerFunc
		closed bool // locate's address refuses connections
		want   string
	}{
		{name: "connection refused", closed: true, want: "connection refused"},
		{name: "HTTP 503 until the deadline", inject: repeat(100, status(http.StatusServiceUnavailable, "text/plain", "busy")), want: "HTTP 503"},
		{name: "HTTP 429 until the deadline", inject: repeat(100, status(http.StatusTooManyRequests, "", "")), want: "HTTP 429"},
		{name: "HTTP 400 as in January 2026", inject: []http.HandlerFunc{status(http.StatusBadRequest, "application/json", `{"error":{"title":"Must provide access_token","status":400}}`)}, want: "HTTP 400"},
		{name: "a proxy's page", inject: []http.HandlerFunc{status(http.StatusOK, "text/html", "<html>login</html>")}, want: "HTTP 200"},
		{name: "no answer in time", inject: repeat(10, hang), want: "no answer from locate within"},
		{name: "token refused", inject: []http.HandlerFunc{status(http.StatusUnauthorized, "", "")}, want: "HTTP 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCacheRun(t)
			args := c.args(0, "-cache-ttl=1s", "-stale-if-error=1h", "-timeout=2s")
			if r := runBinary(t, nil, args...); r.status != 0 {
				t.Fatalf("first run: status %d stderr %q", r.status, r.stderr)
			}
			primed := time.Now()
			poll.Until(t, "the TTL to pass", func() bool { return time.Since(primed) > 1100*time.Millisecond })
			c.emu.Inject(tt.inject...)
			if tt.closed {
				c.emu.Close()
			}
			r := runBinary(t, nil, args...)
			if r.status != 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "stale result") || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "ago") {
				t.Errorf("status %d stderr %q; want 0 and one line saying stale, how old, and %q", r.status, r.stderr, tt.want)
			}
			if c.runs(t) != 1 {
				t.Errorf("the command ran %d times", c.runs(t))
			}
			// Past the stale window the failure shows.
			c.emu.Inject(tt.inject...)
			tooOld := c.args(0, "-cache-ttl=1s", "-stale-if-error=1s", "-timeout=2s")
			if r := runBinary(t, nil, tooOld...); r.status != statusFailed || strings.Contains(r.stderr, "stale") {
				t.Errorf("past the window: status %d stderr %q; want %d", r.status, r.stderr, statusFailed)
			}
		})
	}
}

func TestStaleNeverForOwnFailures(t *testing.T) {
	c := newCacheRun(t)
	if r := runBinary(t, nil, c.args(0, "-cache-ttl=1s")...); r.status != 0 {
		t.Fatalf("status %d", r.status)
	}
	primed := time.Now()
	poll.Until(t, "the TTL to pass", func() bool { return time.Since(primed) > 1100*time.Millisecond })
	stale := []string{"-cache-ttl=1s", "-stale-if-error=1h"}
	if r := runBinary(t, nil, c.args(4, stale...)...); r.status != 4 {
		t.Errorf("the command's failure: status %d stderr %q, want 4", r.status, r.stderr)
	}
	os.Rename(c.keyPath, c.keyPath+".gone")
	if r := runBinary(t, nil, c.args(0, stale...)...); r.status != statusFailed || strings.Contains(r.stderr, "stale") {
		t.Errorf("a missing key: status %d stderr %q, want %d", r.status, r.stderr, statusFailed)
	}
	os.WriteFile(c.keyPath, []byte("{}"), 0o600)
	if r := runBinary(t, nil, c.args(0, stale...)...); r.status != statusFailed || strings.Contains(r.stderr, "stale") {
		t.Errorf("an invalid key: status %d stderr %q, want %d", r.status, r.stderr, statusFailed)
	}
}
