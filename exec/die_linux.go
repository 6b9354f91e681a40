//go:build linux && !(mips || mipsle || mips64 || mips64le)

package exec

import (
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// The kernel's constants for rt_sigprocmask(2) and its sigset_t, which the
// syscall package does not define: 64 signals in 8 bytes, SIG_UNBLOCK 1,
// SIG_SETMASK 2. MIPS differs in all three, hence the build tag.
const (
	sigUnblock = 1
	sigSetmask = 2
	sigsetSize = 8
)

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
	raise := func() { _ = syscall.Tgkill(syscall.Getpid(), syscall.Gettid(), sig) }
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
	_, _, _ = syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask,
		uintptr(unsafe.Pointer(&old)), 0, sigsetSize, 0, 0)
}

// setDefaultAndUnblock sets sig's action to SIG_DFL and unblocks it on the
// calling thread, returning the thread's previous mask. It uses
// rt_sigaction(2) directly: Go's handler stays installed after
// signal.Reset, and for SIGQUIT, SIGABRT and the other signals that dump
// core it prints every goroutine's stack and exits 2 instead of dying by
// the signal. Once the action is SIG_DFL the kernel never calls that
// handler, so signal.Reset, which costs a round trip to the runtime's
// signal thread, is not needed either.
func setDefaultAndUnblock(sig syscall.Signal) (old uint64, ok bool) {
	var act [4]uint64 // struct sigaction with SIG_DFL, no flags, empty mask: all zeros
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(&act)), 0, sigsetSize, 0, 0); errno != 0 {
		return 0, false
	}
	set := uint64(1) << (sig - 1)
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigUnblock,
		uintptr(unsafe.Pointer(&set)), uintptr(unsafe.Pointer(&old)), sigsetSize, 0, 0); errno != 0 {
		return 0, false
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
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0)
	rlimitErr := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	return errno == 0 || rlimitErr == nil
}
