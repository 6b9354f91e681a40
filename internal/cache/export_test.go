package cache

import "time"

// SetBeforeRename makes Record call f between writing the temporary file
// and renaming it over the entry.
func SetBeforeRename(c *Cache, f func()) { c.beforeRename = f }

// RecordIn does to e what Record does to the entry on disk, without the
// files: the spread test runs the expiry rule a million times.
func RecordIn(e *Entry, key string, status int, finished time.Time, ttl time.Duration) {
	e.record(key, status, finished, ttl)
}

// Expiry is the expiry rule for a phase given directly.
var Expiry = expiry
