package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	accesstoken "github.com/m-lab/access/token"

	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/token"
)

// runMainEnv makes the test binary run main() instead of the tests, so that
// TestSignals can send real signals to the real command (x/tools
// cmd/stringer's trick).
const runMainEnv = "LOCATE_EMULATOR_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// machine is the subject of the tokens signed in these tests.
const machine = "mlab1-lga01.mlab-oti.measurement-lab.org"

// timeout bounds every wait in these tests.
const timeout = 10 * time.Second

// syncBuffer is a bytes.Buffer that run may write while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// emulator is run going in the background.
type emulator struct {
	cancel         context.CancelFunc
	done           chan int
	stdout, stderr syncBuffer
}

// startRun calls run with args in a goroutine. The test must call stop.
func startRun(t *testing.T, args ...string) *emulator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &emulator{cancel: cancel, done: make(chan int, 1)}
	go func() { e.done <- run(ctx, args, &e.stdout, &e.stderr) }()
	t.Cleanup(func() {
		cancel()
		<-e.done
	})
	return e
}

// stop cancels run's context and returns its exit status.
func (e *emulator) stop(t *testing.T) int {
	t.Helper()
	e.cancel()
	select {
	case code := <-e.done:
		e.done <- code // For the cleanup.
		return code
	case <-time.After(timeout):
		t.Fatalf("run did not return within %v of cancel", timeout)
		return -1
	}
}

// waitURLFile polls for path until it holds a URL other than stale, run
// returns or the timeout passes, and returns the URL.
func (e *emulator) waitURLFile(t *testing.T, path, stale string) string {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil && string(b) != stale {
			if !strings.HasSuffix(string(b), "\n") || strings.Count(string(b), "\n") != 1 {
				t.Fatalf("URL file holds %q, want one line", b)
			}
			return strings.TrimSuffix(string(b), "\n")
		}
		select {
		case code := <-e.done:
			e.done <- code
			t.Fatalf("run returned %d before writing the URL file; stderr %q", code, e.stderr.String())
		case <-deadline:
			t.Fatalf("no URL in %s after %v", path, timeout)
		case <-tick.C:
		}
	}
}

// askLocate sends a monitoring token signed with signer to the emulator
// and returns the URL of ndt7's download.
func askLocate(t *testing.T, base string, signer *token.Signer) string {
	t.Helper()
	u, err := askAnswer(t, base, signer).ServiceURL("wss:///ndt/v7/download")
	if err != nil {
		t.Fatalf("ServiceURL = %v", err)
	}
	return u
}

// askAnswer sends a monitoring token signed with signer to the emulator
// and returns its answer.
func askAnswer(t *testing.T, base string, signer *token.Signer) *locate.Answer {
	t.Helper()
	tok, err := signer.Sign(machine, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "ndt/ndt7?access_token=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET ndt/ndt7 = %s, body %q; want 200", resp.Status, body)
	}
	a, err := locate.ParseAnswer(resp.StatusCode, resp.Header.Get("Content-Type"), body)
	if err != nil {
		t.Fatalf("ParseAnswer = %v", err)
	}
	return a
}

// checkServiceURL checks that u is ndt7's download on the machine.
func checkServiceURL(t *testing.T, u string) {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatalf("service URL %q: %v", u, err)
	}
	if want := "ndt-" + machine; parsed.Scheme != "wss" || parsed.Host != want || parsed.Path != "/ndt/v7/download" {
		t.Errorf("service URL %q, want wss://%s/ndt/v7/download", u, want)
	}
}

func TestRunGenerateKey(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "key.jwk")
	urlPath := filepath.Join(dir, "locate-url")
	// A file from an earlier run must not pass for this run's URL.
	const stale = "http://stale.example/\n"
	if err := os.WriteFile(urlPath, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startRun(t, "-generate-key", keyPath, "-url-file", urlPath)
	base := e.waitURLFile(t, urlPath, stale)

	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/v2/platform/monitoring/") {
		t.Errorf("URL = %q, want http://127.0.0.1:PORT/v2/platform/monitoring/", base)
	}
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatalf("generated key: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("generated key mode = %v, want 0600", fi.Mode().Perm())
	}
	signer, err := token.LoadSigner(t.Context(), keyPath)
	if err != nil {
		t.Fatalf("LoadSigner(generated key) = %v", err)
	}
	if tok, err := signer.Sign(machine, time.Now().Add(time.Minute)); err != nil || !strings.HasPrefix(token.Describe(tok), "alg=EdDSA ") {
		t.Errorf("generated key signs %q, %v; want EdDSA", token.Describe(tok), err)
	}
	checkServiceURL(t, askLocate(t, base, signer))

	if code := e.stop(t); code != 0 {
		t.Errorf("run = %d after cancel, want 0; stderr %q", code, e.stderr.String())
	}
	if got := e.stdout.String(); got != base+"\n" {
		t.Errorf("stdout = %q, want the URL %q as its only line", got, base)
	}
	if got := e.stderr.String(); got != "" {
		t.Errorf("stderr = %q, want nothing", got)
	}
	for _, path := range []string{keyPath, urlPath} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind after exit (Stat = %v)", path, err)
		}
	}
	if _, err := http.Get(base); err == nil {
		t.Errorf("emulator still answers after run returned")
	}
}

func TestRunVerifyKeys(t *testing.T) {
	// Two keys of different algorithms, each given by its own -verify-key:
	// the emulator must accept tokens signed with either.
	dir := t.TempDir()
	var args []string
	var signers []*token.Signer
	for _, alg := range []string{"EdDSA", "ES256"} {
		kp, err := token.GenerateKey(alg, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		pub := filepath.Join(dir, alg+".pub.jwk")
		if err := os.WriteFile(pub, kp.Public, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := token.NewSigner(kp.Private)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, "-verify-key", pub)
		signers = append(signers, s)
	}
	urlPath := filepath.Join(dir, "locate-url")
	e := startRun(t, append(args, "-url-file", urlPath)...)
	base := e.waitURLFile(t, urlPath, "")
	for i, s := range signers {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			checkServiceURL(t, askLocate(t, base, s))
		})
	}
	if code := e.stop(t); code != 0 {
		t.Errorf("run = %d after cancel, want 0; stderr %q", code, e.stderr.String())
	}
}

// TestRunServiceAddr runs the emulator as CI points it at a local server:
// the URLs lead to the server's address, and the public key it writes out
// verifies the access token in them for the machine, as ndt-server does.
func TestRunServiceAddr(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "key.jwk")
	urlPath := filepath.Join(dir, "locate-url")
	pubPath := filepath.Join(dir, "locate.pub.jwk")
	// A key from an earlier run must not pass for this run's.
	if err := os.WriteFile(pubPath, []byte("stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startRun(t, "-generate-key", keyPath, "-url-file", urlPath, "-service-addr", "127.0.0.1:4443", "-locate-public-key", pubPath)
	base := e.waitURLFile(t, urlPath, "")
	// The URL file comes last, so the key file is complete by now.
	pub, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatalf("locate public key: %v", err)
	}
	verifier, err := accesstoken.NewVerifier(pub)
	if err != nil {
		t.Fatalf("-locate-public-key wrote %q, not a verify key: %v", pub, err)
	}
	signer, err := token.LoadSigner(t.Context(), keyPath)
	if err != nil {
		t.Fatal(err)
	}
	a := askAnswer(t, base, signer)
	for key, raw := range a.Results[0].URLs {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if u.Host != "127.0.0.1:4443" {
			t.Errorf("%s = %s, want it on 127.0.0.1:4443", key, raw)
		}
		cl, err := verifier.Verify(u.Query().Get(locate.AccessTokenParam), jwt.Expected{Issuer: "locate", AnyAudience: jwt.Audience{machine}, Time: time.Now()})
		if err != nil {
			t.Errorf("%s: token does not verify with the written key for %s: %v", key, machine, err)
		} else if cl.Subject != "monitoring" {
			t.Errorf("%s: token subject %q, want monitoring", key, cl.Subject)
		}
	}
	if code := e.stop(t); code != 0 {
		t.Errorf("run = %d after cancel, want 0; stderr %q", code, e.stderr.String())
	}
	if _, err := os.Stat(pubPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left behind after exit (Stat = %v)", pubPath, err)
	}
}

func TestRunRefuses(t *testing.T) {
	dir := t.TempDir()
	kp, err := token.GenerateKey("EdDSA", "same", 0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := token.GenerateKey("EdDSA", "same", 0)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"pub.jwk":      kp.Public,
		"other.jwk":    other.Public,
		"private.jwk":  kp.Private,
		"existing.jwk": []byte("keep me\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := func(name string) string { return filepath.Join(dir, name) }

	tests := []struct {
		name string
		args []string
		code int
		// msg is a fragment of the one line on stderr.
		msg string
	}{
		{name: "no key", args: []string{"-listen", "127.0.0.1:0"}, code: 2, msg: "-verify-key"},
		{name: "unknown flag", args: []string{"-key", "x"}, code: 2, msg: "-key"},
		{name: "empty verify key", args: []string{"-verify-key", ""}, code: 2, msg: "empty path"},
		{name: "command not found", args: []string{"--", path("no-such-command")}, code: 1, msg: "no-such-command"},
		{name: "URL file is the verify key", args: []string{"-verify-key", path("pub.jwk"), "-url-file", path("pub.jwk")}, code: 2, msg: "also a key file"},
		{name: "URL file is the generated key", args: []string{"-generate-key", path("new.jwk"), "-url-file", path("new.jwk")}, code: 2, msg: "also a key file"},
		{name: "locate public key is the verify key", args: []string{"-verify-key", path("pub.jwk"), "-locate-public-key", path("pub.jwk")}, code: 2, msg: "-locate-public-key " + path("pub.jwk") + " is also a key file"},
		{name: "locate public key is the URL file", args: []string{"-verify-key", path("pub.jwk"), "-url-file", path("out"), "-locate-public-key", path("out")}, code: 2, msg: "name the same file"},
		{name: "service address without port", args: []string{"-verify-key", path("pub.jwk"), "-service-addr", "127.0.0.1"}, code: 2, msg: "-service-addr: service address must be host:port"},
		{name: "service address is a URL", args: []string{"-verify-key", path("pub.jwk"), "-service-addr", "wss://127.0.0.1:4443"}, code: 2, msg: `"wss://127.0.0.1:4443"`},
		{name: "missing verify key", args: []string{"-verify-key", path("missing.jwk")}, code: 1, msg: path("missing.jwk")},
		{name: "private verify key", args: []string{"-verify-key", path("private.jwk")}, code: 1, msg: path("private.jwk") + " holds a private key"},
		{name: "not a JWK", args: []string{"-verify-key", path("existing.jwk")}, code: 1, msg: path("existing.jwk") + " is not a public JWK"},
		{name: "duplicate kid", args: []string{"-verify-key", path("pub.jwk"), "-verify-key", path("other.jwk")}, code: 1, msg: "Duplicate KeyID found: same; every -verify-key needs a kid of its own"},
		{name: "bad listen address", args: []string{"-verify-key", path("pub.jwk"), "-listen", "127.0.0.1:99999"}, code: 1, msg: "127.0.0.1:99999"},
		{name: "key file exists", args: []string{"-generate-key", path("existing.jwk")}, code: 1, msg: path("existing.jwk") + " already exists"},
		{name: "negative delay", args: []string{"-verify-key", path("pub.jwk"), "-delay", "-1ms"}, code: 2, msg: "-delay -1ms is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A context that is already done: a run that wrongly succeeds
			// returns 0 at once instead of serving forever.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("run = %d, want %d", code, tt.code)
			}
			got := stderr.String()
			if !strings.HasPrefix(got, "locate-emulator: ") || !strings.Contains(got, tt.msg) || strings.Count(got, "\n") != 1 {
				t.Errorf("stderr = %q, want one line starting %q containing %q", got, "locate-emulator: ", tt.msg)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
	for name, want := range files {
		if got, err := os.ReadFile(path(name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s now holds %q (%v), want it untouched", name, got, err)
		}
	}
}

func TestRunRemovesStaleURLFile(t *testing.T) {
	// A URL file from an earlier run must be gone even when this run fails,
	// or a script waiting for it would go ahead against no emulator.
	dir := t.TempDir()
	kp, err := token.GenerateKey("EdDSA", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "pub.jwk")
	urlPath := filepath.Join(dir, "locate-url")
	locatePub := filepath.Join(dir, "locate.pub.jwk")
	for path, b := range map[string][]byte{pub: kp.Public, urlPath: []byte("http://127.0.0.1:1/v2/platform/monitoring/\n"), locatePub: []byte("stale\n")} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-verify-key", pub, "-url-file", urlPath, "-locate-public-key", locatePub, "-listen", "127.0.0.1:99999"}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("run = %d, want 1; stderr %q", code, stderr.String())
	}
	for _, path := range []string{urlPath, locatePub} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s still there after a failed start (Stat = %v)", path, err)
		}
	}
}

func TestRunHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 || stderr.Len() != 0 {
		t.Errorf("run -h = %d, stderr %q; want 0 and no stderr", code, stderr.String())
	}
	for _, want := range []string{"Usage:", "Examples:", "COMMAND", "-generate-key", "-verify-key", "-listen", "-url-file", "-service-addr", "-locate-public-key"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("usage does not mention %q:\n%s", want, stdout.String())
		}
	}
}

// TestSignals runs the command itself and stops it the ways a shell or CI
// runner does.
func TestSignals(t *testing.T) {
	tests := []struct {
		name string
		sig  syscall.Signal
	}{
		{name: "SIGINT", sig: syscall.SIGINT},
		{name: "SIGTERM", sig: syscall.SIGTERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keyPath := filepath.Join(t.TempDir(), "key.jwk")
			cmd := exec.Command(os.Args[0], "-generate-key", keyPath)
			// GORACE: the race detector otherwise waits a second before a
			// successful exit.
			cmd.Env = append(os.Environ(), runMainEnv+"=1", "GORACE=atexit_sleep_ms=0")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })

			// The URL on stdout says the emulator is listening and its
			// signal handler is in place.
			line := make(chan string, 1)
			go func() {
				s, _ := bufio.NewReader(out).ReadString('\n')
				line <- s
			}()
			var base string
			select {
			case base = <-line:
			case <-time.After(timeout):
				t.Fatalf("no URL on stdout after %v", timeout)
			}
			signer, err := token.LoadSigner(t.Context(), keyPath)
			if err != nil {
				t.Fatal(err)
			}
			checkServiceURL(t, askLocate(t, strings.TrimSuffix(base, "\n"), signer))

			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			select {
			case err := <-waited:
				if err != nil {
					t.Errorf("exit after %v: %v, stderr %q; want status 0", tt.sig, err, stderr.String())
				}
			case <-time.After(timeout):
				t.Fatalf("still running %v after %v", timeout, tt.sig)
			}
		})
	}
}

func TestRunCommand(t *testing.T) {
	dir := t.TempDir()
	seen := filepath.Join(dir, "seen")
	// The command proves the emulator serves while it runs: it records the
	// URL and the key path, checks the key file is there, and exits 7.
	script := `printf '%s\n%s\n' "$LOCATE_URL" "$MONITORING_SIGNER_KEY" > "$1"; test -s "$MONITORING_SIGNER_KEY" || exit 1; exit 7`
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"--", "sh", "-c", script, "sh", seen}, &stdout, &stderr)
	if code != 7 {
		t.Fatalf("run = %d, want the command's 7; stderr %q", code, stderr.String())
	}
	b, err := os.ReadFile(seen)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	// With a command, the URL goes to stderr: stdout is the command's.
	if len(lines) != 2 || lines[0] != strings.TrimSpace(stderr.String()) || stdout.String() != "" || !strings.HasSuffix(lines[0], "/v2/platform/monitoring/") {
		t.Fatalf("command saw %q; emulator printed %q on stdout and %q on stderr", lines, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(lines[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("throwaway key %s left behind after the command: %v", lines[1], err)
	}
	if _, err := http.Get(lines[0]); err == nil {
		t.Errorf("emulator still serves after the command exited")
	}
}
