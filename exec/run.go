// Package exec runs one command to completion under supervision, the way
// coreutils timeout(1) and krallin/tini do: in a process group of its own,
// stopped with SIGTERM and then SIGKILL when a context is done, with SIGINT,
// SIGTERM, SIGHUP and SIGQUIT forwarded to it, and with its status passed up
// through errors that implement ExitStatus() int.
//
// Of the forwarded signals, only SIGHUP and SIGINT inherited as ignored
// (nohup, a shell's trap "" INT, a background job of a non-interactive
// shell) stay ignored, here and in the command. For SIGTERM and SIGQUIT
// the Go runtime installs its own handler at start-up, before any package
// code runs, whatever the inherited action, and records that action only
// in a runtime variable (fwdSig) that no API reads; signal.Ignored reports
// false. So an inherited ignore of SIGTERM or SIGQUIT is lost: they are
// forwarded, and the command starts with their default action.
//
// Nothing the command starts outlives Run: when the command exits, or is
// stopped, whatever is left in its process group is SIGKILLed. Processes
// that leave the group (setsid, setpgid, daemons) are never tracked, and
// one that holds the command's output pipe (Command.Tail) does not delay
// Run either.
//
// Run works on Linux and macOS, with the same statuses, process group,
// forwarding, timeout and clearing of the group. Two guarantees are
// Linux-only:
//
//   - If this process is itself SIGKILLed, so that Run never gets to act,
//     the kernel SIGKILLs the command (Pdeathsig), but not processes the
//     command started: those are reparented to init and keep running. On
//     macOS the command too keeps running.
//   - The command is not reaped until its group has been SIGKILLed
//     (waitid with WNOWAIT), so the group's id cannot have been given to
//     anyone else. On macOS the command is reaped first; its leftovers
//     keep the id in use, and only when it left none can the SIGKILL,
//     sent at once, reach a group created since with the same id.
//
// Die, too, acts only on Linux (see Die). Elsewhere Run returns an error
// that wraps errors.ErrUnsupported, without starting the command.
//
// What it promises an importer: the exit statuses of timeout(1) and tini
// (ExitStatus, above), and that Run says how the command ended in errors
// told apart with errors.As: *ExitError (it ran), *StartError (it could not
// be started), *SignalError (a forwarded signal came first) and *WaitError
// (its status was lost). Error texts may change. It knows nothing of tokens
// or locate, and no command's flags.
package exec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultKillAfter is the grace period between SIGTERM and SIGKILL when
// Command.KillAfter is not positive.
const DefaultKillAfter = 5 * time.Second

// Exit statuses for commands that did not exit by themselves, as coreutils
// timeout(1), env(1) and POSIX shells report them.
const (
	statusTimedOut      = 124 // coreutils timeout: the command timed out
	statusNotExecutable = 126 // coreutils env, POSIX sh: found but could not be run
	statusNotFound      = 127 // coreutils env, POSIX sh: not found
	statusSignalBase    = 128 // POSIX sh, tini: 128+N for death by signal N
)

// Command is one supervised run of a program.
type Command struct {
	// Args is the program and its arguments. Args[0] is looked up in this
	// process's PATH with os/exec.LookPath, except that a name found in
	// PATH without execute permission is reported as not executable (126)
	// rather than not found (127), as execvp(3) and coreutils env do.
	Args []string
	// Env is the child's whole environment. Nil means an empty one, as
	// with env -i, not this process's: start from Environ().
	Env Env
	// Stdout and Stderr are handed to the child as they are, so no
	// goroutine copies its output and nothing it leaves behind holding them
	// can delay Run. Nil means /dev/null, or the pipe of Tail. Stdin is
	// always /dev/null.
	Stdout *os.File
	Stderr *os.File
	// Tail, when positive, is how many bytes of output to keep for
	// ExitError.Output: the child's stdout and stderr, those of them that
	// are nil, get one pipe, so that they interleave as on a terminal, and
	// Run keeps the last Tail bytes in a ring while the command runs.
	// Memory stays bounded whatever the command writes; the cost is one
	// copy of its output. Zero means no pipe: nil is /dev/null.
	Tail int
	// KillAfter is how long the command has, after SIGTERM or a forwarded
	// signal, before its process group is SIGKILLed (coreutils timeout -k).
	// Zero or less means DefaultKillAfter.
	KillAfter time.Duration
	// Signals, when not nil, is a subscription the caller made with
	// Subscribe; Run forwards what arrives on it and leaves it in place.
	// Nil means Run subscribes for its own duration.
	Signals *Signals
}

// Run starts the command and waits for it. It returns nil when the command
// exits 0 by itself. Every error that says how the command ended implements
// ExitStatus() int: an *ExitError if it ran (with the last Tail bytes of
// its output), a *StartError if it could not
// be started, a *SignalError if a forwarded signal arrived on Signals before
// it started. A *WaitError means that the command started but Run lost
// track of it, so how it ended is unknown. Any other error (no Args, not
// Linux or macOS, ctx already done, /dev/null, pipe(2) or fork(2) failing) means Run itself
// failed and the command did not run.
//
// When ctx is done the command's process group gets SIGTERM, then SIGKILL
// after KillAfter, and Run reports a timeout (124). Do not cancel ctx on
// SIGINT or SIGTERM: Run forwards those itself and reports the command's
// own status, which cancelling would replace with 124.
//
// While Run runs, SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to this process
// are forwarded to the command's process group, except SIGHUP and SIGINT
// if this process inherited them as ignored (see the package doc). KillAfter after a forwarded signal the group is SIGKILLed, and once the
// group has been asked to stop (ctx done or a signal forwarded), any further
// signal SIGKILLs it at once. Unless ctx was done, Run reports the
// command's own status: one that traps SIGTERM and exits 7 gives 7, one
// killed by it 143. When the command exits, Run SIGKILLs whatever is left
// in its group, without a grace period.
//
// The command runs in a new process group, so it is not in a terminal's
// foreground group; with stty tostop set, writing to the terminal stops it.
func (c *Command) Run(ctx context.Context) error {
	if len(c.Args) == 0 || c.Args[0] == "" {
		return errors.New("no command to run")
	}
	name := c.Args[0]
	if err := supported(); err != nil {
		return fmt.Errorf("run %s: %w", name, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s not started: %w", name, context.Cause(ctx))
	}
	path, err := lookPath(name)
	if err != nil {
		return &StartError{Name: name, Path: path, Err: err}
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	defer devNull.Close()
	stdout, stderr := orDevNull(c.Stdout, devNull), orDevNull(c.Stderr, devNull)
	var out *tail
	pipe := devNull // closed, when it is the tail's, once the command has its copy
	if c.Tail > 0 && (c.Stdout == nil || c.Stderr == nil) {
		if pipe, out, err = startTail(c.Tail); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		stdout, stderr = orDevNull(c.Stdout, pipe), orDevNull(c.Stderr, pipe)
	}
	closePipe := func() {
		if pipe != devNull {
			pipe.Close()
		}
	}

	// Subscribe before Start so that a signal arriving just after the fork
	// is forwarded, not acted on here by default, which would end us and,
	// through Pdeathsig, kill the command without a grace period.
	sigs := c.Signals
	if sigs == nil {
		sigs = Subscribe()
		defer sigs.Stop()
	}
	if sig := sigs.pending(); sig != 0 {
		closePipe()
		out.stop()
		return &SignalError{Name: name, Signal: sig}
	}

	// On Linux, Pdeathsig fires when the OS thread that forked the child
	// exits, not when the process does. The Go runtime ends a thread when
	// a goroutine locked to it returns without unlocking, and any
	// goroutine (a library's included) may run on, lock and end the
	// thread we forked from once we leave it. Locking this goroutine to
	// its thread from before the fork until the child has been reaped
	// keeps that thread ours alone, so only the death of this process
	// fires Pdeathsig. The cost is one OS thread per running command,
	// blocked in the wait (see supervise); elsewhere the lock is harmless.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	// os.StartProcess rather than os/exec.Cmd. Cmd could do the signalling:
	// its Cancel is a function we supply, which can signal the group, and
	// WaitDelay bounds the wait for a pipe a daemon holds open. What it
	// cannot do is wait without reaping: Cmd.Wait reaps the command before
	// it returns, so clearing out the group afterwards could hit a stranger
	// given the same id, where waitExited keeps the zombie (on Linux) until
	// the group is SIGKILLed. Its Cancel also runs only for the context:
	// forwarded signals, with their escalation, and the first signal kept
	// for DeathSignal, would need a watcher like ours anyway. And the wait
	// happens on the thread locked above (Pdeathsig), in waitid, where
	// Cmd.Wait would park the goroutine. Without Cmd, the tail is one pipe
	// that the command's exit, not a WaitDelay, ends.
	proc, err := os.StartProcess(path, c.Args, &os.ProcAttr{
		Env:   append([]string{}, c.Env...), // non-nil: nil would mean our own environment
		Files: []*os.File{devNull, stdout, stderr},
		Sys:   sysProcAttr(),
	})
	closePipe()
	if err != nil {
		out.stop()
		return startError(name, path, err)
	}
	return c.supervise(ctx, name, proc, sigs.c, out)
}

// supervise waits for the started command while a watcher goroutine stops
// its process group when ctx is done, forwards signals and escalates to
// SIGKILL. The wait itself is a blocking system call on this goroutine,
// which Run has locked to its thread: when the command exits, the thread
// simply returns from it, where waiting on a channel would make the
// runtime hand this goroutine back to its locked thread, a switch between
// threads that costs more than the rest of the wait on a busy machine.
// out, when not nil, is the tail of the command's output.
func (c *Command) supervise(ctx context.Context, name string, proc *os.Process, sigs <-chan os.Signal, out *tail) error {
	started := time.Now()
	killAfter := c.KillAfter
	if killAfter <= 0 {
		killAfter = DefaultKillAfter
	}
	w := &watcher{pgid: proc.Pid} // Setpgid with Pgid 0: the group's id is the leader's pid
	exited := make(chan struct{})
	go w.watch(ctx, sigs, killAfter, exited)

	state, err := waitExited(proc)
	timedOut, received, cause := w.finish()
	close(exited)
	if err != nil {
		// Someone else reaped the command, so its pid, and with it the
		// group id, may already name a stranger.
		_ = proc.Release()
		out.stop()
		return &WaitError{Name: name, Err: err}
	}
	// On Linux the command is a zombie holding its pid, so the group id
	// still means its group: clear out what it left behind.
	signalGroup(w.pgid, syscall.SIGKILL)
	if state == nil {
		if state, err = proc.Wait(); err != nil {
			out.stop()
			return &WaitError{Name: name, Err: err}
		}
	}
	output := out.stop()
	e := &ExitError{
		Name:     name,
		Code:     state.ExitCode(), // -1 when a signal ended it
		TimedOut: timedOut,
		Cause:    cause,
		Received: received,
		Elapsed:  time.Since(started),
		Output:   output,
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = ws.Signal()
	}
	if e.Code == 0 && !timedOut {
		return nil
	}
	return e
}

// watcher signals one command's process group on behalf of supervise, until
// supervise calls finish.
type watcher struct {
	pgid int

	mu       sync.Mutex
	finished bool           // the command has exited: signal nothing more
	timedOut bool           // ctx was done while the command ran
	cause    error          // context.Cause(ctx) when timedOut
	received syscall.Signal // the first signal forwarded, or 0
}

// watch stops the group when ctx is done, forwards signals from sigs, and
// SIGKILLs the group killAfter after asking it to stop, until exited is
// closed. SIGCONT follows each stop signal so that a stopped process can act
// on it, as coreutils timeout does. Once the group has been asked to stop,
// any further signal SIGKILLs it at once.
func (w *watcher) watch(ctx context.Context, sigs <-chan os.Signal, killAfter time.Duration, exited <-chan struct{}) {
	var (
		killTimer *time.Timer // set once the group has been asked to stop
		kill      <-chan time.Time
	)
	defer func() {
		if killTimer != nil {
			killTimer.Stop()
		}
	}()
	stop := func(sig syscall.Signal) {
		w.signal(sig, syscall.SIGCONT)
		if killTimer == nil {
			killTimer = time.NewTimer(killAfter)
			kill = killTimer.C
		}
	}
	done := ctx.Done()
	for {
		select {
		case <-exited:
			return
		case <-done:
			done = nil
			if w.timeOut(context.Cause(ctx)) {
				stop(syscall.SIGTERM)
			}
		case s := <-sigs:
			if killTimer != nil {
				// Asked again while stopping: no more grace.
				w.signal(syscall.SIGKILL)
				continue
			}
			sig, _ := s.(syscall.Signal)
			w.receive(sig)
			stop(sig)
		case <-kill:
			kill = nil
			w.signal(syscall.SIGKILL)
		}
	}
}

// timeOut records that ctx was done while the command ran, and reports
// whether that happened before the command exited.
func (w *watcher) timeOut(cause error) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return false
	}
	w.timedOut, w.cause = true, cause
	return true
}

// receive records sig as the signal forwarded, unless the command has
// exited.
func (w *watcher) receive(sig syscall.Signal) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.finished && w.received == 0 {
		w.received = sig
	}
}

// signal sends each of sigs to the group unless the command has exited.
func (w *watcher) signal(sigs ...syscall.Signal) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return
	}
	for _, sig := range sigs {
		signalGroup(w.pgid, sig)
	}
}

// finish stops all signalling, so that the command can be reaped and its
// pid reused without risk, and reports whether ctx was done while it ran
// and the first signal forwarded to it.
func (w *watcher) finish() (timedOut bool, received syscall.Signal, cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.finished = true
	return w.timedOut, w.received, w.cause
}

// orDevNull returns f, or devNull when f is nil.
func orDevNull(f, devNull *os.File) *os.File {
	if f == nil {
		return devNull
	}
	return f
}

// ExitError says how a command that started ended: with a nonzero status,
// killed by a signal, or stopped because Run's context was done.
type ExitError struct {
	Name     string         // the command, Args[0]
	Code     int            // its exit status, or -1 when a signal ended it
	Signal   syscall.Signal // the signal that ended it, or 0 when it exited
	TimedOut bool           // Run's context was done while it ran, so Run stopped it
	Cause    error          // context.Cause of Run's context when TimedOut, else nil
	// Received is the first signal that this process received while the
	// command ran and forwarded to it, or 0. The command may have died of
	// another (SIGKILL after KillAfter) or not of a signal at all.
	Received syscall.Signal
	Elapsed  time.Duration // how long it ran
	// Output is the last Command.Tail bytes of the command's output: nil
	// when Tail was zero or both Stdout and Stderr were given, empty when
	// the command wrote nothing. It may begin and end in the middle of a line,
	// and of a character; it is what the command wrote, secrets included.
	Output []byte
}

// ExitStatus returns the status a wrapper should exit with: 124 when the
// command timed out, whatever ended it (coreutils timeout gives 124 too,
// but 137 when its -k SIGKILL was needed; here a probe that hung always
// reads as a timeout); 128+N when a signal killed it (POSIX shells, tini),
// N being the one this process received and forwarded if there was one
// (see DeathSignal), else the command's own; else its own exit status.
func (e *ExitError) ExitStatus() int {
	switch {
	case e.TimedOut:
		return statusTimedOut
	case e.Signal == 0:
		return e.Code
	case e.Received != 0:
		return statusSignalBase + int(e.Received)
	default:
		return statusSignalBase + int(e.Signal)
	}
}

// Error says how the command ended, for example "ndt7-client exited with
// status 3" or "ndt7-client timed out and was stopped after 30s: killed by
// signal 9 (killed)".
func (e *ExitError) Error() string {
	how := fmt.Sprintf("exited with status %d", e.Code)
	if e.Signal != 0 {
		how = fmt.Sprintf("killed by signal %d (%v)", int(e.Signal), e.Signal)
	}
	if !e.TimedOut {
		return e.Name + " " + how
	}
	why := "timed out"
	if !errors.Is(e.Cause, context.DeadlineExceeded) {
		why = fmt.Sprintf("was cancelled (%v)", e.Cause)
	}
	return fmt.Sprintf("%s %s and was stopped after %v: %s", e.Name, why, e.Elapsed.Round(time.Millisecond), how)
}

// Unwrap returns the context's cause when the command timed out, so that
// errors.Is(err, context.DeadlineExceeded) works.
func (e *ExitError) Unwrap() error { return e.Cause }

// WaitError says the command started but Run could not wait for it, so how
// it ended is unknown: something else in this process reaped it (a wait for
// any child, SIGCHLD set to SIG_IGN). It has no ExitStatus, because the
// command's status is lost; a wrapper reports its own failure (125).
type WaitError struct {
	Name string // the command, Args[0]
	Err  error  // from waitid(2) or wait4(2)
}

// Error says the command ran and that its status is lost.
func (e *WaitError) Error() string {
	return fmt.Sprintf("wait for %s: %v; it ran, but how it ended is unknown (did something else in this process reap it?)", e.Name, innermost(e.Err))
}

// Unwrap returns the underlying error.
func (e *WaitError) Unwrap() error { return e.Err }

// StartError says the command could not be started: not found (127), or
// found but not executable (126), as coreutils env reports them.
type StartError struct {
	Name string // the command, Args[0]
	Path string // the file that was found, or "" if none was
	Err  error  // from the PATH lookup or from execve(2)
}

// ExitStatus returns 127 when the command, or the interpreter or loader it
// names, does not exist (coreutils env: ENOENT), else 126.
func (e *StartError) ExitStatus() int {
	if errors.Is(e.Err, exec.ErrNotFound) || errors.Is(e.Err, fs.ErrNotExist) {
		return statusNotFound
	}
	return statusNotExecutable
}

// Error names the command and says what to check.
func (e *StartError) Error() string {
	what := e.Name
	if e.Path != "" && e.Path != e.Name {
		what = fmt.Sprintf("%s (%s)", e.Name, e.Path)
	}
	switch {
	case errors.Is(e.Err, exec.ErrNotFound):
		return "command not found in PATH: " + e.Name
	case errors.Is(e.Err, fs.ErrNotExist) && e.Path == "":
		return "command not found: " + e.Name
	case errors.Is(e.Err, fs.ErrNotExist):
		return fmt.Sprintf("cannot run %s: its #! interpreter or dynamic loader does not exist", what)
	case errors.Is(e.Err, syscall.ENOEXEC):
		return fmt.Sprintf("cannot run %s: exec format error; check it is built for this machine or that a script starts with #!", what)
	case errors.Is(e.Err, fs.ErrPermission):
		return fmt.Sprintf("cannot run %s: permission denied; check it is an executable file", what)
	default:
		return fmt.Sprintf("cannot run %s: %v", what, innermost(e.Err))
	}
}

// Unwrap returns the underlying error.
func (e *StartError) Unwrap() error { return e.Err }

// startError classifies an os.StartProcess error: the kernel refusing to
// run the file is a StartError, while fork(2) or a resource limit failing
// us is a plain error, our failure rather than the command's (125 in
// coreutils timeout and env).
func startError(name, path string, err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("start %s: %w", name, err)
	}
	switch errno {
	case syscall.EAGAIN, syscall.ENOMEM, syscall.EMFILE, syscall.ENFILE:
		return fmt.Errorf("start %s: %w", name, err)
	}
	return &StartError{Name: name, Path: path, Err: err}
}

// lookPath is exec.LookPath, except that when a bare name is not found but
// PATH holds a regular file of that name without execute permission, it
// reports that file as not executable, as execvp(3) does, instead of not
// found.
func lookPath(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err == nil || strings.Contains(name, "/") || !errors.Is(err, exec.ErrNotFound) {
		return path, err
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "." // as in exec.LookPath and the shells
		}
		p := filepath.Join(dir, name)
		if fi, statErr := os.Stat(p); statErr == nil && fi.Mode().IsRegular() {
			return p, syscall.EACCES
		}
	}
	return path, err
}

// innermost strips the *exec.Error, *fs.PathError and *os.SyscallError
// wrappers from err, whose text repeats the command name or the system
// call, leaving the reason.
func innermost(err error) error {
	for {
		switch e := err.(type) {
		case *exec.Error:
			err = e.Err
		case *fs.PathError:
			err = e.Err
		case *os.SyscallError:
			err = e.Err
		default:
			return err
		}
	}
}

// signalGroup sends sig to every process in the process group pgid. Errors
// are dropped: ESRCH means the group is gone, which is what was wanted, and
// any other (EPERM after a set-user-ID exec) leaves nothing better to do
// than wait.
func signalGroup(pgid int, sig syscall.Signal) {
	_ = syscall.Kill(-pgid, sig)
}
