package main

import (
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
)

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
