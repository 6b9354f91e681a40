package token_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/internal/poll"
	"github.com/monitoring-token/monitoring-token/token"
)

// loaded is what LoadSigner returned.
type loaded struct {
	signer *token.Signer
	err    error
}

// loadAsync starts LoadSigner in a goroutine.
func loadAsync(ctx context.Context, path string) <-chan loaded {
	ch := make(chan loaded, 1)
	go func() {
		s, err := token.LoadSigner(ctx, path)
		ch <- loaded{s, err}
	}()
	return ch
}

// wait returns what LoadSigner returned, or fails the test if it has not
// returned within poll.Deadline: a read that ignores its context hangs.
func wait(t *testing.T, ch <-chan loaded) loaded {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(poll.Deadline):
		t.Fatalf("LoadSigner has not returned after %v", poll.Deadline)
	}
	return loaded{}
}

// checkSigns fails unless s signs tokens that the public half of k verifies.
func checkSigns(t *testing.T, s *token.Signer, k testKey) {
	t.Helper()
	tok, err := s.Sign(machine, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatalf("Sign = %v", err)
	}
	if _, err := verify(t, tok, k.public); err != nil {
		t.Errorf("Verify = %v", err)
	}
}

// writeFile writes b to name in dir and returns its path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mkfifo makes a FIFO in a new temporary directory.
func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// openWriter opens the write end of fifo once a reader has it open (a
// non-blocking open for writing fails with ENXIO until then), so that the
// writer is sure to come after the reader.
func openWriter(t *testing.T, fifo string) *os.File {
	t.Helper()
	var w *os.File
	poll.Until(t, "a reader to open "+fifo, func() bool {
		var err error
		w, err = os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		return err == nil
	})
	return w
}

// openFDs counts this process's descriptors open on path.
func openFDs(t *testing.T, path string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == path {
			n++
		}
	}
	return n
}

func TestLoadSignerPaths(t *testing.T) {
	k := generated(t, "EdDSA", "paths")
	tests := []struct {
		name string
		path func(t *testing.T) string // makes the key available and returns its path
	}{
		{
			name: "regular file",
			path: func(t *testing.T) string { return writeFile(t, t.TempDir(), "key.jwk", k.private) },
		},
		{
			// What a Kubernetes secret volume holds: key.jwk -> ..data/key.jwk,
			// ..data -> ..2024_01_01_00_00_00.1, a directory with the file.
			name: "Kubernetes ..data symbolic links",
			path: func(t *testing.T) string {
				dir := t.TempDir()
				version := filepath.Join(dir, "..2024_01_01_00_00_00.1")
				if err := os.Mkdir(version, 0o700); err != nil {
					t.Fatal(err)
				}
				writeFile(t, version, "key.jwk", k.private)
				if err := os.Symlink(filepath.Base(version), filepath.Join(dir, "..data")); err != nil {
					t.Fatal(err)
				}
				link := filepath.Join(dir, "key.jwk")
				if err := os.Symlink(filepath.Join("..data", "key.jwk"), link); err != nil {
					t.Fatal(err)
				}
				return link
			},
		},
		{
			// What bash's <(…) gives: /dev/fd/N, the read end of a pipe
			// whose writer is another process.
			name: "pipe as /dev/fd/N",
			path: func(t *testing.T) string {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.Close() })
				go func() {
					w.Write(k.private)
					w.Close()
				}()
				return fmt.Sprintf("/dev/fd/%d", r.Fd())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			r := wait(t, loadAsync(getContext(t), path))
			if r.err != nil {
				t.Fatalf("LoadSigner(%s) = %v", path, r.err)
			}
			checkSigns(t, r.signer, k)
		})
	}
}

// getContext bounds a LoadSigner that should succeed long before the test
// times out.
func getContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), poll.Deadline)
	t.Cleanup(cancel)
	return ctx
}

func TestLoadSignerFIFOWriterComesLater(t *testing.T) {
	k := generated(t, "ES256", "fifo")
	fifo := mkfifo(t)
	ch := loadAsync(getContext(t), fifo)
	w := openWriter(t, fifo)
	if _, err := w.Write(k.private); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := wait(t, ch)
	if r.err != nil {
		t.Fatalf("LoadSigner(FIFO) = %v", r.err)
	}
	checkSigns(t, r.signer, k)
}

func TestLoadSignerStops(t *testing.T) {
	// The cause main gives its context when a forwarded signal arrives.
	sigterm := &exec.SignalError{Signal: syscall.SIGTERM}
	tests := []struct {
		name         string
		writer       bool // hold the FIFO open for writing, and write nothing
		cancelBefore bool // cancel before LoadSigner is called
		deadline     bool // stop by a deadline rather than a signal
	}{
		{name: "FIFO without writer, deadline", deadline: true},
		{name: "FIFO whose writer sends nothing, deadline", writer: true, deadline: true},
		{name: "FIFO without writer, signal"},
		{name: "FIFO whose writer sends nothing, signal", writer: true},
		{name: "signal before the call", cancelBefore: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fifo := mkfifo(t)
			if tt.writer {
				// O_RDWR opens a FIFO at once, as a writer (and a reader).
				w, err := os.OpenFile(fifo, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { w.Close() })
			} else {
				// Let the abandoned open(2) return, so that the goroutine
				// ends with the test.
				t.Cleanup(func() {
					if !tt.cancelBefore {
						openWriter(t, fifo).Close()
					}
				})
			}
			var ctx context.Context
			var cancel context.CancelCauseFunc
			if tt.deadline {
				var stop context.CancelFunc
				ctx, stop = context.WithTimeout(t.Context(), 100*time.Millisecond)
				t.Cleanup(stop)
			} else {
				ctx, cancel = context.WithCancelCause(t.Context())
				t.Cleanup(func() { cancel(nil) })
				if tt.cancelBefore {
					cancel(sigterm)
				} else {
					// Whether LoadSigner is already waiting or not, it
					// must see the cancellation.
					time.AfterFunc(100*time.Millisecond, func() { cancel(sigterm) })
				}
			}

			r := wait(t, loadAsync(ctx, fifo))
			if r.err == nil {
				t.Fatal("LoadSigner succeeded on a FIFO that sends nothing")
			}
			msg := r.err.Error()
			if !strings.Contains(msg, fifo) || strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line naming %s", msg, fifo)
			}
			if !errors.Is(r.err, token.ErrKeyReadStopped) {
				t.Errorf("error %q does not wrap %v", msg, token.ErrKeyReadStopped)
			}
			var sigErr *exec.SignalError
			switch {
			case tt.deadline && (!errors.Is(r.err, context.DeadlineExceeded) || !strings.Contains(msg, "in time") || !strings.Contains(msg, "FIFO with no writer")):
				t.Errorf("error %q does not wrap the deadline and ask about a FIFO with no writer", msg)
			case !tt.deadline && (!errors.As(r.err, &sigErr) || sigErr != sigterm):
				t.Errorf("error %q does not wrap the signal", msg)
			}
			// The goroutine left reading closes the FIFO once the read
			// can be interrupted: only the test's own writer keeps it.
			if tt.writer {
				poll.Until(t, "LoadSigner to close the FIFO", func() bool { return openFDs(t, fifo) == 1 })
			}
		})
	}
}

func TestLoadSignerSizeLimit(t *testing.T) {
	k := generated(t, "EdDSA", "size")
	// JSON allows white space after the value: the key stays valid.
	padded := func(n int) []byte {
		return append(append([]byte{}, k.private...), strings.Repeat(" ", n-len(k.private))...)
	}
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		wantErr error
	}{
		{
			name: "key padded to the limit",
			path: func(t *testing.T) string { return writeFile(t, t.TempDir(), "key.jwk", padded(token.MaxKeySize)) },
		},
		{
			name:    "key padded one byte beyond",
			path:    func(t *testing.T) string { return writeFile(t, t.TempDir(), "key.jwk", padded(token.MaxKeySize+1)) },
			wantErr: token.ErrKeyTooLarge,
		},
		{
			name:    "/dev/zero",
			path:    func(*testing.T) string { return "/dev/zero" },
			wantErr: token.ErrKeyTooLarge,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path(t)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := wait(t, loadAsync(getContext(t), path))
			runtime.ReadMemStats(&after)
			switch {
			case tt.wantErr == nil && r.err != nil:
				t.Fatalf("LoadSigner = %v", r.err)
			case tt.wantErr == nil:
				checkSigns(t, r.signer, k)
			case !errors.Is(r.err, tt.wantErr) || !strings.Contains(r.err.Error(), path) || !strings.Contains(r.err.Error(), "larger than 1 MiB"):
				t.Errorf("LoadSigner = %v, want %v naming %s", r.err, tt.wantErr, path)
			}
			// Reading MaxKeySize+1 bytes costs a few MiB with the copies
			// a growing buffer makes; an unbounded read of /dev/zero
			// costs whatever it reads before the deadline.
			const budget = 16 << 20
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > budget {
				t.Errorf("LoadSigner allocated %d MiB, want at most %d MiB", alloc>>20, budget>>20)
			}
		})
	}
}

// TestLoadSignerModes: a key that group or others may write is refused,
// naming the file and its mode; one they may only read is used, since
// Kubernetes' secret volumes make keys 0644 behind ..data links.
func TestLoadSignerModes(t *testing.T) {
	k := generated(t, "EdDSA", "modes")
	tests := []struct {
		mode    os.FileMode
		link    bool // reached through a symbolic link, as in a secret volume
		refused bool
	}{
		{mode: 0o600},
		{mode: 0o400},
		{mode: 0o640},
		{mode: 0o644},
		{mode: 0o644, link: true},
		{mode: 0o620, refused: true},
		{mode: 0o602, refused: true},
		{mode: 0o664, refused: true},
		{mode: 0o666, refused: true},
		{mode: 0o666, link: true, refused: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%04o link=%v", tt.mode, tt.link), func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, "key.jwk", k.private)
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			if tt.link {
				link := filepath.Join(dir, "linked.jwk")
				if err := os.Symlink("key.jwk", link); err != nil {
					t.Fatal(err)
				}
				path = link
			}
			r := wait(t, loadAsync(getContext(t), path))
			if !tt.refused {
				if r.err != nil {
					t.Fatalf("LoadSigner(%s) = %v", path, r.err)
				}
				return
			}
			want := fmt.Sprintf("signer key %s is writable by group or others (mode %04o)", path, tt.mode)
			if !errors.Is(r.err, token.ErrKeyWritable) || !strings.Contains(r.err.Error(), want) {
				t.Errorf("LoadSigner = %v, want %q", r.err, want)
			}
		})
	}
}
