package cache

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SetBeforeRename makes record call f between writing the temporary file
// and renaming it over the entry.
func SetBeforeRename(c *Cache, f func()) { c.beforeRename = f }

// RecordIn does to e what record does to the entry on disk, without the
// files: the spread test runs the expiry rule a million times.
func RecordIn(e *Entry, key string, status int, finished time.Time, ttl time.Duration) {
	e.record(key, Report{Status: status, Finished: finished}, ttl)
}

// Expiry is the expiry rule for a phase given directly.
var Expiry = expiry

// Load reads key's entry as Do does, in a directory that must be trusted,
// and returns what Do's debug lines said about it.
func (c *Cache) Load(key string) (e Entry, notes string, err error) {
	root, err := c.open()
	if err != nil {
		return Entry{}, "", err
	}
	if root != nil {
		defer root.Close()
	}
	var said []string
	quiet := *c
	quiet.Debugf = func(format string, args ...any) { said = append(said, fmt.Sprintf(format, args...)) }
	e, err = quiet.load(root, key)
	return e, strings.Join(said, "; "), err
}

// Lock is a key's lock, as Do takes it.
type Lock = lock

// Lock takes key's lock as Do does, creating the directory.
func (c *Cache) Lock(ctx context.Context, key string) (*Lock, error) {
	root, err := c.create()
	if err != nil {
		return nil, err
	}
	l, err := c.lock(ctx, root, key)
	if err != nil {
		root.Close()
	}
	return l, err
}

// Unlock releases the lock and the directory.
func (l *Lock) Unlock() {
	l.unlock()
	l.root.Close()
}

// Record records a probe's outcome as Do does.
func (l *Lock) Record(status int, finished time.Time) error {
	return l.record(Report{Status: status, Finished: finished})
}
