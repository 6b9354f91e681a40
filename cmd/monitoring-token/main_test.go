package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/locate/locatetest"
	"github.com/monitoring-token/monitoring-token/token"
	"github.com/rogpeppe/go-internal/testscript"
)

// machine is a valid M-Lab machine name for the tests.
const machine = "mlab1-lga01.mlab-oti.measurement-lab.org"

// binary is the monitoring-token command: this test binary, which
// testscript.Main put on PATH under that name.
var binary string

// binDir holds monitoring-keygen and locate-emulator, built once by
// TestMain for the docs' examples, which run them as installed.
var binDir string

// TestMain makes this test binary the monitoring-token command and the
// clients' stand-ins, by the name it is run as (testscript.Main), for the
// scripts (script_test.go) and the tests that run the command as a
// process.
func TestMain(m *testing.M) {
	commands := map[string]func(){"monitoring-token": func() { os.Exit(mainStatus()) }}
	for name, stub := range clientStubs {
		commands[name] = func() { os.Exit(stub()) }
	}
	testscript.Main(withHelpers{m}, commands)
}

// withHelpers runs the tests with the other two commands built.
type withHelpers struct{ m *testing.M }

func (w withHelpers) Run() int {
	// A process built with -race sleeps a second as it exits, in case
	// another goroutine is about to report a race (GORACE's
	// atexit_sleep_ms): a second per run of monitoring-token.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	var err error
	if binary, err = osexec.LookPath("monitoring-token"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "monitoring-token-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	// Static, as make build makes them.
	build := osexec.Command("go", "build", "-o", dir+"/", "../monitoring-keygen", "../locate-emulator")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the helpers:", err)
		return 1
	}
	return w.m.Run()
}

// fixture is a running emulator and a key it trusts.
type fixture struct {
	emu     *locatetest.Server
	keyPath string
	keyID   string
	dir     string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, locatetest.Config{})
}

// newFixtureWith is newFixture with an emulator configured by c, whose
// VerifyKeys are the fixture's key.
func newFixtureWith(t *testing.T, c locatetest.Config) *fixture {
	t.Helper()
	kp, err := token.GenerateKey("EdDSA", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "monitoring.jwk")
	if err := os.WriteFile(keyPath, kp.Private, 0o600); err != nil {
		t.Fatal(err)
	}
	c.VerifyKeys = [][]byte{kp.Public}
	emu, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return &fixture{emu: emu, keyPath: keyPath, keyID: kp.KeyID, dir: dir}
}

// result is what a user sees of one run.
type result struct {
	// status is the exit status, or 128+N when signal N killed the
	// process, as a shell reports it; signal says which.
	status         int
	signal         syscall.Signal
	stdout, stderr string
}

// output is what the run wrote, both streams, for a failure's message.
func (r result) output() string { return r.stdout + r.stderr }

// statusOf returns the exit status of a finished process as a shell sees
// it, and the signal that killed it, if one did.
func statusOf(ps *os.ProcessState) (int, syscall.Signal) {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), ws.Signal()
	}
	return ps.ExitCode(), 0
}

// baseEnv is the environment every run of monitoring-token gets: PATH and
// testEnv.
func baseEnv() []string {
	return append([]string{"PATH=" + os.Getenv("PATH")}, testEnv()...)
}

// testEnv is what the tests add to the environment they give a run of
// monitoring-token, this test binary: GORACE for the race detector's
// settings (see withHelpers.Run) and, under go test -cover, GOCOVERDIR,
// where the run leaves its coverage (without it, the run warns on stderr).
func testEnv() []string {
	env := []string{"GORACE=" + os.Getenv("GORACE")}
	if dir, ok := os.LookupEnv("GOCOVERDIR"); ok {
		env = append(env, "GOCOVERDIR="+dir)
	}
	return env
}

// runBinary runs the binary with args and exactly the environment env (plus
// baseEnv), and a deadline so that a hang fails the test instead of blocking.
func runBinary(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := osexec.CommandContext(ctx, binary, args...)
	cmd.Env = append(baseEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *osexec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run %v: %v", args, err)
	}
	status, sig := statusOf(cmd.ProcessState)
	return result{status: status, signal: sig, stdout: stdout.String(), stderr: stderr.String()}
}

// flags are the flags every successful run needs.
func (f *fixture) flags(extra ...string) []string {
	return append([]string{"-locate-url=" + f.emu.URL, "-monitoring-signer-key=" + f.keyPath, "-machine=" + machine}, extra...)
}

// saveVar is a command that writes the variable name to a file in the
// fixture's directory, for the test to read back.
func (f *fixture) saveVar(name string) (path string, command []string) {
	path = filepath.Join(f.dir, name+".out")
	return path, []string{"--", "sh", "-c", fmt.Sprintf(`printf %%s "$%s" > %s`, name, path)}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestShellQuoteRoundTrips(t *testing.T) {
	t.Parallel()
	values := []string{"", "plain", "it's", "'", "''", `a\b`, "$HOME `id` $(id)", "two\nlines", "tab\tand space", `"double"`, "wss://h/p?a=1&b='2'"}
	for _, v := range values {
		got, err := osexec.Command("sh", "-c", "eval \"V=$1\"; printf %s \"$V\"", "sh", shellQuote(v)).Output()
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if string(got) != v {
			t.Errorf("eval of shellQuote(%q) gives %q", v, got)
		}
	}
}

func TestServiceURLFalseExportsLocateRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	out, command := f.saveVar("MONITORING_URL")
	r := runBinary(t, nil, append(f.flags("-service-url=false", "-env-name=MONITORING_URL"), command...)...)
	if r.status != 0 {
		t.Fatalf("status %d, stderr %q", r.status, r.stderr)
	}
	if f.emu.Requests() != 0 {
		t.Errorf("monitoring-token asked locate %d times; with -service-url=false the command does", f.emu.Requests())
	}
	// The exported URL is one the command can use: locate accepts it.
	requestURL := readFile(t, out)
	if !strings.HasPrefix(requestURL, f.emu.URL+"ndt/ndt7?access_token=") {
		t.Fatalf("MONITORING_URL = %q", token.Redact(requestURL))
	}
	resp, err := http.Get(requestURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a, err := locate.ParseAnswer(resp.StatusCode, resp.Header.Get("Content-Type"), body)
	if err != nil {
		t.Fatalf("locate refused the exported URL: %v", err)
	}
	if _, err := a.ServiceURL("wss:///ndt/v7/download"); err != nil {
		t.Error(err)
	}
}
