package metrics

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/internal/poll"
)

// Environment of the test binary when it runs as a writer (see writer).
const (
	writerEnv = "METRICS_TEST_WRITER" // the file to write; set: act as a writer instead of running tests
	stageEnv  = "METRICS_TEST_STAGE"  // the stage of write at which to stop; "": run to the end
)

// TestMain lets the test binary be the writer process that
// TestKilledWriter SIGKILLs, as x/tools cmd/stringer's tests do.
func TestMain(m *testing.M) {
	if path := os.Getenv(writerEnv); path != "" {
		os.Exit(writer(path, os.Getenv(stageEnv)))
	}
	os.Exit(m.Run())
}

// newProbe is what the writer process writes.
func newProbe() Probe {
	return Probe{Machine: machine, Service: service, ExitCode: 124, Duration: 50 * time.Second, LocateAttempts: 1, LocateHTTPStatus: 200}
}

// writer writes newProbe to path. At stage it says so on stdout and
// waits for stdin to close, which happens only if the test gives up on
// it, or for SIGKILL.
func writer(path, stage string) int {
	err := write(path, newProbe(), func(s string) {
		if s != stage {
			return
		}
		fmt.Println(s)
		io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestKilledWriter SIGKILLs a writer at each stage of write and checks
// that path still holds the old file, whole, and that nothing left
// behind ends in ".prom", which node_exporter would read.
func TestKilledWriter(t *testing.T) {
	tests := []struct {
		stage    string // "": not killed, the control
		wantTemp bool   // a temporary file is there when it is killed
	}{
		{stage: stageCreated, wantTemp: true},
		{stage: stageWritten, wantTemp: true},
		{stage: ""},
	}
	for _, tt := range tests {
		name := cmp.Or(tt.stage, "not killed")
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "probe.prom")
			old := Probe{Machine: machine, Service: service, ExitCode: 0, Duration: time.Second, LocateAttempts: 1, LocateHTTPStatus: 200, LastSuccess: time.Now()}
			if err := Write(path, old); err != nil {
				t.Fatal(err)
			}
			oldText, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			cmd := osexec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), writerEnv+"="+path, stageEnv+"="+tt.stage)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				stdin.Close()
				cmd.Process.Kill()
				cmd.Wait()
			})

			if tt.stage == "" {
				io.Copy(io.Discard, stdout)
				if err := cmd.Wait(); err != nil {
					t.Fatalf("writer: %v; stderr: %s", err, stderr.Bytes())
				}
				got := values(t, parseFile(t, path), machine, service)
				if got["monitoring_probe_exit_code"] != 124 {
					t.Errorf("exit code %v, want the new file's 124", got["monitoring_probe_exit_code"])
				}
				checkNoStrays(t, dir, false)
				return
			}

			said := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(stdout).ReadString('\n')
				said <- strings.TrimSpace(line)
			}()
			select {
			case s := <-said:
				if s != tt.stage {
					t.Fatalf("writer said %q, want %q; stderr: %s", s, tt.stage, stderr.Bytes())
				}
			case <-time.After(poll.Deadline):
				t.Fatalf("writer did not reach stage %s within %v", tt.stage, poll.Deadline)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			now, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(now, oldText) {
				t.Errorf("%s changed under a killed writer:\n%s\nwant:\n%s", path, now, oldText)
			}
			if got := values(t, parseFile(t, path), machine, service); got["monitoring_probe_exit_code"] != 0 {
				t.Errorf("exit code %v, want the old file's 0", got["monitoring_probe_exit_code"])
			}
			checkNoStrays(t, dir, tt.wantTemp)
		})
	}
}

// tempPrefix begins the name of every temporary file that write makes
// for probe.prom: renameio adds a random number.
const tempPrefix = ".probe.prom"

// checkNoStrays checks that dir holds probe.prom, no other file whose
// name ends in ".prom", and a temporary file if and only if wantTemp.
func checkNoStrays(t *testing.T, dir string, wantTemp bool) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var temps int
	for _, e := range entries {
		switch name := e.Name(); {
		case name == "probe.prom":
		case strings.HasSuffix(name, ".prom"):
			t.Errorf("stray %s, which node_exporter would read", name)
		case strings.HasPrefix(name, tempPrefix):
			temps++
		default:
			t.Errorf("unexpected %s", name)
		}
	}
	if got := temps > 0; got != wantTemp {
		t.Errorf("%d temporary files, want some: %v", temps, wantTemp)
	}
}
