package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildTimeout bounds all builds together. The first build of ndt-server
// compiles its dependencies with cgo, a few minutes on a small machine;
// later builds come from Go's build cache.
const buildTimeout = 20 * time.Minute

// binDir holds the binaries under test; TestMain fills it.
var binDir string

// tamperName is the name under which the test binary acts as the tamper
// wrapper (see tamper_test.go); TestMain links it into binDir.
const tamperName = "tamper"

// build is one go build: a package of a module, into binDir.
type build struct {
	dir  string   // module directory, relative to this package's
	env  []string // added to the environment
	args []string // after "go build -o BINDIR/"
}

// builds are the binaries under test. monitoring-token and locate-emulator
// are built as the Makefile's release build does (static, no cgo);
// ndt-server needs cgo; each of ndt-server, ndt7-client and node_exporter
// is built in a module that pins its release (tools/*/go.mod).
var builds = []build{
	{dir: "..", env: []string{"CGO_ENABLED=0"}, args: []string{"-trimpath", "-ldflags=-s -w", "./cmd/monitoring-token", "./cmd/locate-emulator"}},
	{dir: "tools/ndt-server", env: []string{"CGO_ENABLED=1"}, args: []string{"github.com/m-lab/ndt-server"}},
	{dir: "tools/ndt7-client", env: []string{"CGO_ENABLED=0"}, args: []string{"github.com/m-lab/ndt7-client-go/cmd/ndt7-client"}},
	{dir: "tools/node_exporter", env: []string{"CGO_ENABLED=0"}, args: []string{"github.com/prometheus/node_exporter"}},
}

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == tamperName {
		os.Exit(tamperMain(os.Args[1:], os.Environ(), os.Stderr))
	}
	flag.Parse() // For testing.Verbose.
	dir, err := os.MkdirTemp("", "monitoring-token-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = filepath.Join(dir, "bin")
	code := 1
	if err := buildAll(binDir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildAll builds every binary under test into dir and links the test
// binary there as the tamper wrapper.
func buildAll(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	for _, b := range builds {
		args := append([]string{"build", "-o", dir + "/"}, b.args...)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = b.dir
		cmd.Env = append(os.Environ(), b.env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go %s in %s: %v\n%s%s", strings.Join(args, " "), b.dir, err, out.String(), cgoHint(b, out.String()))
		}
		if testing.Verbose() {
			fmt.Printf("e2e: built %s in %v\n", strings.Join(b.args, " "), time.Since(start).Round(time.Millisecond))
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return os.Symlink(self, filepath.Join(dir, tamperName))
}

// cgoHint says what to install when a cgo build failed for want of a C
// compiler or headers.
func cgoHint(b build, out string) string {
	if !strings.Contains(strings.Join(b.env, " "), "CGO_ENABLED=1") {
		return ""
	}
	if strings.Contains(out, "gcc") || strings.Contains(out, ".h: No such file") || strings.Contains(out, "cgo") {
		return "ndt-server needs cgo: install gcc, libc6-dev and linux-libc-dev (go -C e2e run ./prerequisites says which are missing)\n"
	}
	return ""
}
