package cache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/internal/cache"
	"github.com/monitoring-token/monitoring-token/internal/poll"
)

// Environment of the test binary when it runs as a probe (see probeRun).
const (
	runDirEnv    = "CACHE_TEST_DIR"    // the cache directory; set: act as a probe run
	marksEnv     = "CACHE_TEST_MARKS"  // where the run leaves a file per probe
	statusEnv    = "CACHE_TEST_STATUS" // the probe's exit status
	pauseEnv     = "CACHE_TEST_PAUSE"  // where the run reads stdin to its end, see probeRun
	lockWaitEnv  = "CACHE_TEST_WAIT"   // how long the run waits for the lock
	pauseProbing = "probing"           // after taking the lock, before Record
	pauseRename  = "rename"            // in Record, between write and rename
)

// The runs' key and TTL.
var (
	runKey = cache.Key("https://locate.example/", "mlab1-abc01.mlab-oti.measurement-lab.org", "ndt/ndt7", "ndt7-client")
	runTTL = 10 * time.Minute
)

// TestMain lets the test binary be a probe run that several tests start at
// once or kill, as x/tools cmd/stringer's tests do.
func TestMain(m *testing.M) {
	if dir := os.Getenv(runDirEnv); dir != "" {
		os.Exit(probeRun(dir))
	}
	os.Exit(m.Run())
}

// probeRun probes through Do as monitoring-token does. It prints "hit",
// "shared" or "probed" and exits with the status it got. Where pauseEnv
// says, it reads stdin to its end first, so that a test decides when it
// goes on (or kills it).
func probeRun(dir string) int {
	status, _ := strconv.Atoi(os.Getenv(statusEnv))
	wait, _ := time.ParseDuration(os.Getenv(lockWaitEnv))
	c := &cache.Cache{Dir: dir, TTL: runTTL}
	pause := func(mark string) {
		if os.Getenv(pauseEnv) == mark {
			os.WriteFile(filepath.Join(os.Getenv(marksEnv), fmt.Sprintf("%s-%d", mark, os.Getpid())), nil, 0o600)
			io.Copy(io.Discard, os.Stdin)
		}
	}
	cache.SetBeforeRename(c, func() { pause(pauseRename) })
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	o, err := c.Do(ctx, runKey, func(context.Context) cache.Report {
		os.WriteFile(filepath.Join(os.Getenv(marksEnv), fmt.Sprintf("probe-%d", os.Getpid())), nil, 0o600)
		pause(pauseProbing)
		return cache.Report{Status: status}
	})
	if err == nil {
		err = o.Problem
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe run:", err)
		return 125
	}
	fmt.Println(map[cache.Served]string{cache.Hit: "hit", cache.Shared: "shared", cache.Probed: "probed", cache.Stale: "stale"}[o.Served])
	return o.Status
}

// probeProcess is a probe run in a process of its own.
type probeProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser // nil unless the run pauses
	stdout bytes.Buffer
	stderr bytes.Buffer
}

// startRun starts a probe run ending with status. With pause set it stops
// there until its stdin is closed.
func startRun(t *testing.T, dir, marks string, status int, pause string) *probeProcess {
	t.Helper()
	p := &probeProcess{cmd: exec.Command(os.Args[0], "-test.run=^$")}
	p.cmd.Env = append(os.Environ(),
		runDirEnv+"="+dir, marksEnv+"="+marks, statusEnv+"="+strconv.Itoa(status), pauseEnv+"="+pause,
		lockWaitEnv+"=30s", "GORACE=atexit_sleep_ms=0")
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if pause != "" {
		var err error
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// finish releases a paused run and returns what it printed and its status.
func (p *probeProcess) finish(t *testing.T) (said string, status int) {
	t.Helper()
	if p.stdin != nil {
		p.stdin.Close() // a second Close is harmless
	}
	err := p.cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return strings.TrimSpace(p.stdout.String()), p.cmd.ProcessState.ExitCode()
}

// marks counts the files whose name starts with prefix in dir.
func marks(t *testing.T, dir, prefix string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, prefix+"-*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// lockWaiters counts the processes blocked in flock(2) on the file at path,
// from /proc/locks, where a waiter's line has "->" after the number.
func lockWaiters(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	ino := ":" + strconv.FormatUint(fi.Sys().(*syscall.Stat_t).Ino, 10)
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(locks)) {
		f := strings.Fields(line)
		if len(f) > 6 && f[1] == "->" && f[2] == "FLOCK" && strings.HasSuffix(f[6], ino) {
			n++
		}
	}
	return n
}

// setUp returns a cache directory, a directory for the runs' marks, and a
// Cache on the first.
func setUp(t *testing.T) (dir, markDir string, c *cache.Cache) {
	t.Helper()
	dir, markDir = filepath.Join(t.TempDir(), "cache"), t.TempDir()
	return dir, markDir, &cache.Cache{Dir: dir, TTL: runTTL}
}

// lockedRecord records a probe's outcome as a run does, under the lock.
func lockedRecord(t testing.TB, c *cache.Cache, key string, status int, finished time.Time) {
	t.Helper()
	l, err := c.Lock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if err := l.Record(status, finished); err != nil {
		t.Fatal(err)
	}
}

func TestOverlappingRunsProbeOnce(t *testing.T) {
	tests := []struct {
		name   string
		runs   int
		status int
	}{
		{name: "two runs, success", runs: 2, status: 0},
		{name: "two runs, failure", runs: 2, status: 3},
		{name: "ten runs, success", runs: 10, status: 0},
		{name: "ten runs, failure", runs: 10, status: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, markDir, _ := setUp(t)
			var runs []*probeProcess
			for range tt.runs {
				runs = append(runs, startRun(t, dir, markDir, tt.status, pauseProbing))
			}
			// One run probes (and pauses), all the others wait for its lock.
			lock := filepath.Join(dir, runKey+".lock")
			poll.Until(t, "one probe and the other runs waiting for it", func() bool {
				return marks(t, markDir, "probe") == 1 && lockWaiters(t, lock) == tt.runs-1
			})
			for _, p := range runs {
				p.stdin.Close()
			}
			said := map[string]int{}
			for _, p := range runs {
				what, status := p.finish(t)
				said[what]++
				if status != tt.status {
					t.Errorf("a run that said %q exited %d, want the probe's %d; stderr: %s", what, status, tt.status, p.stderr.String())
				}
			}
			if want := map[string]int{"probed": 1, "shared": tt.runs - 1}; fmt.Sprint(said) != fmt.Sprint(want) {
				t.Errorf("runs said %v, want %v", said, want)
			}
			if n := marks(t, markDir, "probe"); n != 1 {
				t.Errorf("%d probes, want 1", n)
			}

			// A run that starts afterwards serves the success, or probes
			// again after a failure.
			what, status := startRun(t, dir, markDir, 0, "").finish(t)
			want, probes := "hit", 1
			if tt.status != 0 {
				want, probes = "probed", 2
			}
			if what != want || status != 0 || marks(t, markDir, "probe") != probes {
				t.Errorf("a later run said %q and exited %d, %d probes in all; want %q, 0, %d", what, status, marks(t, markDir, "probe"), want, probes)
			}
		})
	}
}

func TestLockWaitEndsWithContext(t *testing.T) {
	_, _, c := setUp(t)
	held, err := c.Lock(context.Background(), runKey)
	if err != nil {
		t.Fatal(err)
	}
	if held.Waited {
		t.Error("the first Lock says it waited")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error)
	go func() {
		_, err := c.Lock(ctx, runKey)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock on a held lock until the deadline: %v; want an error wrapping DeadlineExceeded", err)
		}
	case <-time.After(poll.Deadline):
		t.Fatalf("Lock still waiting %v after its deadline", poll.Deadline)
	}
	held.Unlock()
	l, err := c.Lock(context.Background(), runKey)
	if err != nil {
		t.Fatalf("Lock after the holder let go: %v", err)
	}
	l.Unlock()
}

func TestLockWaitsForTheHolder(t *testing.T) {
	dir, _, c := setUp(t)
	held, err := c.Lock(context.Background(), runKey)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *cache.Lock)
	go func() {
		l, err := c.Lock(context.Background(), runKey)
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	poll.Until(t, "the second Lock to wait", func() bool { return lockWaiters(t, filepath.Join(dir, runKey+".lock")) == 1 })
	select {
	case <-got:
		t.Fatal("Lock returned while another holds the lock")
	default:
	}
	held.Unlock()
	if l := <-got; l == nil || !l.Waited {
		t.Errorf("Lock after waiting: %+v, want a lock that says it waited", l)
	} else {
		l.Unlock()
	}
}

func TestLockNotInheritedByCommand(t *testing.T) {
	_, _, c := setUp(t)
	l, err := c.Lock(context.Background(), runKey)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	l.Unlock()
	// The command still runs: the lock is free only if it did not inherit it.
	ctx, cancel := context.WithTimeout(context.Background(), poll.Deadline)
	defer cancel()
	next, err := c.Lock(ctx, runKey)
	if err != nil {
		t.Fatalf("Lock while the first holder's command runs: %v", err)
	}
	if next.Waited {
		t.Error("Lock waited for the command of a run that unlocked")
	}
	next.Unlock()
}

func TestKilledRunLeavesUsableCache(t *testing.T) {
	tests := []struct {
		name    string
		pause   string
		wantTmp bool // the killed run left its temporary file
	}{
		{name: "killed holding the lock before writing", pause: pauseProbing},
		{name: "killed between write and rename", pause: pauseRename, wantTmp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, markDir, c := setUp(t)
			old := time.Now().Add(-2 * runTTL).UTC()
			lockedRecord(t, c, runKey, 0, old)

			p := startRun(t, dir, markDir, 0, tt.pause)
			poll.Until(t, "the run to reach "+tt.pause, func() bool { return marks(t, markDir, tt.pause) == 1 })
			if err := p.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			p.cmd.Wait()

			tmp := filepath.Join(dir, runKey+".json.tmp")
			if _, err := os.Stat(tmp); (err == nil) != tt.wantTmp {
				t.Errorf("temporary file after the kill: %v, want it there: %v", err, tt.wantTmp)
			}
			ctx, cancel := context.WithTimeout(context.Background(), poll.Deadline)
			defer cancel()
			l, err := c.Lock(ctx, runKey)
			if err != nil {
				t.Fatalf("Lock after the holder was killed: %v", err)
			}
			if l.Waited {
				t.Error("Lock waited for a killed holder")
			}
			l.Unlock()
			e, reason, err := c.Load(runKey)
			if err != nil || reason != "" || !e.LastSuccess.Equal(old) {
				t.Errorf("Load after the kill: %+v, %q, %v; want the entry from before, last success %v", e, reason, err, old)
			}

			if what, status := startRun(t, dir, markDir, 0, "").finish(t); what != "probed" || status != 0 {
				t.Fatalf("the next run said %q and exited %d, want probed and 0", what, status)
			}
			e, reason, err = c.Load(runKey)
			if err != nil || reason != "" || !e.Fresh(time.Now()) {
				t.Errorf("Load after the next run: %+v, %q, %v; want a fresh success", e, reason, err)
			}
			if _, err := os.Stat(tmp); err == nil {
				t.Error("the temporary file is still there after a Record")
			}
		})
	}
}

func TestStrayTemporaryFile(t *testing.T) {
	_, _, c := setUp(t)
	lockedRecord(t, c, runKey, 0, time.Now().Add(-time.Hour))
	// What a run killed while writing may leave: longer than an entry.
	if err := os.WriteFile(filepath.Join(c.Dir, runKey+".json.tmp"), bytes.Repeat([]byte("x"), 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	lockedRecord(t, c, runKey, 0, now)
	if e, reason, err := c.Load(runKey); err != nil || reason != "" || !e.LastSuccess.Equal(now) {
		t.Errorf("Load after Record over a stray temporary file: %+v, %q, %v; want the success at %v", e, reason, err, now)
	}
}

func TestRecordLoad(t *testing.T) {
	now := fleetStart
	dir := filepath.Join(t.TempDir(), "a", "b", "cache")
	c := &cache.Cache{Dir: dir, TTL: runTTL, Now: func() time.Time { return now }}

	e, reason, err := c.Load(runKey)
	if err != nil || reason == "" || e != (cache.Entry{}) {
		t.Fatalf("Load with no directory: %+v, %q, %v; want the zero entry and a reason", e, reason, err)
	}

	lockedRecord(t, c, runKey, 0, now)
	success := now
	e, reason, err = c.Load(runKey)
	if err != nil || reason != "" {
		t.Fatalf("Load after a success: %q, %v", reason, err)
	}
	if kept := e.Expires.Sub(now); 2*kept <= runTTL || kept > runTTL {
		t.Errorf("success kept %v, want more than half the TTL %v and at most the TTL", kept, runTTL)
	}
	want := cache.Entry{LastSuccess: now, Expires: e.Expires, Last: cache.Result{Status: 0, Finished: now}}
	if !e.LastSuccess.Equal(want.LastSuccess) || !e.Last.Finished.Equal(want.Last.Finished) || e.Last.Status != 0 {
		t.Errorf("Load after a success: %+v, want %+v", e, want)
	}
	if !e.Fresh(now) || !e.Fresh(e.Expires.Add(-1)) || e.Fresh(e.Expires) {
		t.Errorf("fresh from %v until just before %v: %v, %v, %v", now, e.Expires, e.Fresh(now), e.Fresh(e.Expires.Add(-1)), e.Fresh(e.Expires))
	}

	// A failure, even one recorded while the success is fresh, leaves
	// nothing fresh but keeps the time of the last success.
	now = now.Add(time.Minute)
	lockedRecord(t, c, runKey, 3, now)
	e, reason, err = c.Load(runKey)
	if err != nil || reason != "" || e.Fresh(now) || e.Last.Status != 3 || !e.Last.Finished.Equal(now) || !e.LastSuccess.Equal(success) {
		t.Errorf("Load after a failure: %+v, %q, %v; want not fresh, last status 3 at %v, last success still %v", e, reason, err, now, success)
	}

	// Owner-only, small, and only the fields of the format.
	for _, d := range []string{filepath.Dir(filepath.Dir(dir)), filepath.Dir(dir), dir} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("created directory %s: %v, %v; want mode 0700", d, fi.Mode(), err)
		}
	}
	for _, suffix := range []string{".json", ".lock"} {
		if fi, err := os.Stat(filepath.Join(dir, runKey+suffix)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("file %s: %v; want mode 0600", suffix, err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, runKey+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	if len(raw) >= 1024 || len(fields) != 3 || string(fields["v"]) != "1" || fields["last_success"] == nil || fields["last"] == nil {
		t.Errorf("entry after a failure (%d bytes): %s; want v 1, last_success and last", len(raw), raw)
	}
}

func TestUnusableEntryIsMissing(t *testing.T) {
	now := fleetStart
	at := func(d time.Duration) string { b, _ := now.Add(d).MarshalJSON(); return string(b) }
	valid := fmt.Sprintf(`{"v":1,"last_success":%s,"expires":%s,"last":{"status":0,"finished":%s}}`, at(-time.Minute), at(5*time.Minute), at(-time.Minute))
	tests := []struct {
		name    string
		content string
		reason  string
	}{
		{name: "garbage", content: "\x00\xffnot json", reason: "corrupt"},
		{name: "empty", content: "", reason: "corrupt"},
		{name: "truncated", content: valid[:len(valid)/2], reason: "corrupt"},
		{name: "version 99", content: strings.Replace(valid, `"v":1`, `"v":99`, 1), reason: "version 99"},
		{name: "no version", content: strings.Replace(valid, `"v":1,`, ``, 1), reason: "version 0"},
		{name: "success in the future", content: fmt.Sprintf(`{"v":1,"last_success":%s,"expires":%s}`, at(time.Second), at(5*time.Minute)), reason: "after now"},
		{name: "finish in the future", content: fmt.Sprintf(`{"v":1,"last":{"status":1,"finished":%s}}`, at(time.Second)), reason: "after now"},
		{name: "exit status out of range", content: strings.Replace(valid, `"status":0`, `"status":300`, 1), reason: "status 300"},
		{name: "larger than 1 KiB", content: valid + strings.Repeat(" ", 1024), reason: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := &cache.Cache{Dir: dir, TTL: runTTL, Now: func() time.Time { return now }}
			if err := os.WriteFile(filepath.Join(dir, runKey+".json"), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			e, reason, err := c.Load(runKey)
			if err != nil || e != (cache.Entry{}) || !strings.Contains(reason, tt.reason) || !strings.Contains(reason, "treated as missing") {
				t.Errorf("Load: %+v, %q, %v; want the zero entry and a reason with %q", e, reason, err, tt.reason)
			}
			// The next Record replaces it.
			lockedRecord(t, c, runKey, 0, now)
			if e, reason, err := c.Load(runKey); err != nil || reason != "" || !e.Fresh(now) {
				t.Errorf("Load after Record: %+v, %q, %v; want a fresh success", e, reason, err)
			}
		})
	}
	t.Run("control: valid", func(t *testing.T) {
		dir := t.TempDir()
		c := &cache.Cache{Dir: dir, TTL: runTTL, Now: func() time.Time { return now }}
		os.WriteFile(filepath.Join(dir, runKey+".json"), []byte(valid), 0o600)
		if e, reason, err := c.Load(runKey); err != nil || reason != "" || !e.Fresh(now) {
			t.Errorf("Load: %+v, %q, %v; want a fresh success", e, reason, err)
		}
	})
}

func TestUnusableDirectory(t *testing.T) {
	tests := []struct {
		name string
		// setUp makes the trouble in a temporary directory and returns the
		// cache directory to use.
		setUp func(t *testing.T, tmp string) string
		fails string // "load", "lock" or "record": the first call that fails
	}{
		{name: "a file where the directory should be", fails: "load", setUp: func(t *testing.T, tmp string) string {
			return writeFile(t, filepath.Join(tmp, "cache"))
		}},
		{name: "a file above the directory", fails: "load", setUp: func(t *testing.T, tmp string) string {
			return filepath.Join(writeFile(t, filepath.Join(tmp, "file")), "cache")
		}},
		{name: "a directory where the entry should be", fails: "load", setUp: func(t *testing.T, tmp string) string {
			return mkdir(t, tmp, runKey+".json")
		}},
		{name: "a directory where the lock should be", fails: "lock", setUp: func(t *testing.T, tmp string) string {
			return mkdir(t, tmp, runKey+".lock")
		}},
		{name: "a directory where the temporary file should be", fails: "record", setUp: func(t *testing.T, tmp string) string {
			return mkdir(t, tmp, runKey+".json.tmp")
		}},
		{name: "an immutable directory", fails: "lock", setUp: func(t *testing.T, tmp string) string {
			// chattr +i holds even for root, who ignores mode bits.
			if out, err := exec.Command("chattr", "+i", tmp).CombinedOutput(); err != nil {
				t.Skipf("chattr +i: %v %s", err, out)
			}
			t.Cleanup(func() { exec.Command("chattr", "-i", tmp).Run() })
			return tmp
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setUp(t, t.TempDir())
			c := &cache.Cache{Dir: dir, TTL: runTTL}
			failed := ""
			var err error
			if _, _, err = c.Load(runKey); err != nil {
				failed = "load"
			} else if l, lerr := c.Lock(context.Background(), runKey); lerr != nil {
				failed, err = "lock", lerr
			} else {
				if err = l.Record(0, time.Now()); err != nil {
					failed = "record"
				}
				l.Unlock()
			}
			if failed != tt.fails || !strings.Contains(fmt.Sprint(err), dir) {
				t.Errorf("%s failed: %v; want %s to fail naming %s", failed, err, tt.fails, dir)
			}
		})
	}
}

// writeFile makes an empty file at path and returns path.
func writeFile(t *testing.T, path string) string {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mkdir makes the directory name in dir and returns dir.
func mkdir(t *testing.T, dir, name string) string {
	t.Helper()
	if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestKey(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
	}{
		{name: "boundary moved", a: []string{"ab", "c"}, b: []string{"a", "bc"}},
		{name: "empty part", a: []string{"a", ""}, b: []string{"a"}},
		{name: "order", a: []string{"a", "b"}, b: []string{"b", "a"}},
		{name: "separator inside a part", a: []string{"a\x00b"}, b: []string{"a", "b"}},
		{name: "one argument or two", a: []string{"ndt7-client", "-format json"}, b: []string{"ndt7-client", "-format", "json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := cache.Key(tt.a...), cache.Key(tt.b...)
			if a == b {
				t.Errorf("Key(%q) == Key(%q) == %s", tt.a, tt.b, a)
			}
			if a != cache.Key(tt.a...) || len(a) != 64 {
				t.Errorf("Key(%q) = %s, then %s; want the same 64 hex digits", tt.a, a, cache.Key(tt.a...))
			}
		})
	}
}

func TestKeyNotFromKey(t *testing.T) {
	c := &cache.Cache{Dir: t.TempDir(), TTL: runTTL}
	for _, key := range []string{"", "../../etc/passwd", strings.Repeat("g", 64), runKey[:63]} {
		if _, _, err := c.Load(key); err == nil {
			t.Errorf("Load(%q) took a key not made by Key", key)
		}
		if _, err := c.Lock(context.Background(), key); err == nil {
			t.Errorf("Lock(%q) took a key not made by Key", key)
		}
	}
}

// BenchmarkHit is what a cache hit costs monitoring-token besides starting:
// make the key, open and check the directory, read the entry, compare times.
func BenchmarkHit(b *testing.B) {
	c := &cache.Cache{Dir: b.TempDir(), TTL: runTTL}
	parts := []string{"https://locate.measurementlab.net/", "mlab1-abc01.mlab-oti.measurement-lab.org", "ndt/ndt7", "wss:///ndt/v7/download", "SERVICE_URL", "ndt7-client", "-format=json", "-quiet"}
	lockedRecord(b, c, cache.Key(parts...), 0, time.Now())
	probe := func(context.Context) cache.Report { b.Fatal("not a hit"); return cache.Report{} }
	for b.Loop() {
		if o, err := c.Do(context.Background(), cache.Key(parts...), probe); err != nil || o.Served != cache.Hit {
			b.Fatalf("not a hit: %+v, %v", o, err)
		}
	}
}
