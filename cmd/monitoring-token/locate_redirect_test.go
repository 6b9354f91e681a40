package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestRedirectToRemotePlainHTTP: a loopback locate that redirects to plain
// http on another host gets nothing sent there. The other host is reached
// through a proxy on loopback (Go never proxies loopback, so locate itself
// is asked directly), which records what would have left the machine.
func TestRedirectToRemotePlainHTTP(t *testing.T) {
	t.Parallel()
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

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
