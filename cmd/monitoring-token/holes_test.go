package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/monitoring-token/monitoring-token/locate"
)

// TestUnusableServiceURL: a URL the client could not use (it would then
// test a server of its own choosing, or fail and blame the command) stops
// the run with 125 before the command runs or anything is printed.
func TestUnusableServiceURL(t *testing.T) {
	answer := func(u string) http.HandlerFunc {
		target := locate.Target{Machine: machine, URLs: map[string]string{"wss:///ndt/v7/download": u}}
		b, err := json.Marshal(locate.Answer{AccessToken: "x", Results: []locate.Target{target}})
		if err != nil {
			t.Fatal(err)
		}
		return status(http.StatusOK, "application/json", string(b))
	}
	for _, tt := range []struct{ name, url string }{
		{"empty", ""},
		{"NUL byte", "wss://ndt-" + machine + "/ndt/v7/download?x=\x00"},
		{"relative", "/ndt/v7/download"},
		{"no host", "wss:///ndt/v7/download"},
		{"other scheme", "ftp://ndt-" + machine + "/"},
	} {
		for _, mode := range []string{"command", "print"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				f := newFixture(t)
				f.emu.Inject(answer(tt.url))
				ran := filepath.Join(f.dir, "ran")
				args := f.flags("--", "touch", ran)
				if mode == "print" {
					args = f.flags("-print")
				}
				r := runBinary(t, nil, args...)
				if r.status != statusFailed || !strings.Contains(r.stderr, "locate's answer holds an unusable service URL") || r.stdout != "" {
					t.Errorf("status %d stdout %q stderr %q; want %d, nothing printed, and locate's answer named", r.status, r.stdout, r.stderr, statusFailed)
				}
				if _, err := os.Stat(ran); err == nil {
					t.Error("the command ran")
				}
			})
		}
	}
}

// TestRedirectToRemotePlainHTTP: a loopback locate that redirects to plain
// http on another host gets nothing sent there. The other host is reached
// through a proxy on loopback (Go never proxies loopback, so locate itself
// is asked directly), which records what would have left the machine.
func TestRedirectToRemotePlainHTTP(t *testing.T) {
	f := newFixture(t)
	var proxied []string
	proxy := newRecorder(t, &proxied)
	f.emu.Inject(func(rw http.ResponseWriter, req *http.Request) {
		http.Redirect(rw, req, "http://192.0.2.2:8080/v2/platform/monitoring/ndt/ndt7?"+req.URL.RawQuery, http.StatusTemporaryRedirect)
	})
	r := runBinary(t, []string{"HTTP_PROXY=" + proxy, "http_proxy=" + proxy}, append(f.flags("-timeout=5s"), "--", "true")...)
	if r.status != statusFailed || !strings.Contains(r.stderr, "refusing redirect") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("status %d stderr %q; want %d and one line refusing the redirect", r.status, r.stderr, statusFailed)
	}
	if len(proxied) != 0 || f.emu.Requests() != 1 {
		t.Errorf("requests to the remote host: %q; requests to locate: %d (want 1, no retry)", proxied, f.emu.Requests())
	}
}

// newRecorder starts a loopback HTTP proxy that records every request and
// answers 502, and returns its URL.
func newRecorder(t *testing.T, seen *[]string) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		*seen = append(*seen, req.URL.Host)
		rw.WriteHeader(http.StatusBadGateway)
	})}
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestExplainBlamesLocateOnlyForLocate: a deadline that passes after
// locate answered, before the command starts, is not locate's fault. (A
// deadline while locate is asked is named by locate's own error: see
// TestLocateDownFailsFast.)
func TestExplainBlamesLocateOnlyForLocate(t *testing.T) {
	late := errors.New("-timeout 1s expired before the command started; nothing was run")
	if msg := explain(late); strings.Contains(msg, "locate") {
		t.Errorf("explain(%v) = %q blames locate", late, msg)
	}
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// TestKeyReadIsBounded: a key path that never delivers (a FIFO without a
// writer) is bounded by -timeout, and one that never ends (/dev/zero) by a
// size cap; process substitution and symlinked keys still work.
func TestKeyReadIsBounded(t *testing.T) {
	f := newFixture(t)
	fifo := filepath.Join(f.dir, "key.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key, want string
	}{
		{name: "FIFO without a writer", key: fifo, want: "could not be read in time"},
		{name: "/dev/zero", key: "/dev/zero", want: "is larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, nil, "-locate-url="+f.emu.URL, "-monitoring-signer-key="+tt.key, "-machine="+machine, "-timeout=1s", "--", "true")
			if r.status != statusFailed || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "from locate") {
				t.Errorf("status %d stderr %q; want %d and one line with %q", r.status, r.stderr, statusFailed, tt.want)
			}
		})
	}
	t.Run("symlinks and process substitution", func(t *testing.T) {
		data := filepath.Join(f.dir, "..2026_11_23")
		os.Mkdir(data, 0o700)
		os.Rename(f.keyPath, filepath.Join(data, "key.jwk"))
		os.Symlink(data, filepath.Join(f.dir, "..data"))
		os.Symlink(filepath.Join("..data", "key.jwk"), f.keyPath)
		for _, key := range []string{f.keyPath, "<(cat " + f.keyPath + ")"} {
			line := fmt.Sprintf("exec %s -locate-url=%s -monitoring-signer-key=%s -machine=%s -- true", binary, f.emu.URL, key, machine)
			if out, err := osexec.Command("bash", "-c", line).CombinedOutput(); err != nil {
				t.Errorf("key %s: %v: %s", key, err, out)
			}
		}
	})
}

// TestUnusableAccessToken: -token-env-name exports locate's token only
// when it is one.
func TestUnusableAccessToken(t *testing.T) {
	for _, tok := range []string{"", "x", "a.b.c\x00", "a..c"} {
		t.Run(fmt.Sprintf("%q", tok), func(t *testing.T) {
			f := newFixture(t)
			target := locate.Target{Machine: machine, URLs: map[string]string{"wss:///ndt/v7/download": "wss://ndt-" + machine + "/ndt/v7/download?access_token=a.b.c"}}
			b, _ := json.Marshal(locate.Answer{AccessToken: tok, Results: []locate.Target{target}})
			f.emu.Inject(status(http.StatusOK, "application/json", string(b)))
			r := runBinary(t, nil, f.flags("-print", "-token-env-name=T")...)
			if r.status != statusFailed || r.stdout != "" || !strings.Contains(r.stderr, "access_token is not a token") {
				t.Errorf("status %d stdout %q stderr %q", r.status, r.stdout, r.stderr)
			}
		})
	}
}
