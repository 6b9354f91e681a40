// Package poll lets tests wait for a condition with a deadline instead of
// sleeping for a fixed time.
package poll

import (
	"testing"
	"time"
)

// Deadline is how long Until waits before it fails the test.
const Deadline = 10 * time.Second

// interval is how often Until checks the condition.
const interval = 5 * time.Millisecond

// Until checks cond every few milliseconds until it holds, and fails the
// test, naming what it waited for, if that takes longer than Deadline.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	limit := time.Now().Add(Deadline)
	for !cond() {
		if time.Now().After(limit) {
			t.Fatalf("gave up waiting %v for %s", Deadline, what)
		}
		time.Sleep(interval)
	}
}
