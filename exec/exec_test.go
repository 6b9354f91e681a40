//go:build linux

package exec_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/internal/poll"
)

// Environment of the test binary when it runs as a wrapper (see wrap).
const (
	wrapperEnv   = "EXEC_TEST_WRAPPER"    // "1": act as a wrapper instead of running tests
	killAfterEnv = "EXEC_TEST_KILL_AFTER" // the wrapper's KillAfter, a time.Duration
	stdioEnv     = "EXEC_TEST_STDIO"      // "null": leave Stdout and Stderr nil
	signalsEnv   = "EXEC_TEST_SIGNALS"    // how the wrapper subscribes, see wrap
	readyEnv     = "EXEC_TEST_READY"      // a file the wrapper creates once subscribed
	sigchldEnv   = "EXEC_TEST_SIGCHLD"    // "ignore": the kernel reaps the command, not Run
	timeoutEnv   = "EXEC_TEST_TIMEOUT"    // Run's deadline, a time.Duration; none if unset
	coreEnv      = "EXEC_TEST_CORE"       // "allow": raise the core file limit to the hard limit
	blockEnv     = "EXEC_TEST_BLOCK"      // a signal number to block on the thread that calls Die
	chattyEnv    = "EXEC_TEST_CHATTY"     // write a line to stdout and stderr before Run: "1" through NoSIGPIPE, "raw" not
	dieEnv       = "EXEC_TEST_DIE"        // a signal number for Die after Run, as if DeathSignal had returned it
)

// testEnvPrefix starts every variable above; the wrapper drops them all from
// the command's environment.
const testEnvPrefix = "EXEC_TEST_"

// Values of signalsEnv.
const (
	runSubscribes = ""          // Signals nil: Run subscribes itself
	subscribe     = "subscribe" // Subscribe first, as monitoring-token does
	watch         = "watch"     // Subscribe, then Watch until a signal comes, then Run
)

const (
	deadline = 10 * time.Second       // how long anything may take before a test fails
	tick     = 5 * time.Millisecond   // how often a condition is polled
	grace    = 300 * time.Millisecond // KillAfter where a test waits for escalation
	patience = time.Hour              // KillAfter where a test must not wait for it
)

// TestMain lets the test binary be the wrapper process that signal tests
// signal and SIGKILL, as x/tools cmd/stringer's tests do.
func TestMain(m *testing.M) {
	if os.Getenv(wrapperEnv) == "1" {
		os.Exit(wrap(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// wrap is a minimal monitoring-token: it runs args under Run and dies by
// the command's signal or exits with the status Run reports.
func wrap(args []string) int {
	// Its own output, as monitoring-token's; the command gets the files.
	stdout, stderr := exec.NoSIGPIPE(os.Stdout), exec.NoSIGPIPE(os.Stderr)
	killAfter, _ := time.ParseDuration(os.Getenv(killAfterEnv))
	var env exec.Env
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, testEnvPrefix) {
			env = append(env, kv)
		}
	}
	if os.Getenv(sigchldEnv) == "ignore" {
		signal.Ignore(syscall.SIGCHLD)
	}
	if os.Getenv(coreEnv) == "allow" {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err == nil {
			lim.Cur = lim.Max
			_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &lim)
		}
	}
	ctx := context.Background()
	if timeout, err := time.ParseDuration(os.Getenv(timeoutEnv)); err == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	c := &exec.Command{
		Args:      args,
		Env:       env,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		KillAfter: killAfter,
	}
	if os.Getenv(stdioEnv) == "null" {
		c.Stdout, c.Stderr = nil, nil
	}
	if mode := os.Getenv(signalsEnv); mode != runSubscribes {
		c.Signals = exec.Subscribe()
		c.Signals.WaitReady()
		if ready := os.Getenv(readyEnv); ready != "" {
			if err := os.WriteFile(ready, nil, 0o600); err != nil {
				fmt.Fprintln(stderr, "wrapper:", err)
				return 125
			}
		}
		if mode == watch {
			ctx, stop := c.Signals.Watch(context.Background())
			<-ctx.Done()
			stop()
			fmt.Fprintln(stderr, "wrapper: watched:", context.Cause(ctx))
		}
	}
	switch os.Getenv(chattyEnv) {
	case "1":
		fmt.Fprintln(stdout, "wrapper: running", args)
		fmt.Fprintln(stderr, "wrapper: running", args)
	case "raw":
		fmt.Fprintln(os.Stdout, "wrapper: running", args)
		fmt.Fprintln(os.Stderr, "wrapper: running", args)
	}
	err := c.Run(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "wrapper:", err)
	}
	sig, ok := exec.DeathSignal(err)
	if n, err := strconv.Atoi(os.Getenv(dieEnv)); err == nil {
		sig, ok = syscall.Signal(n), true
	}
	if ok {
		if n, err := strconv.Atoi(os.Getenv(blockEnv)); err == nil {
			// As if inherited blocked; Die must unblock it.
			runtime.LockOSThread()
			set := uint64(1) << (n - 1)
			const sigBlock = 0 // SIG_BLOCK, except on MIPS
			_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigBlock, uintptr(unsafe.Pointer(&set)), 0, 8, 0, 0)
		}
		exec.Die(sig)
	}
	return status(err)
}

// status is the exit status a wrapper reports for Run's error: 0 for nil,
// ExitStatus() when err has it, and 125 (coreutils timeout and env: the
// wrapper itself failed) otherwise.
func status(err error) int {
	if err == nil {
		return 0
	}
	var s interface{ ExitStatus() int }
	if errors.As(err, &s) {
		return s.ExitStatus()
	}
	return 125
}

func TestRunExitStatus(t *testing.T) {
	dir := t.TempDir()
	noExec := writeFile(t, dir, "no-exec", "#!/bin/sh\nexit 0\n", 0o644)
	garbage := writeFile(t, dir, "garbage", "this is not a program\n", 0o755)
	badInterpreter := writeFile(t, dir, "bad-interpreter", "#!/nonexistent/interpreter\n", 0o755)
	writeFile(t, dir, "exec-test-not-executable", "#!/bin/sh\nexit 0\n", 0o644)
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))

	tests := []struct {
		name       string
		args       []string
		wantStatus int // 0 means a nil error
		wantStart  bool
		wantMsg    string
	}{
		{name: "exit 0", args: sh("exit 0")},
		{name: "exit 3", args: sh("exit 3"), wantStatus: 3, wantMsg: "sh exited with status 3"},
		{name: "killed by SIGTERM", args: sh("kill -TERM $$"), wantStatus: 128 + 15, wantMsg: "sh killed by signal 15 (terminated)"},
		{name: "killed by SIGKILL", args: sh("kill -KILL $$"), wantStatus: 128 + 9, wantMsg: "sh killed by signal 9 (killed)"},
		{name: "not found in PATH", args: []string{"exec-test-no-such-command"}, wantStatus: 127, wantStart: true,
			wantMsg: "command not found in PATH: exec-test-no-such-command"},
		{name: "not found at a path", args: []string{filepath.Join(dir, "missing")}, wantStatus: 127, wantStart: true,
			wantMsg: "command not found: " + filepath.Join(dir, "missing")},
		{name: "interpreter not found", args: []string{badInterpreter}, wantStatus: 127, wantStart: true,
			wantMsg: "cannot run " + badInterpreter + ": its #! interpreter"},
		{name: "no execute permission", args: []string{noExec}, wantStatus: 126, wantStart: true,
			wantMsg: "cannot run " + noExec + ": permission denied"},
		{name: "in PATH without execute permission", args: []string{"exec-test-not-executable"}, wantStatus: 126, wantStart: true,
			wantMsg: "cannot run exec-test-not-executable (" + dir + "/exec-test-not-executable): permission denied"},
		{name: "directory", args: []string{dir}, wantStatus: 126, wantStart: true,
			wantMsg: "cannot run " + dir + ": is a directory"},
		{name: "exec format error", args: []string{garbage}, wantStatus: 126, wantStart: true,
			wantMsg: "cannot run " + garbage + ": exec format error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t, context.Background(), command(tt.args...))
			if got := status(err); got != tt.wantStatus {
				t.Fatalf("Run() = %v, status %d; want status %d", err, got, tt.wantStatus)
			}
			if err == nil {
				return
			}
			var startErr *exec.StartError
			var exitErr *exec.ExitError
			if tt.wantStart && !errors.As(err, &startErr) {
				t.Errorf("Run() = %T, want *exec.StartError", err)
			}
			if !tt.wantStart && !errors.As(err, &exitErr) {
				t.Errorf("Run() = %T, want *exec.ExitError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Errorf("Run() = %q, want it to start with %q", err, tt.wantMsg)
			}
		})
	}
}

func TestRunRefuses(t *testing.T) {
	t.Parallel()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	marker := filepath.Join(t.TempDir(), "ran")
	tests := []struct {
		name    string
		ctx     context.Context
		args    []string
		wantMsg string
	}{
		{"no command", context.Background(), nil, "no command to run"},
		{"context already done", done, sh(`echo ran > "$1"`, marker), "sh not started: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t, tt.ctx, command(tt.args...))
			if got := status(err); got != 125 || err.Error() != tt.wantMsg {
				t.Errorf("Run() = %q (status %d), want %q, a failure of Run itself (125)", err, got, tt.wantMsg)
			}
			if _, statErr := os.Stat(marker); statErr == nil {
				t.Errorf("the command ran")
			}
		})
	}
}

func TestRunDeadline(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c := command("sleep", "1000")
	c.KillAfter = patience
	err := run(t, ctx, c)
	var e *exec.ExitError
	if !errors.As(err, &e) || status(err) != 124 || !e.TimedOut || e.Signal != syscall.SIGTERM {
		t.Fatalf("Run() = %#v, want a timeout (124) ended by SIGTERM alone", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(%v, context.DeadlineExceeded) = false", err)
	}
	if want := "sleep timed out and was stopped after "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Run() = %q, want it to start with %q", err, want)
	}
}

func TestRunStopsGroupWhenContextDone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		script     string // writes every pid it starts to $1; may log to $2
		pids       int
		killAfter  time.Duration
		wantSignal syscall.Signal // what ended sh, 0 if it exited
		wantLog    string
	}{
		{
			name:       "background jobs stop on SIGTERM",
			script:     `sleep 1000 & echo $! >> "$1"; sleep 1000 & echo $! >> "$1"; echo $$ >> "$1"; wait`,
			pids:       3,
			killAfter:  patience,
			wantSignal: syscall.SIGTERM,
		},
		{
			// sh waits for its job, which stops only if SIGTERM
			// reached it too: it went to the group, not just to sh.
			name: "background job gets SIGTERM while sh waits for it",
			script: `trap : TERM
				sh -c 'trap "echo TERM >> \"\$1\"; exit" TERM; echo $$ >> "$0"; sleep 1000 & echo $! >> "$0"; wait' "$1" "$2" &
				echo $$ >> "$1"; wait; wait`,
			pids:      3,
			killAfter: patience,
			wantLog:   "TERM\n",
		},
		{
			// A zero KillAfter means DefaultKillAfter, not no grace:
			// the trap has time to run before any SIGKILL.
			name:      "zero KillAfter is the default grace",
			script:    `trap 'echo TERM >> "$2"; exit 0' TERM; sleep 1000 & echo $! >> "$1"; echo $$ >> "$1"; wait`,
			pids:      2,
			killAfter: 0,
			wantLog:   "TERM\n",
		},
		{
			name:       "SIGTERM ignored, SIGKILL after KillAfter",
			script:     `trap '' TERM; sleep 1000 & echo $! >> "$1"; echo $$ >> "$1"; wait`,
			pids:       2,
			killAfter:  grace,
			wantSignal: syscall.SIGKILL,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pidFile, logFile := filepath.Join(dir, "pids"), filepath.Join(dir, "log")
			c := command(sh(tt.script, pidFile, logFile)...)
			c.KillAfter = tt.killAfter
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			result := start(ctx, c)
			pids := readPIDs(t, pidFile, tt.pids)

			cancelled := time.Now()
			cancel()
			err := wait(t, c, result)
			took := time.Since(cancelled)

			var e *exec.ExitError
			if !errors.As(err, &e) || status(err) != 124 || !e.TimedOut {
				t.Fatalf("Run() = %v, want a timeout (124)", err)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("errors.Is(%v, context.Canceled) = false", err)
			}
			if e.Signal != tt.wantSignal {
				t.Errorf("command ended by signal %v, want %v", e.Signal, tt.wantSignal)
			}
			if tt.wantSignal == syscall.SIGKILL && took < tt.killAfter {
				t.Errorf("SIGKILL came %v after cancel, before KillAfter %v", took, tt.killAfter)
			}
			if got, _ := os.ReadFile(logFile); string(got) != tt.wantLog {
				t.Errorf("the command logged %q, want %q", got, tt.wantLog)
			}
			waitGone(t, pids...)
		})
	}
}

// TestRunContinuesStoppedCommand: a command that is stopped (SIGSTOP,
// Ctrl-Z) when ctx is done gets SIGCONT after SIGTERM, as coreutils timeout
// sends it, so that it acts on SIGTERM at once instead of staying stopped
// until SIGKILL: its trap runs.
func TestRunContinuesStoppedCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile, logFile := filepath.Join(dir, "pids"), filepath.Join(dir, "log")
	script := `trap 'echo TERM > "$2"; exit 0' TERM; echo $$ > "$1"; kill -STOP $$; exit 5`
	c := command(sh(script, pidFile, logFile)...)
	c.KillAfter = grace // long enough for the trap, short enough to fail fast without SIGCONT
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := start(ctx, c)
	pid := readPIDs(t, pidFile, 1)[0]
	poll.Until(t, "the command to stop itself", func() bool {
		_, state := alive(pid)
		return strings.HasPrefix(state, "state T")
	})
	cancel()
	err := wait(t, c, result)
	var e *exec.ExitError
	if !errors.As(err, &e) || status(err) != 124 || e.Signal != 0 {
		t.Errorf("Run() = %v, want a timeout (124) after the command's trap exited", err)
	}
	if got, _ := os.ReadFile(logFile); string(got) != "TERM\n" {
		t.Errorf("the command's TERM trap logged %q, want %q: it was not continued after SIGTERM", got, "TERM\n")
	}
}

func TestRunKillsWhatTheCommandLeaves(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		script     string
		wantStatus int
	}{
		{"exit 0", `sleep 1000 & echo $! > "$1"; exit 0`, 0},
		{"exit 3", `sleep 1000 & echo $! > "$1"; exit 3`, 3},
		{"leftover ignores SIGTERM", `trap '' TERM; sleep 1000 & echo $! > "$1"; exit 0`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "pids")
			err := run(t, context.Background(), command(sh(tt.script, pidFile)...))
			if got := status(err); got != tt.wantStatus {
				t.Errorf("Run() = %v, status %d; want %d", err, got, tt.wantStatus)
			}
			waitGone(t, readPIDs(t, pidFile, 1)...)
		})
	}
}

func TestRunOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stdout := createFile(t, filepath.Join(dir, "stdout"))
	stderr := createFile(t, filepath.Join(dir, "stderr"))
	c := command(sh(`printf 'to stdout\n'; printf 'to stderr\n' >&2`)...)
	c.Stdout, c.Stderr = stdout, stderr
	if err := run(t, context.Background(), c); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	for f, want := range map[*os.File]string{stdout: "to stdout\n", stderr: "to stderr\n"} {
		if got := readFile(t, f.Name()); got != want {
			t.Errorf("%s holds %q, want %q", f.Name(), got, want)
		}
	}
}

func TestRunEnvironment(t *testing.T) {
	t.Setenv("EXEC_TEST_SECRET", "s3cret")
	tests := []struct {
		name string
		env  exec.Env
		want string
	}{
		{"set and unset", exec.Environ().Set("EXEC_TEST_URL", "wss://x/?a=b").Unset("EXEC_TEST_SECRET"), "wss://x/?a=b unset"},
		{"inherited", exec.Environ(), "unset s3cret"},
		{"nil is empty, not ours", nil, "unset unset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := createFile(t, filepath.Join(t.TempDir(), "stdout"))
			c := command(sh(`printf '%s %s' "${EXEC_TEST_URL-unset}" "${EXEC_TEST_SECRET-unset}"`)...)
			c.Env, c.Stdout = tt.env, out
			if err := run(t, context.Background(), c); err != nil {
				t.Fatalf("Run() = %v", err)
			}
			if got := readFile(t, out.Name()); got != tt.want {
				t.Errorf("the command saw %q, want %q", got, tt.want)
			}
		})
	}
}

func TestForwardsSignals(t *testing.T) {
	t.Parallel()
	// The background sleep gets SIGTERM and SIGHUP with its group; it
	// ignores SIGINT and SIGQUIT (POSIX sh, asynchronous lists), so for
	// those the group kill after sh exits must end it.
	const script = `trap 'exit 7' TERM INT HUP QUIT; sleep 1000 & echo $! >> "$1"; echo $$ >> "$1"; wait`
	for _, mode := range []string{runSubscribes, subscribe} {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT} {
			t.Run(fmt.Sprintf("%s/%v", cmp.Or(mode, "run subscribes"), sig), func(t *testing.T) {
				t.Parallel()
				pidFile := filepath.Join(t.TempDir(), "pids")
				cmd := wrapperCommand(t, patience, sh(script, pidFile)...)
				cmd.Env = append(cmd.Env, signalsEnv+"="+mode)
				w := startWrapper(t, cmd)
				pids := readPIDs(t, pidFile, 2)
				w.signal(t, sig)
				if got := w.wait(t); got != exited(7) {
					t.Errorf("wrapper %s, want the command's own exit 7", got)
				}
				waitGone(t, pids...)
			})
		}
	}
}

// TestSignalBeforeRun: a signal that arrives on a subscription before Run
// cancels Watch's context and keeps the command from starting, with the
// status of death by that signal.
func TestSignalBeforeRun(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ready, ran := filepath.Join(dir, "ready"), filepath.Join(dir, "ran")
			cmd := wrapperCommand(t, patience, sh(`echo ran > "$1"`, ran)...)
			cmd.Env = append(cmd.Env, signalsEnv+"="+watch, readyEnv+"="+ready)
			w := startWrapper(t, cmd)
			poll.Until(t, "the wrapper to subscribe", func() bool {
				_, err := os.Stat(ready)
				return err == nil
			})
			w.signal(t, sig)
			if got, want := w.wait(t), killedBy(sig); got != want {
				t.Errorf("wrapper %s, want %s", got, want)
			}
			if _, err := os.Stat(ran); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the command ran (stat: %v)", err)
			}
			stderr := readFile(t, w.stderr)
			want := fmt.Sprintf("stopped by signal %d (%v) before", int(sig), sig)
			if strings.Count(stderr, want) != 2 {
				t.Errorf("stderr %q does not give %q as both Watch's cause and Run's error", stderr, want)
			}
		})
	}
}

func TestDeathSignal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		want   syscall.Signal
		wantOK bool
	}{
		{"exit 0", nil, 0, false},
		{"exit 3", &exec.ExitError{Code: 3}, 0, false},
		{"killed by the SIGINT it received", &exec.ExitError{Code: -1, Signal: syscall.SIGINT, Received: syscall.SIGINT}, syscall.SIGINT, true},
		{"received SIGTERM, escalated to SIGKILL", &exec.ExitError{Code: -1, Signal: syscall.SIGKILL, Received: syscall.SIGTERM}, syscall.SIGTERM, true},
		{"wrapped", fmt.Errorf("probe: %w", &exec.ExitError{Code: -1, Signal: syscall.SIGTERM, Received: syscall.SIGTERM}), syscall.SIGTERM, true},
		{"received SIGTERM, exited 7", &exec.ExitError{Code: 7, Received: syscall.SIGTERM}, 0, false},
		{"killed by SIGKILL from elsewhere", &exec.ExitError{Code: -1, Signal: syscall.SIGKILL}, 0, false},
		{"killed by its own SIGSEGV", &exec.ExitError{Code: -1, Signal: syscall.SIGSEGV}, 0, false},
		{"received SIGINT, timed out", &exec.ExitError{Code: -1, Signal: syscall.SIGKILL, Received: syscall.SIGINT, TimedOut: true}, 0, false},
		{"timed out, ended by SIGTERM", &exec.ExitError{Code: -1, Signal: syscall.SIGTERM, TimedOut: true}, syscall.SIGTERM, false},
		{"timed out, ended by SIGKILL", &exec.ExitError{Code: -1, Signal: syscall.SIGKILL, TimedOut: true}, syscall.SIGKILL, false},
		{"timed out, exited", &exec.ExitError{Code: 0, TimedOut: true}, 0, false},
		{"signal before start", &exec.SignalError{Signal: syscall.SIGHUP}, syscall.SIGHUP, true},
		{"not started", &exec.StartError{Name: "x", Err: osexec.ErrNotFound}, 0, false},
		{"Run failed", errors.New("no command to run"), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := exec.DeathSignal(tt.err); ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("DeathSignal(%v) = %v, %v; want %v, %v", tt.err, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestWrapperDiesBySignal: a wrapper that calls Die ends killed by the
// signal, without a core file of its own even where core files are allowed.
// A command killed by a signal the wrapper did not send gives 128+N, a
// normal exit, and a timeout 124.
func TestWrapperDiesBySignal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  string // the command; it must leave no core file itself
		die     syscall.Signal
		timeout time.Duration
		block   syscall.Signal // blocked on the thread that calls Die
		want    string
	}{
		{name: "Die SIGINT", script: `true`, die: syscall.SIGINT, want: killedBy(syscall.SIGINT)},
		{name: "Die SIGTERM", script: `true`, die: syscall.SIGTERM, want: killedBy(syscall.SIGTERM)},
		{name: "Die SIGHUP", script: `true`, die: syscall.SIGHUP, want: killedBy(syscall.SIGHUP)},
		{name: "Die SIGPIPE", script: `true`, die: syscall.SIGPIPE, want: killedBy(syscall.SIGPIPE)},
		{name: "Die SIGKILL", script: `true`, die: syscall.SIGKILL, want: killedBy(syscall.SIGKILL)},
		{name: "Die SIGUSR1 blocked in the wrapper", script: `true`, die: syscall.SIGUSR1, block: syscall.SIGUSR1, want: killedBy(syscall.SIGUSR1)},
		{name: "Die SIGQUIT, no core", script: `true`, die: syscall.SIGQUIT, want: killedBy(syscall.SIGQUIT)},
		{name: "Die SIGSEGV, no core", script: `true`, die: syscall.SIGSEGV, want: killedBy(syscall.SIGSEGV)},
		{name: "Die SIGABRT, no core", script: `true`, die: syscall.SIGABRT, want: killedBy(syscall.SIGABRT)},
		{name: "Die signal 64, the last", script: `true`, die: 64, want: killedBy(64)},
		{name: "command killed by SIGINT from elsewhere", script: `kill -INT $$`, want: exited(128 + 2)},
		{name: "command killed by SIGTERM from elsewhere", script: `kill -TERM $$`, want: exited(128 + 15)},
		{name: "command SIGKILLed, as by the OOM killer", script: `kill -KILL $$`, want: exited(128 + 9)},
		{name: "command killed by its own SIGSEGV", script: `ulimit -c 0; kill -SEGV $$`, want: exited(128 + 11)},
		{name: "command killed by signal 64", script: `kill -64 $$`, want: exited(128 + 64)},
		{name: "exit 130 stays an exit", script: `exit 130`, want: exited(130)},
		{name: "timeout keeps 124 after SIGKILL", script: `trap '' TERM; exec sleep 1000`, timeout: 10 * time.Millisecond, want: exited(124)},
		{name: "timeout keeps 124 after SIGTERM", script: `exec sleep 1000`, timeout: 10 * time.Millisecond, want: exited(124)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := wrapperCommand(t, grace, sh(tt.script)...)
			cmd.Env = append(cmd.Env, coreEnv+"=allow")
			if tt.timeout > 0 {
				cmd.Env = append(cmd.Env, timeoutEnv+"="+tt.timeout.String())
			}
			if tt.block != 0 {
				cmd.Env = append(cmd.Env, blockEnv+"="+strconv.Itoa(int(tt.block)))
			}
			if tt.die != 0 {
				cmd.Env = append(cmd.Env, dieEnv+"="+strconv.Itoa(int(tt.die)))
			}
			w := startWrapper(t, cmd)
			if got := w.wait(t); got != tt.want {
				t.Errorf("wrapper %s, want %s; stderr: %q", got, tt.want, readFile(t, w.stderr))
			}
			entries, err := os.ReadDir(w.dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), "core") {
					t.Errorf("the wrapper left a core file, %s", e.Name())
				}
			}
		})
	}
}

// TestWrapperAsPID1Exits: as PID 1 (of a new PID namespace) the kernel
// does not deliver a signal with the default action, so Die returns and the
// wrapper exits 128+N instead.
func TestWrapperAsPID1Exits(t *testing.T) {
	t.Parallel()
	cmd := wrapperCommand(t, patience, sh(`kill -TERM $$`)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if os.Getuid() != 0 {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	w := &wrapper{cmd: cmd, dir: t.TempDir()}
	w.stdout, w.stderr = filepath.Join(w.dir, "stdout"), filepath.Join(w.dir, "stderr")
	cmd.Stdout, cmd.Stderr = createFile(t, w.stdout), createFile(t, w.stderr)
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a process in a new PID namespace here: %v", err)
	}
	if got, want := w.wait(t), exited(128+int(syscall.SIGTERM)); got != want {
		t.Errorf("wrapper as PID 1 %s, want %s; stderr: %q", got, want, readFile(t, w.stderr))
	}
}

// TestCtrlCStopsShellLoop is the user's view of Die: Ctrl-C (SIGINT to the
// foreground process group) stops a bash loop that runs the wrapper, as it
// would stop a loop that ran the command itself. Bash goes on with a loop
// when its child exits, even with 130, and stops only when its child was
// killed by SIGINT.
func TestCtrlCStopsShellLoop(t *testing.T) {
	t.Parallel()
	bash, err := osexec.LookPath("bash")
	if err != nil {
		t.Skip("no bash:", err)
	}
	dir := t.TempDir()
	logFile, pidFile := filepath.Join(dir, "log"), filepath.Join(dir, "pids")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const loop = `for i in 1 2 3; do
		echo "iteration $i" >> "$1"
		"$2" sh -c 'echo $$ >> "$1"; exec sleep 5' sh "$3"
		echo "iteration $i ended with $?" >> "$1"
	done`
	cmd := wrapperCommand(t, patience)
	cmd.Path, cmd.Args = bash, []string{"bash", "-c", loop, "bash", logFile, self, pidFile}
	// A session of its own, like a terminal's, so that the test can
	// signal the whole foreground group as Ctrl-C does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	pids := readPIDs(t, pidFile, 1) // the wrapper is subscribed: Run waits for that before it starts the command

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "bash to end or start a second iteration", func() bool {
		select {
		case <-done:
			return true
		default:
			b, _ := os.ReadFile(logFile)
			return strings.Contains(string(b), "iteration 2")
		}
	})
	if log := readFile(t, logFile); strings.Contains(log, "iteration 2") {
		t.Fatalf("Ctrl-C did not stop the loop; bash logged:\n%s", log)
	}
	<-done
	if got := ended(cmd.ProcessState); got != killedBy(syscall.SIGINT) && got != exited(130) {
		t.Errorf("bash %s, want killed by SIGINT or exit 130", got)
	}
	waitGone(t, pids...)
}

// TestBrokenOutput: a wrapper whose stdout or stderr is a pipe nobody reads
// keeps its command's status instead of dying by SIGPIPE at its first
// message, and its command still runs with SIGPIPE neither ignored nor
// caught, so that a command writing to the broken pipe dies by SIGPIPE as
// it would without the wrapper (which then exits 141: it did not send the signal).
func TestBrokenOutput(t *testing.T) {
	t.Parallel()
	const script = `grep -E '^Sig(Ign|Cgt):' /proc/$$/status > "$1"; [ -z "$2" ] || echo "$2" >&"$2"; exit 3`
	tests := []struct {
		name   string
		broken []string // which of the wrapper's stdout and stderr are broken
		write  string   // where the command writes: "", "1" or "2"
		env    []string // for the wrapper
		want   string
	}{
		{name: "stderr", broken: []string{"stderr"}, want: exited(3)},
		{name: "stdout", broken: []string{"stdout"}, want: exited(3)},
		{name: "both", broken: []string{"stdout", "stderr"}, want: exited(3)},
		{name: "the command writes to it", broken: []string{"stderr"}, write: "2", want: exited(128 + int(syscall.SIGPIPE))},
		{
			name:   "not through NoSIGPIPE, after Subscribe",
			broken: []string{"stdout", "stderr"},
			env:    []string{signalsEnv + "=" + subscribe, chattyEnv + "=raw"},
			want:   exited(3),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mask := filepath.Join(t.TempDir(), "mask")
			cmd := wrapperCommand(t, patience, sh(script, mask, tt.write)...)
			cmd.Env = append(cmd.Env, chattyEnv+"=1")
			cmd.Env = append(cmd.Env, tt.env...) // os/exec keeps the last of duplicate names
			cmd.Stdout, cmd.Stderr = createFile(t, filepath.Join(t.TempDir(), "stdout")), createFile(t, filepath.Join(t.TempDir(), "stderr"))
			for _, which := range tt.broken {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				r.Close()
				t.Cleanup(func() { w.Close() })
				if which == "stdout" {
					cmd.Stdout = w
				} else {
					cmd.Stderr = w
				}
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w := &wrapper{cmd: cmd}
			if got := w.wait(t); got != tt.want {
				t.Errorf("wrapper %s, want %s", got, tt.want)
			}
			status := readFile(t, mask) // the command ran
			for _, field := range []string{"SigIgn", "SigCgt"} {
				if hasSignal(t, status, field, syscall.SIGPIPE) {
					t.Errorf("the command started with SIGPIPE in %s:\n%s", field, status)
				}
			}
		})
	}
}

// TestSignalBeforeRunInProcess is TestSignalBeforeRun without a wrapper
// process: a signal that Watch takes stops Run from starting the command.
// It signals the test process itself, so it must not run in parallel with
// tests whose Run would forward the signal.
func TestSignalBeforeRunInProcess(t *testing.T) {
	s := exec.Subscribe()
	t.Cleanup(s.Stop)
	s.WaitReady()
	ctx, stop := s.Watch(context.Background())
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(deadline):
		t.Fatalf("Watch's context not cancelled %v after SIGHUP", deadline)
	}
	stop()
	var watched *exec.SignalError
	if !errors.As(context.Cause(ctx), &watched) || watched.Error() != "stopped by signal 1 (hangup) before the command started" {
		t.Errorf("context.Cause(watched) = %v, want SIGHUP before the command started", context.Cause(ctx))
	}

	marker := filepath.Join(t.TempDir(), "ran")
	c := command(sh(`echo ran > "$1"`, marker)...)
	c.Signals = s
	err := run(t, context.Background(), c)
	var stopped *exec.SignalError
	if !errors.As(err, &stopped) || stopped.Signal != syscall.SIGHUP || status(err) != 128+1 ||
		err.Error() != "stopped by signal 1 (hangup) before sh started" {
		t.Errorf("Run() = %v (status %d), want SIGHUP before sh started (129)", err, status(err))
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the command ran (stat: %v)", err)
	}
}

// TestWatchStopTwice: stop may be called again, as a deferred call after an
// explicit one would, and a stopped Watch reports no signal.
func TestWatchStopTwice(t *testing.T) {
	s := exec.Subscribe()
	t.Cleanup(s.Stop)
	ctx, stop := s.Watch(context.Background())
	stop()
	stop()
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("context.Cause(watched) = %v after stop, want context.Canceled", err)
	}
}

func TestForwardedSignalEscalates(t *testing.T) {
	t.Parallel()
	t.Run("SIGKILL after KillAfter", func(t *testing.T) {
		t.Parallel()
		pidFile := filepath.Join(t.TempDir(), "pids")
		script := `trap '' TERM; sleep 1000 & echo $! >> "$1"; echo $$ >> "$1"; wait`
		w := startWrapper(t, wrapperCommand(t, grace, sh(script, pidFile)...))
		pids := readPIDs(t, pidFile, 2)

		signalled := time.Now()
		w.signal(t, syscall.SIGTERM)
		if got := w.wait(t); got != killedBy(syscall.SIGTERM) {
			t.Errorf("wrapper %s, want death by SIGTERM, the signal it received and forwarded, not the command's SIGKILL", got)
		}
		if took := time.Since(signalled); took < grace {
			t.Errorf("SIGKILL came %v after SIGTERM, before KillAfter %v", took, grace)
		}
		waitGone(t, pids...)
	})
	t.Run("second signal kills at once", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		pidFile, logFile := filepath.Join(dir, "pids"), filepath.Join(dir, "log")
		// The sleep ignores SIGTERM; sh logs each one and waits on.
		script := `trap '' TERM; sleep 1000 & echo $! >> "$1"
			trap 'echo TERM >> "$2"' TERM; echo $$ >> "$1"
			while :; do wait; done`
		w := startWrapper(t, wrapperCommand(t, patience, sh(script, pidFile, logFile)...))
		pids := readPIDs(t, pidFile, 2)

		w.signal(t, syscall.SIGTERM)
		poll.Until(t, "the command to log the forwarded SIGTERM", func() bool {
			b, _ := os.ReadFile(logFile)
			return string(b) == "TERM\n"
		})
		w.signal(t, syscall.SIGTERM)
		if got := w.wait(t); got != killedBy(syscall.SIGTERM) {
			t.Errorf("wrapper %s, want death by SIGTERM, the signal it received and forwarded, not the command's SIGKILL", got)
		}
		waitGone(t, pids...)
	})
}

// TestRunWaitError: when something else in the process reaps the command
// (here the kernel, because the wrapper ignores SIGCHLD), Run says that the
// command ran and its status is lost, not that it failed to start, and the
// error has no ExitStatus for a wrapper to pass on.
func TestRunWaitError(t *testing.T) {
	t.Parallel()
	ran := filepath.Join(t.TempDir(), "ran")
	cmd := wrapperCommand(t, patience, sh(`echo ran > "$1"; exit 3`, ran)...)
	cmd.Env = append(cmd.Env, sigchldEnv+"=ignore")
	w := startWrapper(t, cmd)
	if got := w.wait(t); got != exited(125) {
		t.Errorf("wrapper %s, want exit 125: the status is lost, not the command's 3", got)
	}
	if got := readFile(t, ran); got != "ran\n" {
		t.Errorf("the command wrote %q, want it to have run", got)
	}
	want := "wrapper: wait for sh: no child processes; it ran, but how it ended is unknown"
	if got := readFile(t, w.stderr); !strings.HasPrefix(got, want) {
		t.Errorf("stderr %q, want it to start with %q", got, want)
	}
}

// TestWrapperSIGKILLed pins down what survives a wrapper that is SIGKILLed
// and so never gets to clean up: Pdeathsig kills the command, even after
// it execs, but a process the command started is reparented to init and
// lives on. Run cannot prevent that from inside a process that has died;
// only something outside it (a pid namespace, a cgroup, a supervisor that
// kills the tree) could.
func TestWrapperSIGKILLed(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pids")
	script := `sleep 1000 & echo $! >> "$1"; echo $$ >> "$1"; exec sleep 1000`
	w := startWrapper(t, wrapperCommand(t, patience, sh(script, pidFile)...))
	pids := readPIDs(t, pidFile, 2)
	background, command := pids[0], pids[1]

	w.signal(t, syscall.SIGKILL)
	if got := w.wait(t); got != killedBy(syscall.SIGKILL) {
		t.Fatalf("wrapper %s, want death by SIGKILL", got)
	}
	waitGone(t, command)
	if ok, state := alive(background); !ok {
		t.Fatalf("the command's background job %d is gone (%s): Run now guarantees more than documented, update the docs", background, state)
	}
	_ = syscall.Kill(background, syscall.SIGKILL)
	waitGone(t, background)
}

// TestRunSurvivesThreadExits retires OS threads while commands run, as a
// goroutine that returns while locked to its thread does. If one of them
// were the thread that forked a command, Pdeathsig would SIGKILL that
// command; Run keeps the thread locked so it never is. Each command must
// instead live until Run stops it with SIGTERM.
//
// Without the lock the forking thread is in danger only if Run's goroutine
// leaves it between the fork and the wait, which takes a preemption, so
// the test starts the commands while another goroutine makes garbage: the
// collector then preempts Run's goroutine during about half the starts,
// and after each start the test retires threads until the one left idle
// is among them. Without the lock, 16 starts make this fail in nearly
// every run (see the commit message for the figures).
func TestRunSurvivesThreadExits(t *testing.T) {
	// Not parallel: the garbage would slow every other test.
	const commands = 16
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				b := make([]byte, 128<<10) // too big for the stack: garbage
				_ = b
			}
		}
	}()
	dir := t.TempDir()
	var (
		cmds    []*exec.Command
		results []<-chan error
		pids    []int
	)
	for i := range commands {
		pidFile := filepath.Join(dir, strconv.Itoa(i))
		c := command(sh(`echo $$ > "$1"; exec sleep 1000`, pidFile)...)
		c.KillAfter = patience
		cmds, results = append(cmds, c), append(results, start(ctx, c))
		pids = append(pids, readPIDs(t, pidFile, 1)...)
		for range 16 { // more threads than the process keeps idle
			retired := make(chan struct{})
			go func() {
				runtime.LockOSThread()
				close(retired) // returning still locked ends the thread
			}()
			<-retired
		}
	}
	close(stop)
	cancel()
	for i, c := range cmds {
		err := wait(t, c, results[i])
		var e *exec.ExitError
		if !errors.As(err, &e) || !e.TimedOut || e.Signal != syscall.SIGTERM {
			t.Errorf("command %d: Run() = %v, want a timeout ended by SIGTERM: the command died before it was stopped", i, err)
		}
	}
	waitGone(t, pids...)
}

func TestStdioDefaultsToDevNull(t *testing.T) {
	t.Parallel()
	// The wrapper's stdin is a pipe that stays open: a command that read
	// it rather than /dev/null would block in cat until the deadline.
	stdin, keepOpen, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); keepOpen.Close() })
	cmd := wrapperCommand(t, patience, sh(`cat; echo to stdout; echo to stderr >&2`)...)
	cmd.Env = exec.Env(cmd.Env).Set(stdioEnv, "null")
	cmd.Stdin = stdin
	w := startWrapper(t, cmd)
	if got := w.wait(t); got != exited(0) {
		t.Fatalf("wrapper %s, want exit 0; stderr: %q", got, readFile(t, w.stderr))
	}
	for _, f := range []string{w.stdout, w.stderr} {
		if got := readFile(t, f); got != "" {
			t.Errorf("wrapper's %s got %q, want nothing", filepath.Base(f), got)
		}
	}
}

// TestInheritedIgnoredSignals pins which signals inherited as ignored stay
// ignored, as a shell's trap "" SIG before exec, nohup (HUP) or a background job
// of a non-interactive shell (INT, QUIT) leave them: SIGHUP and SIGINT do,
// in the wrapper and the command, and are not forwarded; SIGTERM and
// SIGQUIT do not, because the Go runtime installs its own handlers for them
// at start-up and keeps no public record of the inherited action, so they
// are forwarded and the command starts with the default action.
func TestInheritedIgnoredSignals(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{runSubscribes, subscribe} {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGQUIT} {
			t.Run(fmt.Sprintf("%s/%v", cmp.Or(mode, "run subscribes"), sig), func(t *testing.T) {
				t.Parallel()
				testInheritedIgnoredSignals(t, mode, sig)
			})
		}
	}
}

func testInheritedIgnoredSignals(t *testing.T, mode string, sig syscall.Signal) {
	pidFile := filepath.Join(t.TempDir(), "pids")
	script := `trap 'exit 7' TERM QUIT; sleep 1000 & echo $! >> "$1"; echo $$ >> "$1"; wait`
	cmd := wrapperCommand(t, patience, sh(script, pidFile)...)
	shPath, err := osexec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(cmd.Env, signalsEnv+"="+mode)
	cmd.Args = append([]string{"sh", "-c", `trap '' HUP INT QUIT TERM; exec "$0" "$@"`}, cmd.Args...)
	cmd.Path = shPath
	w := startWrapper(t, cmd)
	pids := readPIDs(t, pidFile, 2)
	command := pids[1]

	for who, pid := range map[string]int{"wrapper": w.cmd.Process.Pid, "command": command} {
		for _, s := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT} {
			if !ignores(t, pid, s) {
				t.Errorf("the %s does not ignore %v, which it inherited as ignored", who, s)
			}
		}
		for _, s := range []syscall.Signal{syscall.SIGTERM, syscall.SIGQUIT} {
			if ignores(t, pid, s) {
				t.Errorf("the %s ignores %v: Go now keeps it, update the docs and this test", who, s)
			}
		}
	}
	// Were SIGHUP or SIGINT forwarded, the command would ignore it, but
	// the wrapper would take the next signal as a second one and SIGKILL.
	w.signal(t, syscall.SIGHUP)
	w.signal(t, syscall.SIGINT)
	w.signal(t, sig)
	if got := w.wait(t); got != exited(7) {
		t.Errorf("wrapper %s, want exit 7: SIGHUP and SIGINT ignored, %v forwarded to the command", got, sig)
	}
	waitGone(t, pids...)
}

func BenchmarkRunTrue(b *testing.B) {
	c := &exec.Command{Args: []string{"/bin/true"}}
	ctx := context.Background()
	for b.Loop() {
		if err := c.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// sh returns the arguments that run script with sh -c, with args as $1....
func sh(script string, args ...string) []string {
	return append([]string{"sh", "-c", script, "sh"}, args...)
}

// command returns a Command for args with this process's environment.
func command(args ...string) *exec.Command {
	return &exec.Command{Args: args, Env: exec.Environ()}
}

// start runs c in the background; its error arrives on the channel.
func start(ctx context.Context, c *exec.Command) <-chan error {
	result := make(chan error, 1)
	go func() { result <- c.Run(ctx) }()
	return result
}

// wait returns Run's error from result, failing the test if it takes longer
// than deadline.
func wait(t *testing.T, c *exec.Command, result <-chan error) error {
	t.Helper()
	select {
	case err := <-result:
		return err
	case <-time.After(deadline):
		t.Fatalf("Run(%q) still running after %v", c.Args, deadline)
		return nil
	}
}

// run is Run with a deadline for the test.
func run(t *testing.T, ctx context.Context, c *exec.Command) error {
	t.Helper()
	return wait(t, c, start(ctx, c))
}

// readPIDs waits until the file at path holds n lines and returns the pids
// on them. If the test fails, those still alive are SIGKILLed at cleanup.
func readPIDs(t *testing.T, path string, n int) []int {
	t.Helper()
	var lines []string
	poll.Until(t, fmt.Sprintf("%d pids in %s", n, path), func() bool {
		b, _ := os.ReadFile(path)
		lines = strings.Split(string(b), "\n")
		return len(lines) > n // complete lines only: the last element is after the final newline
	})
	pids := make([]int, n)
	for i := range pids {
		pid, err := strconv.Atoi(lines[i])
		if err != nil {
			t.Fatalf("%s line %d: %v", path, i+1, err)
		}
		pids[i] = pid
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, pid := range pids {
			if ok, _ := alive(pid); ok {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return pids
}

// alive reports whether pid names a process that has not exited, with what
// /proc says about it. A zombie whose parent is not this test process counts
// as exited: it is dead, reparented to init or a subreaper, and reaping it
// is their job (PID 1 in a container need not reap promptly). A zombie of
// ours would mean Run did not reap its command, so it counts as alive. Pid
// reuse during a test of a few seconds is not considered.
func alive(pid int) (bool, string) {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false, "no such process"
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false, err.Error() // it exited between the two looks
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	state, ppid := fields[0], fields[1]
	describe := fmt.Sprintf("state %s, parent %s", state, ppid)
	return state != "Z" || ppid == strconv.Itoa(os.Getpid()), describe
}

// waitGone waits until none of pids is alive.
func waitGone(t *testing.T, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		var state string
		limit := time.Now().Add(deadline)
		for {
			var ok bool
			if ok, state = alive(pid); !ok {
				break
			}
			if time.Now().After(limit) {
				t.Fatalf("pid %d still alive after %v (%s)", pid, deadline, state)
			}
			time.Sleep(tick)
		}
	}
}

// hasSignal reports whether the mask in field (SigIgn, SigCgt...) of
// /proc/PID/status text holds sig.
func hasSignal(t *testing.T, status, field string, sig syscall.Signal) bool {
	t.Helper()
	for line := range strings.Lines(status) {
		if hex, ok := strings.CutPrefix(line, field+":"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return mask&(1<<(sig-1)) != 0
		}
	}
	t.Fatalf("no %s in %q", field, status)
	return false
}

// ignores reports whether /proc says pid ignores sig.
func ignores(t *testing.T, pid int, sig syscall.Signal) bool {
	t.Helper()
	return hasSignal(t, readFile(t, fmt.Sprintf("/proc/%d/status", pid)), "SigIgn", sig)
}

// wrapper is the test binary running as a wrapper (see wrap).
type wrapper struct {
	cmd            *osexec.Cmd
	dir            string // its working directory
	stdout, stderr string // files holding its output
}

// wrapperCommand returns the command that runs args under the test binary
// as a wrapper with KillAfter killAfter.
func wrapperCommand(t *testing.T, killAfter time.Duration, args ...string) *osexec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := osexec.Command(self, args...)
	cmd.Env = exec.Environ().Set(wrapperEnv, "1").Set(killAfterEnv, killAfter.String()).
		// Under -race, a process exiting 0 sleeps a second for other
		// goroutines' reports unless told not to.
		Set("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return cmd
}

// startWrapper starts cmd with its output going to files. At cleanup a
// wrapper the test has not waited for is SIGKILLed.
func startWrapper(t *testing.T, cmd *osexec.Cmd) *wrapper {
	t.Helper()
	dir := t.TempDir()
	w := &wrapper{cmd: cmd, dir: dir, stdout: filepath.Join(dir, "stdout"), stderr: filepath.Join(dir, "stderr")}
	cmd.Dir = dir // where a core file would go
	// Files, not buffers: a process left holding a pipe would keep
	// cmd.Wait waiting for EOF.
	cmd.Stdout, cmd.Stderr = createFile(t, w.stdout), createFile(t, w.stderr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return w
}

// signal sends sig to the wrapper process alone.
func (w *wrapper) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(w.cmd.Process.Pid, sig); err != nil {
		t.Fatalf("kill -%d %d: %v", sig, w.cmd.Process.Pid, err)
	}
}

// wait waits for the wrapper to end and returns how, as exited or
// killedBy word it. It fails the test after deadline.
func (w *wrapper) wait(t *testing.T) string {
	t.Helper()
	done := make(chan struct{})
	go func() { _ = w.cmd.Wait(); close(done) }()
	select {
	case <-done:
		return ended(w.cmd.ProcessState)
	case <-time.After(deadline):
		_ = w.cmd.Process.Kill()
		<-done
		t.Fatalf("wrapper still running after %v; stderr: %q", deadline, readFile(t, w.stderr))
		return ""
	}
}

// ended says how a process ended: exited(N), or killedBy(sig) with
// " (core dumped)" after it if it dumped core.
func ended(ps *os.ProcessState) string {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		return ps.String()
	case ws.Signaled() && ws.CoreDump():
		return killedBy(ws.Signal()) + " (core dumped)"
	case ws.Signaled():
		return killedBy(ws.Signal())
	default:
		return exited(ws.ExitStatus())
	}
}

// exited is how ended words an exit with status n.
func exited(n int) string { return fmt.Sprintf("exited %d", n) }

// killedBy is how ended words a death by sig.
func killedBy(sig syscall.Signal) string {
	return fmt.Sprintf("killed by signal %d (%v)", int(sig), sig)
}

func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func createFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
