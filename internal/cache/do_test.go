package cache_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/internal/cache"
	"github.com/monitoring-token/monitoring-token/internal/poll"
)

// nobody is a uid other than the test's: root may give files to it.
const nobody = 65534

// probeWith is a probe that counts its calls and reports r.
func probeWith(calls *int, r cache.Report) func(context.Context) cache.Report {
	return func(context.Context) cache.Report { *calls++; return r }
}

// lockIsFree reports whether key's lock can be taken without waiting.
func lockIsFree(t *testing.T, c *cache.Cache, key string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	l, err := c.Lock(ctx, key)
	if errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	return !l.Waited
}

// TestDoReleasesTheLock: whatever Do did, the lock is free when it
// returns, in the same process (flock(2) locks belong to the open file,
// so a lock Do kept would make this Lock wait).
func TestDoReleasesTheLock(t *testing.T) {
	tests := []struct {
		name string
		// run calls Do on c in the way the row says and returns what it
		// served.
		run func(t *testing.T, c *cache.Cache) cache.Served
	}{
		{name: "probed and recorded", run: func(t *testing.T, c *cache.Cache) cache.Served {
			var calls int
			o, _ := c.Do(context.Background(), runKey, probeWith(&calls, cache.Report{Status: 3}))
			return o.Served
		}},
		{name: "stale", run: func(t *testing.T, c *cache.Cache) cache.Served {
			lockedRecord(t, c, runKey, 0, time.Now().Add(-2*runTTL))
			c.StaleIfError = time.Hour
			var calls int
			o, _ := c.Do(context.Background(), runKey, probeWith(&calls, cache.Report{Status: 125, Inconclusive: true}))
			return o.Served
		}},
		{name: "stopped by a signal", run: func(t *testing.T, c *cache.Cache) cache.Served {
			var calls int
			o, _ := c.Do(context.Background(), runKey, probeWith(&calls, cache.Report{Status: 143, Stopped: true}))
			return o.Served
		}},
		{name: "record failed", run: func(t *testing.T, c *cache.Cache) cache.Served {
			mkdir(t, c.Dir, runKey+".json.tmp")
			var calls int
			o, _ := c.Do(context.Background(), runKey, probeWith(&calls, cache.Report{Status: 0}))
			if !o.Unusable || o.Problem == nil {
				t.Errorf("Do with a directory where the temporary file goes: %+v, want a problem", o)
			}
			return o.Served
		}},
		{name: "shared another run's failure", run: func(t *testing.T, c *cache.Cache) cache.Served {
			return shareWith(t, c, 3)
		}},
		{name: "shared another run's success", run: func(t *testing.T, c *cache.Cache) cache.Served {
			return shareWith(t, c, 0)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cache.Cache{Dir: t.TempDir(), TTL: runTTL}
			served := tt.run(t, c)
			if !lockIsFree(t, c, runKey) {
				t.Errorf("Do served %v and kept the lock", served)
			}
		})
	}
}

// shareWith makes Do wait for a probe held by the test, which ends with
// status, and returns what Do served.
func shareWith(t *testing.T, c *cache.Cache, status int) cache.Served {
	t.Helper()
	held, err := c.Lock(context.Background(), runKey)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan cache.Outcome)
	var calls int
	go func() {
		o, err := c.Do(context.Background(), runKey, probeWith(&calls, cache.Report{Status: 99}))
		if err != nil {
			t.Error(err)
		}
		done <- o
	}()
	poll.Until(t, "Do to wait for the lock", func() bool { return lockWaiters(t, filepath.Join(c.Dir, runKey+".lock")) == 1 })
	if err := held.Record(status, time.Now()); err != nil {
		t.Fatal(err)
	}
	held.Unlock()
	o := <-done
	if o.Served != cache.Shared || o.Status != status || calls != 0 {
		t.Errorf("Do after another run's probe: %+v, %d probes; want shared status %d, no probe", o, calls, status)
	}
	return o.Served
}

// TestLoweredTTLKeepsTheLastSuccess: an entry written under a longer TTL
// is not fresh, but its last success answers for an inconclusive probe
// and is still the last success.
func TestLoweredTTLKeepsTheLastSuccess(t *testing.T) {
	now := fleetStart
	dir := t.TempDir()
	long := &cache.Cache{Dir: dir, TTL: time.Hour, Now: func() time.Time { return now }}
	success := now.Add(-time.Minute)
	lockedRecord(t, long, runKey, 0, success)
	var calls int
	if o, _ := long.Do(context.Background(), runKey, probeWith(&calls, cache.Report{Status: 3})); o.Served != cache.Hit {
		t.Fatalf("Do with the TTL it was stored with: %+v; want a hit", o)
	}

	short := &cache.Cache{Dir: dir, TTL: 10 * time.Minute, StaleIfError: time.Hour, Now: func() time.Time { return now }}
	if e, notes, err := short.Load(runKey); err != nil || e.Fresh(now) || !e.LastSuccess.Equal(success) || !strings.Contains(notes, "more than the TTL") {
		t.Errorf("Load with a lowered TTL: %+v, %q, %v; want not fresh, the last success %v and a note", e, notes, err, success)
	}
	o, err := short.Do(context.Background(), runKey, probeWith(&calls, cache.Report{Status: 125, Inconclusive: true}))
	if err != nil || calls != 1 || o.Served != cache.Stale || o.Status != 0 || !o.LastSuccess.Equal(success) {
		t.Errorf("Do with a lowered TTL and an inconclusive probe: %+v, %v, %d probes; want 1 probe, stale 0, last success %v", o, err, calls, success)
	}
	o, err = short.Do(context.Background(), runKey, probeWith(&calls, cache.Report{Status: 3}))
	if err != nil || calls != 2 || o.Served != cache.Probed || o.Status != 3 || !o.LastSuccess.Equal(success) {
		t.Errorf("Do with a lowered TTL and a failing probe: %+v, %v, %d probes; want probed 3, last success %v", o, err, calls, success)
	}
}

// plant writes a fresh success for runKey into dir, with the given owner
// and mode, and gives dir the owner and mode asked for.
func plant(t *testing.T, dir string, dirUID int, dirMode os.FileMode, entryUID int, entryMode os.FileMode) {
	t.Helper()
	lockedRecord(t, &cache.Cache{Dir: dir, TTL: runTTL}, runKey, 0, time.Now())
	entry := filepath.Join(dir, runKey+".json")
	for _, f := range []struct {
		path string
		uid  int
		mode os.FileMode
	}{{entry, entryUID, entryMode}, {dir, dirUID, dirMode}} {
		if err := os.Chown(f.path, f.uid, -1); err != nil {
			t.Skipf("cannot give %s to uid %d (the test runs as uid %d): %v", f.path, f.uid, os.Getuid(), err)
		}
		if err := os.Chmod(f.path, f.mode); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStrangersEntryIsNeverServed: a fresh success in a directory or file
// that someone else may have written counts as missing: the probe runs,
// and the problem names the directory.
func TestStrangersEntryIsNeverServed(t *testing.T) {
	me := os.Getuid()
	tests := []struct {
		name               string
		dirUID             int
		dirMode            os.FileMode
		entryUID           int
		entryMode          os.FileMode
		want               string // in the problem; "" for a hit
		unusable, recorded bool   // probed without the cache; the probe replaced the entry
	}{
		{name: "world-writable directory of another user", dirUID: nobody, dirMode: 0o777, entryUID: nobody, entryMode: 0o644, want: "is owned by uid 65534", unusable: true},
		{name: "our directory left 0777", dirUID: me, dirMode: 0o777, entryUID: nobody, entryMode: 0o644, want: "is writable by group or others (mode 0777)", unusable: true},
		{name: "our directory, group-writable", dirUID: me, dirMode: 0o770, entryUID: me, entryMode: 0o600, want: "writable by group or others", unusable: true},
		{name: "our 0700 directory of another user", dirUID: nobody, dirMode: 0o700, entryUID: me, entryMode: 0o600, want: "is owned by uid 65534", unusable: true},
		{name: "another user's entry in our directory", dirUID: me, dirMode: 0o700, entryUID: nobody, entryMode: 0o600, want: "is owned by uid 65534", recorded: true},
		{name: "our entry, writable by others", dirUID: me, dirMode: 0o700, entryUID: me, entryMode: 0o666, want: "writable by group or others (mode 0666)", recorded: true},
		{name: "control: our 0700 directory and 0600 entry", dirUID: me, dirMode: 0o700, entryUID: me, entryMode: 0o600},
		{name: "control: our 0755 directory and 0644 entry", dirUID: me, dirMode: 0o755, entryUID: me, entryMode: 0o644},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			plant(t, dir, tt.dirUID, tt.dirMode, tt.entryUID, tt.entryMode)
			c := &cache.Cache{Dir: dir, TTL: runTTL}
			if _, fresh := c.Fresh(runKey); fresh != (tt.want == "") {
				t.Errorf("Fresh: %v; want %v", fresh, tt.want == "")
			}
			var calls int
			o, err := c.Do(context.Background(), runKey, probeWith(&calls, cache.Report{Status: 3}))
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if o.Served != cache.Hit || calls != 0 || o.Problem != nil {
					t.Errorf("Do: %+v, %d probes; want the hit", o, calls)
				}
				return
			}
			if calls != 1 || o.Served != cache.Probed || o.Status != 3 || o.Unusable != tt.unusable ||
				o.Problem == nil || !strings.Contains(o.Problem.Error(), dir) || !strings.Contains(o.Problem.Error(), tt.want) {
				t.Fatalf("Do: %+v, %d probes; want the probe's 3, a problem naming %s with %q, unusable %v", o, calls, dir, tt.want, tt.unusable)
			}
			// Replaced by this run's own entry, or left alone.
			raw, err := os.ReadFile(filepath.Join(dir, runKey+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if recorded := strings.Contains(string(raw), `"status":3`); recorded != tt.recorded {
				t.Errorf("entry after the probe: %s; want the probe's status recorded: %v", raw, tt.recorded)
			}
		})
	}
}

// TestNoLockInAStrangersDirectory: a run does not wait on a lock in a
// directory it does not trust, where anyone could hold it forever.
func TestNoLockInAStrangersDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	plant(t, dir, nobody, 0o777, nobody, 0o644)
	f, err := os.OpenFile(filepath.Join(dir, runKey+".lock"), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	c := &cache.Cache{Dir: dir, TTL: runTTL}
	ctx, cancel := context.WithTimeout(context.Background(), poll.Deadline)
	defer cancel()
	var calls int
	o, err := c.Do(ctx, runKey, probeWith(&calls, cache.Report{Status: 3}))
	if err != nil || calls != 1 || o.Status != 3 || !o.Unusable {
		t.Errorf("Do with a stranger holding the lock: %+v, %v, %d probes; want the probe's 3 without the cache", o, err, calls)
	}
}

// TestSharedStatusKeepsWhoProducedIt: a run that waits for another's probe
// gets the status with who produced it, as the probe reported it, so that
// a command's own 125 stays apart from a probe that could not run.
func TestSharedStatusKeepsWhoProducedIt(t *testing.T) {
	for _, by := range []string{"cannot-run", "command"} {
		t.Run(by, func(t *testing.T) {
			c := &cache.Cache{Dir: t.TempDir(), TTL: runTTL}
			o, calls := shareProbe(t, c, c, cache.Report{Status: 125, By: by})
			if o.Served != cache.Shared || o.Status != 125 || o.By != by || calls != 0 {
				t.Errorf("the waiting run got %+v after %d probes; want the shared status 125 by %q", o, calls, by)
			}
		})
	}
}

// shareProbe runs a probe through c.Do that ends as first reports, and
// meanwhile waiter.Do (waiter shares c's directory), which waits for it.
// It returns what waiter.Do served and how many probes it made itself.
func shareProbe(t *testing.T, c, waiter *cache.Cache, first cache.Report) (cache.Outcome, int) {
	t.Helper()
	probing, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := c.Do(context.Background(), runKey, func(context.Context) cache.Report {
			close(probing)
			<-release
			return first
		})
		if err != nil {
			t.Error(err)
		}
	}()
	<-probing
	var calls int
	second := make(chan cache.Outcome)
	go func() {
		o, err := waiter.Do(context.Background(), runKey, probeWith(&calls, cache.Report{Status: 0}))
		if err != nil {
			t.Error(err)
		}
		second <- o
	}()
	poll.Until(t, "the second run to wait for the lock", func() bool { return lockWaiters(t, filepath.Join(c.Dir, runKey+".lock")) == 1 })
	close(release)
	<-done
	o := <-second
	return o, calls
}

// TestFresh: Fresh serves only a success that is still fresh, as Do's
// first step does, and never waits for the lock.
func TestFresh(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name     string
		status   int           // recorded, unless never
		age      time.Duration // of the recorded probe
		never    bool          // nothing recorded, no directory
		held     bool          // another run holds the lock
		want     bool
		wantLast time.Time
	}{
		{name: "fresh success", age: time.Minute, want: true, wantLast: now.Add(-time.Minute)},
		{name: "fresh success while another run probes", age: time.Minute, held: true, want: true, wantLast: now.Add(-time.Minute)},
		{name: "expired success", age: runTTL},
		{name: "failure", status: 3, age: time.Minute},
		{name: "no directory", never: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cache.Cache{Dir: filepath.Join(t.TempDir(), "cache"), TTL: runTTL}
			if !tt.never {
				lockedRecord(t, c, runKey, tt.status, now.Add(-tt.age))
			}
			if tt.held {
				l, err := c.Lock(context.Background(), runKey)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Unlock()
			}
			last, ok := c.Fresh(runKey)
			if ok != tt.want || !last.Equal(tt.wantLast) {
				t.Errorf("Fresh: %v, %v; want %v, %v", last, ok, tt.wantLast, tt.want)
			}
		})
	}
}

// TestSharedTimeoutNeedsTheSameLimit: a probe that ran out of its time
// limit is shared only with the runs whose limit is no longer; a run
// allowed longer probes for itself, holding the lock.
func TestSharedTimeoutNeedsTheSameLimit(t *testing.T) {
	for _, tt := range []struct {
		name        string
		timedOut    time.Duration // the first probe's Report.TimedOutAfter
		waiterLimit time.Duration
		wantServed  cache.Served
		wantStatus  int
		wantProbes  int
	}{
		{"the same limit", 10 * time.Second, 10 * time.Second, cache.Shared, 124, 0},
		{"a shorter limit", 10 * time.Second, 5 * time.Second, cache.Shared, 124, 0},
		{"a longer limit", 10 * time.Second, 60 * time.Second, cache.Probed, 0, 1},
		{"not timed out", 0, 60 * time.Second, cache.Shared, 124, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &cache.Cache{Dir: t.TempDir(), TTL: runTTL}
			waiter := *c
			waiter.Limit = tt.waiterLimit
			o, calls := shareProbe(t, c, &waiter, cache.Report{Status: 124, By: "timed-out", TimedOutAfter: tt.timedOut})
			if o.Served != tt.wantServed || o.Status != tt.wantStatus || calls != tt.wantProbes {
				t.Errorf("the waiting run got %+v after %d probes; want served %v, status %d, %d probes", o, calls, tt.wantServed, tt.wantStatus, tt.wantProbes)
			}
		})
	}
}
