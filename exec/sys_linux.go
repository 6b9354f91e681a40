package exec

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// supported reports whether Run can keep its promises here: on Linux it can.
func supported() error { return nil }

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

// waitExited blocks until the command has exited but, thanks to WNOWAIT,
// does not reap it: the zombie keeps its pid, and so its process group id,
// reserved until os.Process.Wait reaps it. That lets Run signal the group
// after the command exits without the risk of hitting a stranger that has
// been given the same number. It returns nil: the caller reaps.
func waitExited(proc *os.Process) (*os.ProcessState, error) {
	var info unix.Siginfo // only the return value is used
	for {
		err := unix.Waitid(unix.P_PID, proc.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return nil, err
		}
	}
}

// maxPipeSize is the largest pipe an unprivileged process may ask for by
// default (/proc/sys/fs/pipe-max-size), and so the most a pipe holds.
const maxPipeSize = 1 << 20

// growPipe makes the output pipe hold maxPipeSize bytes instead of 64 KiB,
// so that a command writing a lot waits for the reader less often. It may
// fail (a lower pipe-max-size, the user's pipe quota), which only costs
// speed.
func growPipe(w *os.File) {
	rc, err := w.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, maxPipeSize)
	})
}
