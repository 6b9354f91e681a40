// Package cache keeps the outcome of monitoring-token's probes in a
// directory, so that a probe scraped every minute runs only once per TTL,
// only one run at a time probes a given key, and the time of the last real
// success survives failures.
//
// # Protocol
//
// One call, [Cache.Do], runs it, as singleflight's Group.Do does for the
// goroutines of one process, here across processes and replicas: the caller
// hands over the probe, and Do decides who probes, who waits and what the
// runs that waited get:
//
//   - a fresh success is served at once, without taking the lock;
//   - otherwise the run takes the key's lock, waiting while another run
//     holds it; if that run's probe finished after this run began (called
//     Do), this run exits with its status, failures included (a run that
//     begins after a failure finished never uses it);
//   - otherwise the run probes, holding the lock, and records the outcome;
//   - a probe that could not test the machine (Report.Inconclusive: locate
//     failed) is answered with the last success instead, if that success
//     is younger than StaleIfError; that is not recorded;
//   - a status that is the probing run's own, not the machine's
//     (Report.Stopped, Report.Own) is not recorded either, so no other
//     run exits with it;
//   - a probe that ran out of its time limit (Report.TimedOutAfter) is
//     shared only with the runs whose own limit (Cache.Limit) is no
//     longer: a run allowed longer probes for itself.
//
// The lock is released when Do returns, on every path.
//
// [Cache.Fresh] is the first step alone, for a caller that has set-up of
// its own to do before it probes or waits (a deadline, a signal watch) and
// that a fresh success does not need: it asks Fresh, does that set-up on a
// miss, then calls Do, which begins again from the first step.
//
// # Files and trust
//
// Each key has two files in the directory: KEY.json, a small entry written
// atomically (a temporary file KEY.json.tmp, fsync, rename), and KEY.lock,
// which runs hold with flock(2) while they probe. An entry holds times, an
// exit status and who produced it, never a token. Failures are never fresh:
// they are kept only so that runs that waited for that probe can exit with
// its status.
//
// Whoever can write to the directory can put an entry of their own in
// place of ours, so Do trusts the directory, and so its locks and entries,
// only if it is owned by the user running the probe and not writable by
// group or others, as ssh does for ~/.ssh; otherwise it probes without the
// cache. It trusts an entry only if that user owns it and group and
// others cannot write it; otherwise the entry counts as missing and the
// probe's outcome replaces it. Directories Do creates are 0700, files 0600.
//
// # Expiry
//
// A success is kept for more than half the TTL and at most the TTL. Each
// key has a phase, the hash of the key modulo the TTL, on a clock grid that
// all processes and replicas share (Unix time modulo the TTL). A success is
// kept until the key's first phase point more than half a TTL later; if the
// phase point comes sooner, until a quarter TTL after that point (but always
// more than half the TTL), so that the next success, finishing within a
// quarter TTL of that expiry, is kept until the following phase point.
//
// So after a fleet's probes all succeed at once (an exporter restart, an
// emptied cache), each key probes again within the TTL, and from then on
// once per TTL on its own phase: the fleet is spread as evenly as the hashes
// are. That holds while the scrape interval plus a probe's duration stays
// under a quarter of the TTL. TestFleetSpread checks it on a fake clock:
// 500 keys scraped once a minute with a TTL of 10 minutes for a day, probes
// of up to 50 s, every 5-minute window from the second TTL on within 30% of
// the mean of 250 probes (218 to 282 were measured). The obvious
// alternatives fail: the same delay for every key keeps the fleet in step,
// a fixed period per key drifts into clumps, and a phase modulo half the
// TTL crowds the fleet into one half of every TTL.
//
// An entry whose expiry lies more than the current TTL after its success
// was written under a longer TTL (a deploy lowered it). It is not fresh,
// so the key probes again at once and gets an expiry under the new TTL,
// but its last success still counts for StaleIfError and for the metrics:
// a locate outage during the deploy does not turn into failures.
package cache

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// version is the format of the entries this package writes and reads.
const version = 1

// maxEntrySize bounds an entry; a larger file is not one of ours.
const maxEntrySize = 1024

// Key returns the key of a probe made of parts: the hex SHA-256 of the
// parts, each prefixed with its length so that ("ab", "c") and ("a", "bc")
// differ.
func Key(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		io.WriteString(h, p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Result is how a probe ended.
type Result struct {
	Status int `json:"status"` // exit status, 0 for success
	// By says who produced Status, in the caller's words (see
	// Report.By); "" in entries written before it was kept.
	By       string    `json:"by,omitempty"`
	Finished time.Time `json:"finished"` // when the probe ended
	// TimedOutAfter is the time limit the probe ran out of (see
	// Report.TimedOutAfter); zero when it did not.
	TimedOutAfter time.Duration `json:"timed_out_after,omitempty"`
}

// Entry is what the cache knows about one key. The zero Entry is a key
// never probed.
type Entry struct {
	// LastSuccess is when a probe of the key last succeeded, zero if none
	// did; failures leave it alone.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// Expires is when the last success stops being fresh; zero after a
	// failure.
	Expires time.Time `json:"expires,omitzero"`
	// Last is the last probe that finished, success or failure. Only runs
	// that overlapped that probe may use a failure (see Do).
	Last Result `json:"last,omitzero"`
}

// Fresh reports whether the entry holds a success that may be served at
// now instead of probing.
func (e Entry) Fresh(now time.Time) bool { return now.Before(e.Expires) }

// record puts the outcome of a probe of key into e, choosing the expiry of
// a success with the rule in the package documentation.
func (e *Entry) record(key string, r Report, ttl time.Duration) {
	status, finished := r.Status, r.Finished
	e.Last = Result{Status: status, By: r.By, Finished: finished, TimedOutAfter: r.TimedOutAfter}
	e.Expires = time.Time{}
	if status == 0 {
		e.LastSuccess = finished
		e.Expires = expiry(finished, ttl, phase(key, ttl))
	}
}

// phase is key's point on the grid of period ttl, from the key's own hash.
func phase(key string, ttl time.Duration) time.Duration {
	h, _ := strconv.ParseUint(key[:16], 16, 64) // Key is hex, checked by path
	return time.Duration(h % uint64(ttl))
}

// expiry is when a success that finished at t stops being fresh, for a key
// with the given phase: in (t+ttl/2, t+ttl].
func expiry(t time.Time, ttl, phase time.Duration) time.Time {
	half := ttl / 2
	// next is how far the next phase point lies after t, in (0, ttl].
	next := time.Duration(((int64(phase)-t.UnixNano())%int64(ttl) + int64(ttl)) % int64(ttl))
	if next == 0 {
		next = ttl
	}
	if next > half {
		return t.Add(next)
	}
	// The phase point is too near: keep the success until a quarter TTL
	// after it, so that the next success, finishing up to a quarter TTL
	// later, is less than half a TTL past the point and lands on the next.
	return t.Add(max(next+ttl/4, half+1))
}

// Cache is a directory of entries. Its methods may be called from several
// processes at once.
type Cache struct {
	Dir string        // created with mode 0700, parents included, on the first miss
	TTL time.Duration // how long a success may be served; must be positive
	// StaleIfError is how long after the last success an inconclusive
	// probe is answered with that success; zero never.
	StaleIfError time.Duration
	// Now is the clock entries are checked against; nil means time.Now.
	Now func() time.Time
	// Debugf, if not nil, is told what Do found and did, for a debug log.
	Debugf func(format string, args ...any)
	// Limit is how long this run's probe may take: Do does not share the
	// status of another run's probe that ran out of a shorter limit (see
	// Report.TimedOutAfter).
	Limit time.Duration

	beforeRename func() // test hook: record calls it between write and rename
}

func (c *Cache) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Cache) debugf(format string, args ...any) {
	if c.Debugf != nil {
		c.Debugf(format, args...)
	}
}

// Report is how the probe that Do runs ended.
type Report struct {
	Status int // exit status, 0 for success
	// By says who produced Status, in the caller's words: a probe's
	// command may exit with the status that a wrapper uses for its own
	// failures. It is recorded with the status and given to the runs that
	// share it.
	By       string
	Finished time.Time // when the probe ended; zero means when it returned
	// Inconclusive says the probe could not test the machine (locate
	// failed), so a success younger than StaleIfError may answer instead.
	Inconclusive bool
	// Stopped says a signal ended the probe: it is not recorded, and the
	// runs that waited for it probe for themselves.
	Stopped bool
	// Own says the status is the probing run's own, not the machine's (its
	// own deadline cut the probe short, or it could not run the command):
	// like Stopped, it is not recorded, so the runs that waited for it
	// probe for themselves, each within its own deadline.
	Own bool
	// TimedOutAfter, when not zero, says the probe ran out of a time limit
	// of that length: the runs that waited for it take its status only if
	// their own Cache.Limit is no longer; the others probe for themselves,
	// since a probe allowed longer might have ended otherwise.
	TimedOutAfter time.Duration
}

// Served says where a run's status came from.
type Served int

const (
	// Probed: this run probed; the status is its probe's.
	Probed Served = iota
	// Hit: a fresh success was served without probing.
	Hit
	// Shared: the status of the probe another run made while this run
	// waited for it.
	Shared
	// Stale: this run's probe was inconclusive, and the last success,
	// younger than StaleIfError, was served instead.
	Stale
)

// Outcome is what Do did.
type Outcome struct {
	Served Served
	// Status is the exit status to report: the probe's, the other run's,
	// or 0 for a hit or a stale success.
	Status int
	// By is who produced a Shared status, as its Report said ("" from an
	// entry written before that was kept).
	By string
	// LastSuccess is when a probe of the key last succeeded, this run's
	// included; zero when none is known.
	LastSuccess time.Time
	// Problem is the first thing about the cache that the run could not
	// use, for one line to the operator; nil if none. With Unusable set
	// the run probed without the cache (a directory that is missing its
	// trust, or a file in the way); otherwise one entry counted as missing.
	Problem  error
	Unusable bool
}

// errDistrusted marks an entry that someone else may have written.
var errDistrusted = errors.New("not trusted")

// Fresh returns when a probe of key last succeeded if that success is
// fresh, so that it may be served without probing: one open, one fstat and
// one read, without the lock. It says nothing about what it could not use;
// Do, called next on a miss, reads the entry again and reports that.
func (c *Cache) Fresh(key string) (lastSuccess time.Time, ok bool) {
	root, err := c.open()
	if root == nil || err != nil {
		return time.Time{}, false
	}
	defer root.Close()
	quiet := *c
	quiet.Debugf = nil
	e, err := quiet.load(root, key)
	if err != nil || !e.Fresh(c.now()) {
		return time.Time{}, false
	}
	c.debugf("cached success of %s, kept until %s", e.LastSuccess.Format(time.RFC3339), e.Expires.Format(time.RFC3339))
	return e.LastSuccess, true
}

// Do answers a probe of key: it serves a fresh success, or waits for the
// run that is probing key and shares its status, or calls probe with ctx,
// holding key's lock, and records what it reports. See the package
// documentation.
//
// The error is not nil only when ctx ended while Do waited for another
// run's probe; it wraps context.Cause(ctx). A cache that cannot be used is
// reported in Outcome.Problem, and the probe runs without it.
func (c *Cache) Do(ctx context.Context, key string, probe func(ctx context.Context) Report) (o Outcome, err error) {
	began := c.now()
	root, err := c.open()
	if root != nil {
		defer root.Close()
	}
	var e Entry
	if err == nil {
		e, err = c.load(root, key)
	}
	if errors.Is(err, errDistrusted) {
		o.Problem, err = err, nil
	}
	if err == nil && e.Fresh(c.now()) {
		c.debugf("cached success of %s, kept until %s", e.LastSuccess.Format(time.RFC3339), e.Expires.Format(time.RFC3339))
		return Outcome{Served: Hit, LastSuccess: e.LastSuccess, Problem: o.Problem}, nil
	}

	if err != nil {
		return c.without(ctx, err, e, probe), nil
	}
	if root == nil {
		if root, err = c.create(); err != nil {
			return c.without(ctx, err, e, probe), nil
		}
		defer root.Close()
	}
	l, err := c.lock(ctx, root, key)
	if ctx.Err() != nil && err != nil {
		return o, err
	}
	if err != nil {
		return c.without(ctx, err, e, probe), nil
	}
	defer l.unlock()
	if l.Waited {
		c.debugf("waited for another run's probe")
	}
	// Whatever happened while this run waited is in the entry now.
	e, err = c.load(root, key)
	if errors.Is(err, errDistrusted) {
		o.Problem = cmp.Or(o.Problem, err)
	} else if err != nil {
		return c.without(ctx, err, e, probe), nil
	}
	o.LastSuccess = e.LastSuccess
	if e.Last.Finished.After(began) {
		c.debugf("another run's probe ended with status %d at %s", e.Last.Status, e.Last.Finished.Format(time.RFC3339))
		if c.shares(e.Last) {
			o.Served, o.Status, o.By = Shared, e.Last.Status, e.Last.By
			return o, nil
		}
		c.debugf("that probe ran out of %v, less than this run's %v: probing", e.Last.TimedOutAfter, c.Limit)
	}

	r := c.run(ctx, probe)
	o.Status = r.Status
	if r.Status == 0 {
		o.LastSuccess = r.Finished
	}
	if r.Inconclusive && c.stale(e, r) {
		o.Served, o.Status = Stale, 0
		return o, nil
	}
	if r.Stopped || r.Own {
		return o, nil
	}
	if err := l.record(r); err != nil {
		o.Problem, o.Unusable = cmp.Or(o.Problem, err), true
	}
	return o, nil
}

// run calls probe and fills in when it finished.
func (c *Cache) run(ctx context.Context, probe func(context.Context) Report) Report {
	r := probe(ctx)
	if r.Finished.IsZero() {
		r.Finished = c.now()
	}
	return r
}

// shares reports whether this run takes the result of a probe another run
// made while it waited: not one that ran out of a shorter time limit.
func (c *Cache) shares(r Result) bool {
	return r.TimedOutAfter == 0 || r.TimedOutAfter >= c.Limit
}

// stale reports whether e's last success may answer for the inconclusive
// probe r.
func (c *Cache) stale(e Entry, r Report) bool {
	return c.StaleIfError > 0 && !e.LastSuccess.IsZero() && r.Finished.Sub(e.LastSuccess) < c.StaleIfError
}

// without probes with no cache, which failed with err; e is what it knew.
func (c *Cache) without(ctx context.Context, err error, e Entry, probe func(context.Context) Report) Outcome {
	o := Outcome{Served: Probed, LastSuccess: e.LastSuccess, Problem: err, Unusable: true}
	r := c.run(ctx, probe)
	o.Status = r.Status
	if r.Status == 0 {
		o.LastSuccess = r.Finished
	}
	return o
}

// path is the file of key with the given suffix, relative to the directory.
func (c *Cache) path(key, suffix string) (string, error) {
	if len(key) != 2*sha256.Size {
		return "", fmt.Errorf("cache key %q is not from Key", key)
	}
	if _, err := hex.DecodeString(key); err != nil {
		return "", fmt.Errorf("cache key %q is not from Key", key)
	}
	return key + suffix, nil
}

// open opens the directory if it can be trusted; a nil root and no error
// mean there is no directory yet.
func (c *Cache) open() (*os.Root, error) {
	root, err := os.OpenRoot(c.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open cache directory: %w", err)
	}
	fi, err := root.Stat(".")
	if err == nil {
		if why := untrusted(fi); why != "" {
			err = fmt.Errorf("directory %s %s, so anyone may have written its entries; make it this user's with mode 0700", c.Dir, why)
		}
	} else {
		err = fmt.Errorf("open cache directory %s: %w", c.Dir, err)
	}
	if err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

// create makes the directory, 0700 and its parents too, and opens it.
func (c *Cache) create() (*os.Root, error) {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create cache directory: %w", err)
	}
	root, err := c.open()
	if err == nil && root == nil {
		err = fmt.Errorf("open cache directory %s: %w", c.Dir, fs.ErrNotExist)
	}
	return root, err
}

// untrusted says why the file or directory fi may hold what another user
// wrote: it is theirs, or group or others may write it; "" if neither.
func untrusted(fi fs.FileInfo) string {
	uid := os.Getuid()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != uid {
		return fmt.Sprintf("is owned by uid %d, not by this user (uid %d)", st.Uid, uid)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Sprintf("is writable by group or others (mode %04o)", perm)
	}
	return ""
}

// entryFile is the JSON of an entry on disk.
type entryFile struct {
	V int `json:"v"`
	Entry
}

// load reads key's entry from root without taking the lock: one open, one
// fstat and one read. An entry that is missing, corrupt, of another
// version or dated after now is returned as the zero Entry, with a debug
// line; one written under a longer TTL loses its expiry only. An entry
// that another user may have written is the zero Entry with an error
// wrapping errDistrusted. Other errors are for a cache that cannot be
// read, such as a directory where the entry should be. A nil root has no
// entries.
func (c *Cache) load(root *os.Root, key string) (Entry, error) {
	name, err := c.path(key, ".json")
	if err != nil {
		return Entry{}, err
	}
	path := filepath.Join(c.Dir, name)
	if root == nil {
		c.debugf("cache: no entry %s", path)
		return Entry{}, nil
	}
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		c.debugf("cache: no entry %s", path)
		return Entry{}, nil
	}
	if err != nil {
		return Entry{}, fmt.Errorf("read cache entry %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Entry{}, fmt.Errorf("read cache entry %s: %w", path, err)
	}
	if why := untrusted(fi); why != "" && fi.Mode().IsRegular() {
		return Entry{}, fmt.Errorf("entry %s %s, so it is %w and counts as missing", path, why, errDistrusted)
	}
	var buf [maxEntrySize + 1]byte
	n, err := io.ReadFull(f, buf[:])
	switch {
	case err == nil:
		c.debugf("cache: entry %s is larger than %d bytes; treated as missing", path, maxEntrySize)
		return Entry{}, nil
	case err != io.EOF && err != io.ErrUnexpectedEOF:
		return Entry{}, fmt.Errorf("read cache entry %s: %w", path, err)
	}
	var ef entryFile
	var reason string
	if err := json.Unmarshal(buf[:n], &ef); err != nil {
		reason = fmt.Sprintf("is corrupt (%v)", err)
	} else {
		reason = c.check(ef)
	}
	if reason != "" {
		c.debugf("cache: entry %s %s; treated as missing", path, reason)
		return Entry{}, nil
	}
	if ef.Expires.After(ef.LastSuccess.Add(c.TTL)) {
		c.debugf("cache: entry %s expires more than the TTL (%v) after its success, so it is not fresh; its last success counts", path, c.TTL)
		ef.Expires = time.Time{}
	}
	return ef.Entry, nil
}

// check says what is wrong with an entry read from disk, if anything.
func (c *Cache) check(ef entryFile) string {
	now := c.now()
	switch {
	case ef.V != version:
		return fmt.Sprintf("has version %d, not %d", ef.V, version)
	case ef.Last.Status < 0 || ef.Last.Status > 255:
		return fmt.Sprintf("holds exit status %d", ef.Last.Status)
	case ef.LastSuccess.After(now) || ef.Last.Finished.After(now):
		return "is dated after now"
	}
	return ""
}

// lock is a key's lock, held by one run at a time across processes.
type lock struct {
	// Waited reports that another run held the lock when it was asked for.
	Waited bool

	c    *Cache
	root *os.Root
	key  string
	f    *os.File
}

// lock takes key's lock in root, waiting while another run holds it,
// until ctx is done; then the error wraps context.Cause(ctx). A killed
// holder never blocks the next run: the kernel drops its lock, and the
// lock file is close-on-exec, so the probe's command does not inherit it.
func (c *Cache) lock(ctx context.Context, root *os.Root, key string) (*lock, error) {
	name, err := c.path(key, ".lock")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(c.Dir, name)
	f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open cache lock %s: %w", path, err)
	}
	l := &lock{c: c, root: root, key: key, f: f}
	err = flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		l.Waited = true
		done := make(chan error, 1)
		// flock(2) cannot be cancelled: on ctx's end this goroutine is left
		// to close the file, which drops the lock if it was granted.
		go func() { done <- flock(f, syscall.LOCK_EX) }()
		select {
		case err = <-done:
		case <-ctx.Done():
			go func() { <-done; f.Close() }()
			return nil, fmt.Errorf("wait for another run's probe (lock %s): %w", path, context.Cause(ctx))
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return l, nil
}

// flock is flock(2) on f, restarted when a signal interrupts it.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// unlock releases the lock. The lock must not be used afterwards.
func (l *lock) unlock() { l.f.Close() }

// record stores the outcome of the probe that the holder of the lock ran:
// its exit status and when it finished. A success also sets LastSuccess
// and a new expiry; a failure makes the entry stale. Only a probe's own
// outcome belongs here, not a stale or cached result.
func (l *lock) record(r Report) error {
	c := l.c
	if c.TTL <= 0 {
		return fmt.Errorf("cache TTL %v is not positive", c.TTL)
	}
	e, err := c.load(l.root, l.key) // an unusable entry is replaced
	if err != nil && !errors.Is(err, errDistrusted) {
		return err
	}
	r.Finished = r.Finished.UTC()
	e.record(l.key, r, c.TTL)
	b, err := json.Marshal(entryFile{V: version, Entry: e})
	if err != nil {
		return err
	}
	name, _ := c.path(l.key, ".json")
	path := filepath.Join(c.Dir, name)
	// Only the holder of the lock writes, so the temporary file can have a
	// fixed name: one left by a killed run is overwritten, never read. Its
	// mode is set again in case an earlier one was not ours alone. (With
	// renameio's random names, as metrics.Write has, every killed run
	// would leave a file that no later run removes.)
	tmp := name + ".tmp"
	f, err := l.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write cache entry %s: %w", path, err)
	}
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write cache entry %s: %w", path, err)
	}
	if c.beforeRename != nil {
		c.beforeRename()
	}
	if err := l.root.Rename(tmp, name); err != nil {
		return fmt.Errorf("write cache entry %s: %w", path, err)
	}
	// Syncing the directory makes the rename itself durable; without it a
	// power cut may bring back the previous entry, which is harmless.
	if d, err := l.root.Open("."); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
