//go:build linux && !(mips || mipsle || mips64 || mips64le)

package exec

import (
	"math/bits"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sigsetSize is the size of the kernel's sigset_t that rt_sigaction(2)
// takes: 64 signals in 8 bytes. MIPS has 128 signals and a struct sigaction
// of another layout, hence the build tag. (unix.PthreadSigmask passes the
// size itself; golang.org/x/sys/unix has no rt_sigaction.)
const sigsetSize = 8

// die is Die on Linux.
func die(sig syscall.Signal) {
	if os.Getpid() == 1 || !endsProcess(sig) {
		return
	}
	if dumpsCore(sig) && !disableCoreDumps() {
		return
	}
	// The signal must be unblocked, and act, on the thread that raises
	// it: then the kernel ends the process before tgkill returns, and
	// returning means it did not.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	raise := func() { _ = unix.Tgkill(unix.Getpid(), unix.Gettid(), sig) }
	if sig == syscall.SIGKILL { // its action and mask cannot change
		raise()
		return
	}
	old, ok := setDefaultAndUnblock(sig)
	if !ok {
		return
	}
	raise()
	// Still here (a tracer took the signal, say): put the thread's mask
	// back for the caller's exit.
	_ = unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
}

// setDefaultAndUnblock sets sig's action to SIG_DFL and unblocks it on the
// calling thread, returning the thread's previous mask. It uses
// rt_sigaction(2) directly: Go's handler stays installed after
// signal.Reset, and for SIGQUIT, SIGABRT and the other signals that dump
// core it prints every goroutine's stack and exits 2 instead of dying by
// the signal. Once the action is SIG_DFL the kernel never calls that
// handler, so signal.Reset, which costs a round trip to the runtime's
// signal thread, is not needed either.
func setDefaultAndUnblock(sig syscall.Signal) (old unix.Sigset_t, ok bool) {
	var act [4]uint64 // struct sigaction with SIG_DFL, no flags, empty mask: all zeros
	if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(&act)), 0, sigsetSize, 0, 0); errno != 0 {
		return old, false
	}
	// Signal N is bit N-1 of the set; Val's words are uintptr-sized.
	var set unix.Sigset_t
	n := uint(sig - 1)
	set.Val[n/bits.UintSize] |= 1 << (n % bits.UintSize)
	if err := unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, &old); err != nil {
		return old, false
	}
	return old, true
}

// endsProcess reports whether sig's default action ends a process
// (signal(7): Term or Core). The others are ignored (SIGCHLD, SIGCONT,
// SIGURG, SIGWINCH) or stop it (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU); raising
// a stop signal would suspend this process instead of ending it.
func endsProcess(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGCHLD, syscall.SIGCONT, syscall.SIGURG, syscall.SIGWINCH,
		syscall.SIGSTOP, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU:
		return false
	}
	return sig > 0 && sig <= 64
}

// dumpsCore reports whether sig's default action dumps core (signal(7):
// Core).
func dumpsCore(sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGQUIT, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGABRT, syscall.SIGBUS,
		syscall.SIGFPE, syscall.SIGSEGV, syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGSYS:
		return true
	}
	return false
}

// disableCoreDumps keeps this process from dumping core, as coreutils
// timeout does before it raises its command's signal, and reports whether
// that worked. PR_SET_DUMPABLE 0 stops every core dump, including one
// piped to a handler named in /proc/sys/kernel/core_pattern (systemd-
// coredump, apport), which RLIMIT_CORE 0 does not stop; RLIMIT_CORE 0
// stops a core file and is the fallback if prctl fails.
func disableCoreDumps() bool {
	prctlErr := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	rlimitErr := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	return prctlErr == nil || rlimitErr == nil
}
