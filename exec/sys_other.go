//go:build !linux

package exec

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"
)

// supported reports why Run cannot keep its promises here. It needs
// Pdeathsig, so that the command dies with this process, and waitid(2) with
// WNOWAIT, so that the command's process group id stays reserved until Run
// has cleared out the group; both are Linux's. Rather than supervise with
// weaker guarantees and say nothing, Run refuses, and a caller exits 125.
func supported() error {
	return fmt.Errorf("running a command under supervision needs Linux, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// sysProcAttr is never used: Run refuses first.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// waitExited is never used: Run refuses first.
func waitExited(int) error { return supported() }
