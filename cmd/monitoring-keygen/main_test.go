package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	accesstoken "github.com/m-lab/access/token"

	"github.com/monitoring-token/monitoring-token/token"
)

// runMainEnv makes the test binary run main() instead of the tests, so that
// TestExitStatus can run the real command (x/tools cmd/stringer's trick).
const runMainEnv = "MONITORING_KEYGEN_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// machine is the subject of the tokens signed in these tests.
const machine = "mlab1-lga01.mlab-oti.measurement-lab.org"

// keygen runs the command and returns its exit status, stdout and stderr.
func keygen(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// keyPaths returns a private and a public key path in a fresh directory.
func keyPaths(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	return filepath.Join(dir, "monitoring.jwk"), filepath.Join(dir, "monitoring.pub.jwk")
}

func TestRunWritesUsableKeyPair(t *testing.T) {
	tests := []struct {
		name string
		args []string
		alg  string
	}{
		{name: "default is EdDSA", alg: "EdDSA"},
		{name: "EdDSA", args: []string{"-alg", "EdDSA"}, alg: "EdDSA"},
		{name: "ES256", args: []string{"-alg", "ES256"}, alg: "ES256"},
		{name: "RS256", args: []string{"-alg", "RS256", "-bits", "2048"}, alg: "RS256"},
		{name: "alg case ignored", args: []string{"-alg", "es256"}, alg: "ES256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			priv, pub := keyPaths(t)
			code, stdout, stderr := keygen(t, append(tt.args, "-private", priv, "-public", pub)...)
			if code != 0 || stderr != "" {
				t.Fatalf("run = %d, stderr %q; want 0 and no stderr", code, stderr)
			}

			privJWK := readFile(t, priv)
			pubJWK := readFile(t, pub)
			for path, b := range map[string][]byte{priv: privJWK, pub: pubJWK} {
				if !bytes.HasSuffix(b, []byte("}\n")) {
					t.Errorf("%s does not end in a JSON object and a newline: %q", path, b[max(0, len(b)-10):])
				}
			}
			if mode := fileMode(t, priv); mode != 0o600 {
				t.Errorf("private key mode = %v, want 0600", mode)
			}

			signer, err := token.NewSigner(privJWK)
			if err != nil {
				t.Fatalf("token.NewSigner(private file) = %v", err)
			}
			if tok, err := signer.Sign("mlab1-lga01.mlab-oti.measurement-lab.org", time.Now().Add(time.Minute)); err != nil || !strings.HasPrefix(token.Describe(tok), "alg="+tt.alg+" ") {
				t.Errorf("the private key signs %q, %v; want alg %s", token.Describe(tok), err, tt.alg)
			}
			if _, err := accesstoken.NewSigner(privJWK); err != nil {
				t.Errorf("m-lab/access token.NewSigner(private file) = %v", err)
			}
			verifier, err := accesstoken.NewVerifier(pubJWK)
			if err != nil {
				t.Fatalf("m-lab/access token.NewVerifier(public file) = %v", err)
			}

			// The round trip locate makes: our token, access's verifier,
			// locate's expected claims with zero leeway.
			tok, err := signer.Sign(machine, time.Now().Add(time.Minute))
			if err != nil {
				t.Fatalf("Sign = %v", err)
			}
			cl, err := verifier.Verify(tok, jwt.Expected{Issuer: "monitoring", AnyAudience: jwt.Audience{"locate"}, Time: time.Now()})
			if err != nil {
				t.Fatalf("Verify(token signed with the private file) = %v", err)
			}
			if cl.Subject != machine {
				t.Errorf("verified subject = %q, want %q", cl.Subject, machine)
			}

			for _, want := range []string{signer.KeyID(), tt.alg, priv, pub, "locate's verify secret"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout %q does not mention %q", stdout, want)
				}
			}
			if strings.Count(stdout, "\n") != 1 {
				t.Errorf("stdout %q is not one line", stdout)
			}
			if d := privateMember(t, privJWK); strings.Contains(stdout, d) {
				t.Errorf("stdout %q holds the private key", stdout)
			}
		})
	}
}

func TestRunKeyID(t *testing.T) {
	tests := []struct {
		name string
		args []string
		// want is the expected kid; empty means the public key's RFC 7638
		// thumbprint.
		want string
	}{
		{name: "EdDSA thumbprint", args: []string{"-alg", "EdDSA"}},
		{name: "ES256 thumbprint", args: []string{"-alg", "ES256"}},
		{name: "RS256 thumbprint", args: []string{"-alg", "RS256", "-bits", "2048"}},
		{name: "given kid", args: []string{"-kid", "monitoring-2026-01"}, want: "monitoring-2026-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			priv, pub := keyPaths(t)
			if code, _, stderr := keygen(t, append(tt.args, "-private", priv, "-public", pub)...); code != 0 {
				t.Fatalf("run = %d, stderr %q; want 0", code, stderr)
			}
			pubJWK := readFile(t, pub)
			want := tt.want
			if want == "" {
				want = thumbprint(t, pubJWK)
			}
			for path, b := range map[string][]byte{priv: readFile(t, priv), pub: pubJWK} {
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if m["kid"] != want {
					t.Errorf("%s kid = %v, want %q", path, m["kid"], want)
				}
			}
		})
	}
}

// thumbprint computes the RFC 7638 JWK thumbprint of a public JWK here,
// independently of go-jose: SHA-256 over the required members in
// lexicographic order, no whitespace, base64url without padding.
func thumbprint(t *testing.T, jwk []byte) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(jwk, &m); err != nil {
		t.Fatalf("public JWK: %v", err)
	}
	required := map[string][]string{
		"OKP": {"crv", "kty", "x"},      // RFC 8037 section 2
		"EC":  {"crv", "kty", "x", "y"}, // RFC 7638 section 3.2
		"RSA": {"e", "kty", "n"},        // RFC 7638 section 3.2
	}[m["kty"]]
	if required == nil {
		t.Fatalf("public JWK has kty %q", m["kty"])
	}
	var members []string
	for _, k := range required {
		members = append(members, `"`+k+`":"`+m[k]+`"`)
	}
	sum := sha256.Sum256([]byte("{" + strings.Join(members, ",") + "}"))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestRunRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		// msg is a fragment of the one line on stderr.
		msg string
	}{
		{name: "no paths", code: 2, msg: "-private and -public are required"},
		{name: "no public", args: []string{"-private", "priv.jwk"}, code: 2, msg: "-private and -public are required"},
		{name: "same path", args: []string{"-private", "k.jwk", "-public", "./k.jwk"}, code: 2, msg: "different files"},
		{name: "unknown alg", args: []string{"-alg", "HS256", "-private", "a", "-public", "b"}, code: 2, msg: `-alg "HS256"`},
		{name: "RSA too short", args: []string{"-alg", "RS256", "-bits", "1024", "-private", "a", "-public", "b"}, code: 2, msg: "at least 2048 bits"},
		{name: "bits without RSA", args: []string{"-bits", "4096", "-private", "a", "-public", "b"}, code: 2, msg: "only to -alg RS256"},
		{name: "unknown flag", args: []string{"-key", "a"}, code: 2, msg: "-key"},
		{name: "stray argument", args: []string{"-private", "a", "-public", "b", "extra"}, code: 2, msg: `"extra"`},
		{name: "missing directory", args: []string{"-private", "/nonexistent/dir/a", "-public", "b"}, code: 1, msg: "/nonexistent/dir/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Relative paths land in an empty directory; nothing may appear.
			dir := t.TempDir()
			t.Chdir(dir)
			code, stdout, stderr := keygen(t, tt.args...)
			if code != tt.code {
				t.Errorf("run = %d, want %d", code, tt.code)
			}
			if !strings.HasPrefix(stderr, "monitoring-keygen: ") || !strings.Contains(stderr, tt.msg) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr = %q, want one line starting %q containing %q", stderr, "monitoring-keygen: ", tt.msg)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files left behind: %v", entries)
			}
		})
	}
}

func TestRunNeverOverwrites(t *testing.T) {
	const old = "old key, keep me\n"
	tests := []struct {
		name string
		// existing is which of the two files is already there.
		existing string
	}{
		{name: "private exists", existing: "private"},
		{name: "public exists", existing: "public"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			priv, pub := keyPaths(t)
			paths := map[string]string{"private": priv, "public": pub}
			existing := paths[tt.existing]
			if err := os.WriteFile(existing, []byte(old), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := keygen(t, "-private", priv, "-public", pub)
			if code != 1 {
				t.Errorf("run = %d, want 1", code)
			}
			if !strings.Contains(stderr, existing+" already exists") || stdout != "" {
				t.Errorf("stdout %q, stderr %q; want stderr naming %s", stdout, stderr, existing)
			}
			if got := string(readFile(t, existing)); got != old {
				t.Errorf("existing file now holds %q, want it untouched", got)
			}
			for name, path := range paths {
				if path == existing {
					continue
				}
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s key file left behind (Stat = %v); a rerun would fail", name, err)
				}
			}

			// Once the old file is moved away, the same command works.
			if err := os.Remove(existing); err != nil {
				t.Fatal(err)
			}
			if code, _, stderr := keygen(t, "-private", priv, "-public", pub); code != 0 {
				t.Errorf("rerun = %d, stderr %q; want 0", code, stderr)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	code, stdout, stderr := keygen(t, "-h")
	if code != 0 || stderr != "" {
		t.Errorf("run -h = %d, stderr %q; want 0 and no stderr", code, stderr)
	}
	for _, want := range []string{"Usage:", "Example:", "monitoring-keygen -private", "-alg", "-bits", "-kid", "-public"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("usage does not mention %q:\n%s", want, stdout)
		}
	}
}

// TestExitStatus runs the command itself, to check what main makes of run's
// result.
func TestExitStatus(t *testing.T) {
	priv, pub := keyPaths(t)
	existing := filepath.Join(t.TempDir(), "existing.jwk")
	if err := os.WriteFile(existing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
	}{
		{name: "success", args: []string{"-private", priv, "-public", pub}, code: 0},
		{name: "file exists", args: []string{"-private", existing, "-public", pub + ".2"}, code: 1},
		{name: "usage", args: []string{"-alg", "none"}, code: 2},
		{name: "help", args: []string{"-h"}, code: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tt.args...)
			// GORACE: the race detector otherwise waits a second before a
			// successful exit.
			cmd.Env = append(os.Environ(), runMainEnv+"=1", "GORACE=atexit_sleep_ms=0")
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("run %s: %v", os.Args[0], err)
			}
			if code != tt.code {
				t.Errorf("exit status = %d, want %d", code, tt.code)
			}
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// privateMember returns the private key's "d" member.
func privateMember(t *testing.T, jwk []byte) string {
	t.Helper()
	var m struct{ D string }
	if err := json.Unmarshal(jwk, &m); err != nil || m.D == "" {
		t.Fatalf("private JWK has no d member (%v)", err)
	}
	return m.D
}
