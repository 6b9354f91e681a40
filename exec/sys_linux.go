package exec

import (
	"syscall"
	"unsafe"
)

// supported reports whether Run can keep its promises here: on Linux it can.
func supported() error { return nil }

// pPID is P_PID from <sys/wait.h>: waitid(2) waits for the one process named
// by its id argument. The syscall package does not define it.
const pPID = 1

// sysProcAttr returns the process attributes every command gets.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		// Setpgid with Pgid 0 makes the command the leader of a new process
		// group whose id is its pid. Signals to -pid then reach everything
		// it starts (sh -c pipelines, background jobs), and a terminal's
		// Ctrl-C reaches only us, so the command gets SIGINT exactly once,
		// when we forward it.
		Setpgid: true,
		// Pdeathsig makes the kernel SIGKILL the command when the OS thread
		// that forked it exits, which includes this process being SIGKILLed
		// (see Run for why that thread is kept locked). It covers the direct
		// child only: the kernel clears it in the child's own children, and
		// also when the command execs a set-user-ID, set-group-ID or
		// file-capability binary.
		Pdeathsig: syscall.SIGKILL,
	}
}

// waitExited blocks until child pid has exited but, thanks to WNOWAIT, does
// not reap it: the zombie keeps its pid, and so its process group id,
// reserved until os.Process.Wait reaps it. That lets Run signal the group
// after the command exits without the risk of hitting a stranger that has
// been given the same number.
func waitExited(pid int) error {
	var info [16]uint64 // siginfo_t, 128 bytes; only the return value is used
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return errno
		}
	}
}
