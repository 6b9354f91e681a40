//go:build unix && !linux && !darwin

package exec

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// supported reports why Run does not run commands here: it is built and
// checked for Linux and macOS only. Rather than supervise with untried
// guarantees and say nothing, Run refuses, and a caller exits 125.
func supported() error {
	return fmt.Errorf("running a command under supervision needs Linux or macOS, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// sysProcAttr is never used: Run refuses first.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// waitExited is never used: Run refuses first.
func waitExited(*os.Process) (*os.ProcessState, error) { return nil, supported() }

// maxPipeSize is never used: Run refuses first.
const maxPipeSize = 1 << 16

// growPipe is never used: Run refuses first.
func growPipe(*os.File) {}
