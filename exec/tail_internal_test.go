//go:build linux

package exec

import (
	"os"
	"testing"
	"time"
)

// TestTailStopTakesWhatThePipeHolds: when stop's deadline reaches the
// reader before it has read what the command wrote last, that output is
// still taken from the pipe, and the writer's end left open (a daemon
// holding it) does not keep stop waiting.
func TestTailStopTakesWhatThePipeHolds(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close() // held open, as by a daemon, until the test ends
	if _, err := w.WriteString("the last words\n"); err != nil {
		t.Fatal(err)
	}
	tl := &tail{r: r, ring: make([]byte, 8), done: make(chan struct{})}
	// stop's deadline before the first read, as when the reader lags.
	if err := r.SetReadDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	go tl.read()
	if got := string(tl.stop()); got != "t words\n" {
		t.Errorf("stop() = %q, want the last 8 bytes written, %q", got, "t words\n")
	}
}
