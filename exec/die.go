package exec

import (
	"errors"
	"syscall"
)

// DeathSignal returns the signal a wrapper should die by, so that whoever
// sent it sees what they would see without the wrapper: the signal this
// process received and forwarded to the command, when the command then
// died of a signal (an *ExitError with Received and Signal set, not
// TimedOut), or the forwarded signal that stopped the run before the
// command started (a *SignalError). ok is false for every other outcome.
// A command killed by a signal this process did not send (the OOM killer's
// SIGKILL, its own SIGSEGV, a kill from elsewhere) gives ok false and
// 128+N from ExitStatus: a parent such as Prometheus' script_exporter
// reads a death by signal as -1, losing N. A command that survives the
// forwarded signal and exits keeps its status, as does a timed-out one 124
// (coreutils timeout), whatever signal ended it, because a probe that hung
// is what operators alert on.
//
// A shell stops a loop or a script when a child is killed by SIGINT, not
// when it exits 130, so a wrapper that only exits 128+N makes Ctrl-C stop
// one iteration and not the loop. A wrapper ends with
//
//	if sig, ok := exec.DeathSignal(err); ok {
//		exec.Die(sig) // returns only if this process survives it
//	}
//	os.Exit(status) // 128+N from ExitStatus, if Die returned
func DeathSignal(err error) (sig syscall.Signal, ok bool) {
	var exited *ExitError
	if errors.As(err, &exited) {
		return exited.Received, exited.Received != 0 && exited.Signal != 0 && !exited.TimedOut
	}
	var stopped *SignalError
	if errors.As(err, &stopped) {
		return stopped.Signal, stopped.Signal != 0
	}
	return 0, false
}

// Die ends this process by sig, as coreutils timeout(1) does with the
// signal that killed its command: it disables core dumps if sig would dump
// core (the command may have dumped one; this process has nothing to
// dump), sets sig's action to the default, unblocks it and raises it on
// the calling thread. Call it last, after every message is written.
//
// Die returns only if the process survives, and the caller should then
// exit with 128+N (ExitStatus), as a shell reports a death by signal N.
// It returns at once as PID 1, where the kernel does not deliver a signal
// with the default action to init, for a signal whose default action does
// not end a process (SIGCHLD, SIGCONT, SIGWINCH, SIGURG) or stops it
// (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU), when core dumps cannot be
// disabled, on MIPS, and outside Linux.
func Die(sig syscall.Signal) {
	die(sig)
}
