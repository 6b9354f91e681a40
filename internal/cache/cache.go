// Package cache keeps the outcome of monitoring-token's probes in a
// directory, so that a probe scraped every minute runs only once per TTL,
// only one run at a time probes a given key, and the time of the last real
// success survives failures.
//
// Each key has two files in the directory: KEY.json, a small entry written
// atomically (a temporary file KEY.json.tmp, fsync, rename), and KEY.lock,
// which runs hold with flock(2) while they probe. An entry holds times and
// an exit status, never a token. Failures are never fresh: they are kept
// only so that runs that waited for that probe can exit with its status.
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
package cache

import (
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
	Status   int       `json:"status"`   // exit status, 0 for success
	Finished time.Time `json:"finished"` // when the probe ended
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
	// that overlapped that probe may use a failure (see Lock).
	Last Result `json:"last,omitzero"`
}

// Fresh reports whether the entry holds a success that may be served at
// now instead of probing.
func (e Entry) Fresh(now time.Time) bool { return now.Before(e.Expires) }

// record puts the outcome of a probe of key into e, choosing the expiry of
// a success with the rule in the package documentation.
func (e *Entry) record(key string, status int, finished time.Time, ttl time.Duration) {
	e.Last = Result{Status: status, Finished: finished}
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
	Dir string        // created with mode 0700, parents included, on the first Lock
	TTL time.Duration // how long a success may be served; must be positive
	// Now is the clock Load checks entries against; nil means time.Now.
	Now func() time.Time

	beforeRename func() // test hook: Record calls it between write and rename
}

func (c *Cache) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// path is the file of key with the given suffix.
func (c *Cache) path(key, suffix string) (string, error) {
	if len(key) != 2*sha256.Size {
		return "", fmt.Errorf("cache key %q is not from Key", key)
	}
	if _, err := hex.DecodeString(key); err != nil {
		return "", fmt.Errorf("cache key %q is not from Key", key)
	}
	return filepath.Join(c.Dir, key+suffix), nil
}

// entryFile is the JSON of an entry on disk.
type entryFile struct {
	V int `json:"v"`
	Entry
}

// Load reads key's entry without taking the lock: one open and one read.
// An entry that is missing, corrupt, of another version, dated after now,
// or expiring more than the TTL after its success (as after a lowered TTL)
// is returned as the zero Entry with the reason, for a debug line. err is
// for a cache that cannot be read, such as a file where the directory
// should be.
func (c *Cache) Load(key string) (e Entry, reason string, err error) {
	path, err := c.path(key, ".json")
	if err != nil {
		return Entry{}, "", err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Entry{}, "no entry " + path, nil
	}
	if err != nil {
		return Entry{}, "", fmt.Errorf("read cache entry: %w", err)
	}
	defer f.Close()
	var buf [maxEntrySize + 1]byte
	n, err := io.ReadFull(f, buf[:])
	switch {
	case err == nil:
		return Entry{}, fmt.Sprintf("entry %s is larger than %d bytes; treated as missing", path, maxEntrySize), nil
	case err != io.EOF && err != io.ErrUnexpectedEOF:
		return Entry{}, "", fmt.Errorf("read cache entry: %w", err)
	}
	var ef entryFile
	if err := json.Unmarshal(buf[:n], &ef); err != nil {
		reason = fmt.Sprintf("is corrupt (%v)", err)
	} else {
		reason = c.check(ef)
	}
	if reason != "" {
		return Entry{}, fmt.Sprintf("entry %s %s; treated as missing", path, reason), nil
	}
	return ef.Entry, "", nil
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
	case ef.Expires.After(ef.LastSuccess.Add(c.TTL)):
		return fmt.Sprintf("expires more than the TTL (%v) after its success", c.TTL)
	}
	return ""
}

// Lock is a key's lock, held by one run at a time across processes.
type Lock struct {
	// Waited reports that another run held the lock when Lock was called.
	Waited bool

	c   *Cache
	key string
	f   *os.File
}

// Lock takes key's lock, waiting while another run holds it, until ctx is
// done; then the error wraps context.Cause(ctx). A killed holder never
// blocks the next run: the kernel drops its lock, and the lock file is
// close-on-exec, so the probe's command does not inherit it.
//
// A run calls Lock after a Load that found no fresh entry, then loads the
// entry again: if its Last finished after the run began (before that first
// Load), another run probed meanwhile and the run exits with Last.Status,
// failures included; otherwise it probes and calls Record. A run that
// begins after a failure finished never uses it.
func (c *Cache) Lock(ctx context.Context, key string) (*Lock, error) {
	path, err := c.path(key, ".lock")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create cache directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open cache lock: %w", err)
	}
	l := &Lock{c: c, key: key, f: f}
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

// Unlock releases the lock. The Lock must not be used afterwards.
func (l *Lock) Unlock() { l.f.Close() }

// Record stores the outcome of the probe that the holder of the lock ran:
// its exit status and when it finished. A success also sets LastSuccess
// and a new expiry; a failure makes the entry stale. Only a probe's own
// outcome belongs here, not a stale or cached result.
func (l *Lock) Record(status int, finished time.Time) error {
	c := l.c
	if c.TTL <= 0 {
		return fmt.Errorf("cache TTL %v is not positive", c.TTL)
	}
	e, _, err := c.Load(l.key) // an unusable entry is replaced
	if err != nil {
		return err
	}
	e.record(l.key, status, finished.UTC(), c.TTL)
	b, err := json.Marshal(entryFile{V: version, Entry: e})
	if err != nil {
		return err
	}
	path, _ := c.path(l.key, ".json")
	// Only the holder of the lock writes, so the temporary file can have a
	// fixed name: one left by a killed run is overwritten, never read.
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write cache entry: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write cache entry: %w", err)
	}
	if c.beforeRename != nil {
		c.beforeRename()
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write cache entry: %w", err)
	}
	// Syncing the directory makes the rename itself durable; without it a
	// power cut may bring back the previous entry, which is harmless.
	if d, err := os.Open(c.Dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
