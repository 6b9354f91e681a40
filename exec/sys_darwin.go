package exec

import (
	"os"
	"syscall"
)

// supported reports whether Run can keep its promises here: on macOS it can,
// but for the Linux-only ones named in the package doc.
func supported() error { return nil }

// sysProcAttr returns the process attributes every command gets: Setpgid
// with Pgid 0 makes the command the leader of a new process group whose id
// is its pid (see sys_linux.go). macOS has no Pdeathsig.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitExited waits for the command and reaps it: the syscall package has
// no waitid(2) here, so nothing keeps the group's id reserved once the
// leader is reaped. Whatever the command left in its group keeps the id in
// use (POSIX does not reuse a process group id while the group has
// members), so signalling the group afterwards reaches either those
// processes or, when the group is empty, a group created since with that
// id, in the short time before Run signals it.
func waitExited(proc *os.Process) (*os.ProcessState, error) {
	return proc.Wait()
}

// maxPipeSize bounds what the tail takes from its pipe once the command has
// exited; macOS pipes hold at most 64 KiB.
const maxPipeSize = 1 << 20

// growPipe does nothing: macOS pipes grow by themselves up to 64 KiB.
func growPipe(*os.File) {}
