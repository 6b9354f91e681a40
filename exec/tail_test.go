//go:build linux

package exec_test

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
)

// interleaved is a command that writes n numbered lines, alternately to
// stdout and stderr, then exits with status; want returns what it wrote.
func interleaved(n, status int) (args []string, want string) {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "out %d\nerr %d\n", i, i)
	}
	script := fmt.Sprintf(`i=1; while [ $i -le %d ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; exit %d`, n, status)
	return sh(script), b.String()
}

// TestTailKeepsTheLastBytes: with Tail, every failure carries the last
// bytes of stdout and stderr together, in the order they were written.
func TestTailKeepsTheLastBytes(t *testing.T) {
	t.Parallel()
	args, all := interleaved(500, 3)
	tests := []struct {
		name    string
		args    []string
		tail    int
		timeout time.Duration
		want    string
		status  int
	}{
		{name: "exit 3, more than Tail", args: args, tail: 100, want: all[len(all)-100:], status: 3},
		{name: "exit 3, less than Tail", args: args, tail: 1 << 20, want: all, status: 3},
		{name: "killed by a signal", args: sh(`echo before; kill -KILL $$`), tail: 100, want: "before\n", status: 137},
		{name: "timed out", args: sh(`echo before >&2; exec sleep 1000`), tail: 100, timeout: 100 * time.Millisecond, want: "before\n", status: 124},
		{name: "no output", args: sh(`exit 1`), tail: 100, want: "", status: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			c := command(tt.args...)
			c.Tail = tt.tail
			err := run(t, ctx, c)
			var e *exec.ExitError
			if !errors.As(err, &e) || e.ExitStatus() != tt.status {
				t.Fatalf("Run() = %v; want an ExitError with status %d", err, tt.status)
			}
			if e.Output == nil || string(e.Output) != tt.want {
				t.Errorf("Output = %q\nwant     %q", e.Output, tt.want)
			}
		})
	}
}

// TestTailOffOrOutputGiven: without Tail, or with both files given, there
// is no Output, and the files get what the command writes.
func TestTailOffOrOutputGiven(t *testing.T) {
	t.Parallel()
	args, all := interleaved(3, 1)
	err := run(t, context.Background(), command(args...))
	var e *exec.ExitError
	if !errors.As(err, &e) || e.Output != nil {
		t.Errorf("Tail 0: Run() = %v, Output %q; want no Output", err, e.Output)
	}
	out := createFile(t, filepath.Join(t.TempDir(), "out"))
	c := command(args...)
	c.Tail, c.Stdout, c.Stderr = 100, out, out
	err = run(t, context.Background(), c)
	if !errors.As(err, &e) || e.Output != nil {
		t.Errorf("files given: Run() = %v, Output %q; want no Output", err, e.Output)
	}
	if got := readFile(t, out.Name()); got != all {
		t.Errorf("the file holds %q, want %q", got, all)
	}
}

// TestTailMemoryIsBounded: a command that writes 200 MB costs this process
// a ring and a read buffer, not its output. The test is not parallel, so
// the allocations counted are Run's own.
func TestTailMemoryIsBounded(t *testing.T) {
	const written = 200 << 20
	c := command(sh(fmt.Sprintf(`head -c %d /dev/zero; echo; echo the end; exit 1`, written))...)
	c.Tail = 2048
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := run(t, context.Background(), c)
	runtime.ReadMemStats(&after)
	var e *exec.ExitError
	if !errors.As(err, &e) || !strings.HasSuffix(string(e.Output), "\x00\nthe end\n") || len(e.Output) != 2048 {
		t.Fatalf("Run() = %v, Output ends %q (%d bytes); want exit 1 and the last 2048 bytes", err, lastBytes(e, 20), len(e.Output))
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("Run allocated %d bytes for %d written", allocated, written)
	if allocated > 4<<20 {
		t.Errorf("Run allocated %d bytes for a command that wrote %d; want at most 4 MiB", allocated, written)
	}
}

// lastBytes returns the last n bytes of e's Output, for messages.
func lastBytes(e *exec.ExitError, n int) []byte {
	if e == nil {
		return nil
	}
	return e.Output[max(0, len(e.Output)-n):]
}

// TestTailDaemonDoesNotDelayRun: a process the command leaves outside its
// process group, holding the pipe open, neither delays Run nor changes the
// status, and what the command wrote before it exited is kept.
func TestTailDaemonDoesNotDelayRun(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pids")
	// The daemon writes its pid once it has its own session; the command
	// waits for that, so that the group's SIGKILL cannot reach it first.
	c := command(sh(`setsid sh -c 'echo $$ > "$1"; exec sleep 1000' sh "$1" &
		until [ -s "$1" ]; do sleep 0.01; done; echo bye; exit 1`, pidFile)...)
	c.Tail = 100
	err := run(t, context.Background(), c) // fails the test after deadline, long before the daemon would exit
	daemon := readPIDs(t, pidFile, 1)[0]
	t.Cleanup(func() { _ = syscall.Kill(daemon, syscall.SIGKILL) })
	var e *exec.ExitError
	if !errors.As(err, &e) || e.ExitStatus() != 1 || string(e.Output) != "bye\n" {
		t.Errorf("Run() = %v, Output %q; want exit 1 and %q", err, lastBytes(e, 100), "bye\n")
	}
	if ok, why := alive(daemon); !ok {
		t.Fatalf("the daemon %d is gone (%s): Run did not return while it held the pipe", daemon, why)
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", daemon))
	for _, fd := range fds {
		if target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", daemon, fd.Name())); strings.HasPrefix(target, "pipe:") {
			return // it holds the pipe
		}
	}
	t.Errorf("the daemon holds no pipe; the test proves nothing")
}

// BenchmarkRunOutput compares a command writing 64 MiB to /dev/null with
// the same command whose output goes through the tail's pipe.
func BenchmarkRunOutput(b *testing.B) {
	const written = 64 << 20
	for _, tail := range []int{0, 2048} {
		name := "devnull"
		if tail > 0 {
			name = "tail"
		}
		b.Run(name, func(b *testing.B) {
			c := &exec.Command{Args: []string{"head", "-c", fmt.Sprint(written), "/dev/zero"}, Env: exec.Environ(), Tail: tail}
			b.SetBytes(written)
			for b.Loop() {
				if err := c.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRunTrueTail is BenchmarkRunTrue with the tail on: what the pipe
// costs a command that writes nothing.
func BenchmarkRunTrueTail(b *testing.B) {
	c := &exec.Command{Args: []string{"/bin/true"}, Tail: 2048}
	ctx := context.Background()
	for b.Loop() {
		if err := c.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
