package main

import (
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/token"
)

// Tests of issue 24: what an environment set by a stranger (script_exporter
// v3 puts a scrape's query parameters there) can do to the token.

// connCounter listens on addr and counts the connections it gets, closing
// each: a proxy or a host that must never be reached.
type connCounter struct {
	mu   sync.Mutex
	n    int
	addr string
}

func newConnCounter(t *testing.T, addr string) *connCounter {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &connCounter{addr: l.Addr().String()}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.n++
			c.mu.Unlock()
			conn.Close()
		}
	}()
	return c
}

func (c *connCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// tlsLocate is a locate stand-in over TLS with HTTP/2 on, answering with a
// usable answer and recording the token and protocol of every request.
type tlsLocate struct {
	srv      *httptest.Server
	certFile string // its certificate, PEM
	certDir  string // a directory holding only certFile
	certPEM  string
	mu       sync.Mutex
	tokens   []string
	protos   []string
}

func newTLSLocate(t *testing.T) *tlsLocate {
	t.Helper()
	l := &tlsLocate{}
	answer := fmt.Sprintf(`{"access_token":"x","results":[{"machine":%q,"urls":{"wss:///ndt/v7/download":"wss://ndt-%s/ndt/v7/download?access_token=x"}}]}`, machine, machine)
	l.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		l.mu.Lock()
		l.tokens = append(l.tokens, req.URL.Query().Get(locate.AccessTokenParam))
		l.protos = append(l.protos, req.Proto)
		l.mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprint(rw, answer)
	}))
	l.srv.EnableHTTP2 = true
	l.srv.StartTLS()
	t.Cleanup(l.srv.Close)
	l.certDir = t.TempDir()
	l.certFile = filepath.Join(l.certDir, "cert.pem")
	l.certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.srv.Certificate().Raw}))
	if err := os.WriteFile(l.certFile, []byte(l.certPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *tlsLocate) url() string { return l.srv.URL + "/v2/platform/monitoring/" }

func (l *tlsLocate) requests() (tokens, protos []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string{}, l.tokens...), append([]string{}, l.protos...)
}

// TestInjectedProxyGetsNoConnection: with -read-env=false the proxy
// variables are not read, so a loopback CONNECT listener named by all of
// them sees no connection. Locate is not on loopback (Go never proxies
// loopback): locate.invalid, which does not resolve. With the environment
// read, the same variables are honoured, which shows the listener works.
func TestInjectedProxyGetsNoConnection(t *testing.T) {
	f := newFixture(t)
	proxy := newConnCounter(t, "127.0.0.1:0")
	var env []string
	for _, name := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"} {
		env = append(env, name+"=http://"+proxy.addr)
	}
	args := []string{"-locate-url=https://locate.invalid/v2/platform/monitoring/", "-monitoring-signer-key=" + f.keyPath, "-machine=" + machine, "-timeout=5s", "--", "true"}

	r := runBinary(t, env, append([]string{"-read-env=false"}, args...)...)
	if r.status != statusFailed || proxy.count() != 0 {
		t.Errorf("-read-env=false: status %d, %d connections to the injected proxy (want %d, 0); stderr %q", r.status, proxy.count(), statusFailed, r.stderr)
	}
	runBinary(t, env, args...)
	if proxy.count() == 0 {
		t.Errorf("reading the environment, the proxy got no connection either: the test proves nothing")
	}
}

// TestCertificateOnlyThroughEnvironment: a TLS locate (HTTP/2 on) whose
// certificate is offered only through the environment gets no request
// with -read-env=false: SSL_CERT_FILE, SSL_CERT_DIR, and SSL_CERT_FILE
// pointing at /proc/self/environ with the certificate in another
// variable, as a scrape can. -ca-file trusts it.
func TestCertificateOnlyThroughEnvironment(t *testing.T) {
	f := newFixture(t)
	loc := newTLSLocate(t)
	tests := []struct {
		name   string
		env    []string
		flags  []string
		status int
		proto  string // of the requests, when they come
	}{
		{name: "SSL_CERT_FILE", env: []string{"SSL_CERT_FILE=" + loc.certFile}, flags: []string{"-read-env=false"}, status: statusFailed},
		{name: "SSL_CERT_DIR", env: []string{"SSL_CERT_DIR=" + loc.certDir}, flags: []string{"-read-env=false"}, status: statusFailed},
		{name: "SSL_CERT_FILE=/proc/self/environ", env: []string{"SSL_CERT_FILE=/proc/self/environ", "CA=\n" + loc.certPEM}, flags: []string{"-read-env=false"}, status: statusFailed},
		// The environment read, it is trusted as Go documents: the
		// variable works, which shows the rows above prove something.
		{name: "SSL_CERT_FILE, environment read", env: []string{"SSL_CERT_FILE=" + loc.certFile}, status: 0, proto: "HTTP/2.0"},
		{name: "-ca-file", flags: []string{"-read-env=false", "-ca-file=" + loc.certFile}, status: 0, proto: "HTTP/1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := loc.requests()
			args := append(tt.flags, "-locate-url="+loc.url(), "-monitoring-signer-key="+f.keyPath, "-machine="+machine, "-timeout=10s", "--", "true")
			r := runBinary(t, tt.env, args...)
			_, protos := loc.requests()
			protos = protos[len(before):]
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; stderr %q", r.status, tt.status, r.stderr)
			}
			if tt.status != 0 && (len(protos) != 0 || !strings.Contains(r.stderr, "certificate")) {
				t.Errorf("%d requests reached locate (want none); stderr %q", len(protos), r.stderr)
			}
			for _, p := range protos {
				if p != tt.proto {
					t.Errorf("request over %s, want %s", p, tt.proto)
				}
			}
		})
	}
}

// TestNoWholeTokenOnStderr: GODEBUG=http2debug=2 makes net/http's HTTP/2
// print request headers, the token in the path included. With
// -read-env=false it is neutralised (HTTP/1.1, GODEBUG unset) and the
// probe runs; otherwise monitoring-token refuses to run with it. Either
// way stderr holds no whole token.
func TestNoWholeTokenOnStderr(t *testing.T) {
	f := newFixture(t)
	loc := newTLSLocate(t)
	inject := []string{"GODEBUG=http2debug=2,x509sha1=1", "GOTRACEBACK=crash"}
	tests := []struct {
		name   string
		flags  []string
		status int
		want   string
	}{
		{name: "-read-env=false", flags: []string{"-read-env=false", "-logx.debug"}, status: 0},
		{name: "environment read", flags: []string{"-logx.debug"}, status: statusFailed, want: "monitoring-token: GODEBUG holds http2debug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := loc.requests()
			args := append(tt.flags, "-ca-file="+loc.certFile, "-locate-url="+loc.url(), "-monitoring-signer-key="+f.keyPath, "-machine="+machine, "-timeout=10s", "--", "true")
			r := runBinary(t, inject, args...)
			tokens, _ := loc.requests()
			tokens = tokens[len(before):]
			if r.status != tt.status || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("status %d, stderr %q; want %d and %q", r.status, r.stderr, tt.status, tt.want)
			}
			if leaked := jwtPattern.FindAllString(strings.ReplaceAll(r.output(), token.Redacted, ""), -1); len(leaked) != 0 {
				t.Errorf("the output holds %d whole tokens:\n%s", len(leaked), r.stderr)
			}
			for _, tok := range tokens {
				if sig := tok[strings.LastIndex(tok, ".")+1:]; strings.Contains(r.output(), sig) {
					t.Errorf("the output holds the signature of the token locate got:\n%s", r.stderr)
				}
			}
			if tt.status == 0 && len(tokens) == 0 {
				t.Errorf("locate got no token: nothing was tested")
			}
			if tt.status != 0 && len(tokens) != 0 {
				t.Errorf("locate got %d requests from a run that refused to start", len(tokens))
			}
		})
	}
}

// TestCommandGetsAllowListOnly: with -read-env=false the command inherits
// only what finds programs and shows text, none of the variables that
// change what a client loads or trusts; with the environment read, it
// inherits them (the operator's environment).
func TestCommandGetsAllowListOnly(t *testing.T) {
	f := newFixture(t)
	injected := map[string]string{
		"LD_PRELOAD": "/nonexistent/preload.so", "LD_LIBRARY_PATH": f.dir, "BASH_ENV": "/proc/self/environ",
		"ENV": "/proc/self/environ", "JAVA_TOOL_OPTIONS": "-javaagent:/tmp/a.jar", "HTTPS_PROXY": "http://127.0.0.1:9",
		"SSL_CERT_FILE": "/proc/self/environ", "SSL_CERT_DIR": "/tmp", "GODEBUG": "x509sha1=1", "GOTRACEBACK": "crash",
		"PYTHONPATH": f.dir, "NODE_OPTIONS": "--require /tmp/x.js", "OPENSSL_CONF": "/proc/self/environ", "CURL_CA_BUNDLE": "/proc/self/environ",
	}
	kept := map[string]string{"HOME": f.dir, "LANG": "C.UTF-8", "LC_ALL": "C", "TZ": "UTC", "USER": "probe"}
	var env []string
	for k, v := range injected {
		env = append(env, k+"="+v)
	}
	for k, v := range kept {
		env = append(env, k+"="+v)
	}
	out := filepath.Join(f.dir, "env.out")
	command := []string{"--", "/bin/sh", "-c", "env > " + out}
	for _, readEnv := range []bool{false, true} {
		r := runBinary(t, env, append(f.flags(fmt.Sprintf("-read-env=%v", readEnv)), command...)...)
		if r.status != 0 {
			t.Fatalf("-read-env=%v: status %d, stderr %q", readEnv, r.status, r.stderr)
		}
		got := map[string]string{}
		for _, kv := range strings.Split(readFile(t, out), "\n") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				got[k] = v
			}
		}
		for k, v := range kept {
			if got[k] != v {
				t.Errorf("-read-env=%v: the command got %s=%q, want %q", readEnv, k, got[k], v)
			}
		}
		for k := range injected {
			if _, ok := got[k]; ok != readEnv {
				t.Errorf("-read-env=%v: the command got %s: %v", readEnv, k, ok)
			}
		}
		if got["SERVICE_URL"] == "" || got["PATH"] == "" {
			t.Errorf("-read-env=%v: the command lacks SERVICE_URL or PATH: %q", readEnv, got)
		}
	}
}

// TestLocateErrorTextIsOneLine: a problem from locate with a forged log
// line, a terminal escape and 20,000 bytes reaches stderr as one short
// line of printable characters.
func TestLocateErrorTextIsOneLine(t *testing.T) {
	f := newFixture(t)
	body := fmt.Sprintf(`{"error":{"type":"x","title":"Bad\nmonitoring-token: probe passed\u001b[2J","status":400,"detail":%q}}`, strings.Repeat("d", 20000))
	f.emu.Inject(status(http.StatusBadRequest, "application/json", body))
	r := runBinary(t, nil, append(f.flags("-read-env=false"), "--", "true")...)
	if r.status != statusFailed || !strings.Contains(r.stderr, "locate refused the request: Bad") {
		t.Fatalf("status %d, stderr %q", r.status, r.stderr)
	}
	line := strings.TrimSuffix(r.stderr, "\n")
	if strings.ContainsFunc(line, func(r rune) bool { return r < ' ' || r == 0x7f }) || len(line) > 1000 {
		t.Errorf("stderr is not one short printable line (%d bytes): %q", len(r.stderr), r.stderr[:min(len(r.stderr), 300)])
	}
}

// TestPlantedMetricsFile: a FIFO or a link to /dev/zero where a failed
// probe reads back the previous metrics file's last success neither hangs
// the run nor changes its status, and the new metrics replace it.
func TestPlantedMetricsFile(t *testing.T) {
	tests := []struct {
		name  string
		plant func(t *testing.T, path string)
	}{
		{name: "FIFO", plant: func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o666); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "link to /dev/zero", plant: func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			path := filepath.Join(f.dir, "probe.prom")
			tt.plant(t, path)
			// A failed probe reads the last success back.
			r := runWithin(t, 20*time.Second, append(f.flags("-metrics-file="+path), "--", "false")...)
			if r.status != 1 {
				t.Fatalf("status %d, want the command's 1; stderr %q", r.status, r.stderr)
			}
			if m := probeMetrics(t, path); m["monitoring_probe_success"] != 0 || m["monitoring_probe_exit_code"] != 1 {
				t.Errorf("metrics %v", m)
			}
		})
	}
}

// TestKeyWritableByOthers: a key anyone may write is refused with 125 and
// a line naming the file and its mode; one anyone may read (a Kubernetes
// secret's 0644) is used.
func TestKeyWritableByOthers(t *testing.T) {
	for _, tt := range []struct {
		mode   os.FileMode
		status int
	}{{0o666, statusFailed}, {0o620, statusFailed}, {0o644, 0}} {
		f := newFixture(t)
		if err := os.Chmod(f.keyPath, tt.mode); err != nil {
			t.Fatal(err)
		}
		r := runBinary(t, nil, append(f.flags(), "--", "true")...)
		want := fmt.Sprintf("monitoring-token: signer key %s is writable by group or others (mode %04o)", f.keyPath, tt.mode)
		if r.status != tt.status || tt.status != 0 && (!strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1) {
			t.Errorf("mode %04o: status %d, stderr %q; want %d and %q", tt.mode, r.status, r.stderr, tt.status, want)
		}
		if tt.status != 0 && f.emu.Requests() != 0 {
			t.Errorf("mode %04o: locate was asked", tt.mode)
		}
	}
}

// TestWrappedOutputIsRedacted: a client that prints its URL wrapped at 60
// columns and fails puts no run of the token's signature in the failure
// line: locate's token (service URL) or the one monitoring-token signed
// (locate's request URL).
func TestWrappedOutputIsRedacted(t *testing.T) {
	for _, tt := range []struct{ name, flag, variable string }{
		{name: "service URL", flag: "-service-url=true", variable: "SERVICE_URL"},
		{name: "locate's request URL", flag: "-service-url=false -env-name=MONITORING_URL", variable: "MONITORING_URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			out := filepath.Join(f.dir, "url.out")
			script := fmt.Sprintf(`printf %%s "$%s" > %s; printf %%s "$%[1]s" | fold -w 60; echo; echo failed; exit 1`, tt.variable, out)
			r := runBinary(t, nil, append(f.flags(strings.Fields(tt.flag)...), "--", "/bin/sh", "-c", script)...)
			if r.status != 1 || !strings.Contains(r.stderr, "its output ended with") {
				t.Fatalf("status %d, stderr %q", r.status, r.stderr)
			}
			u, err := url.Parse(readFile(t, out))
			if err != nil {
				t.Fatal(err)
			}
			tok := u.Query().Get(locate.AccessTokenParam)
			sig := tok[strings.LastIndex(tok, ".")+1:]
			if len(sig) < 40 {
				t.Fatalf("token %q has no signature to look for", tok)
			}
			squeezed := strings.Map(func(r rune) rune {
				if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
					return r
				}
				return -1
			}, strings.ReplaceAll(r.stderr, `\n`, " "))
			for i := 0; i+token.MinSecretRun <= len(sig); i++ {
				if strings.Contains(squeezed, sig[i:i+token.MinSecretRun]) {
					t.Fatalf("the failure line holds %d characters of the signature from %d: %q", token.MinSecretRun, i, r.stderr)
				}
			}
		})
	}
}

// TestRedirectToAnotherLoopbackAddress: locate redirecting, query and
// token kept, to another host (127.0.0.2, loopback, same scheme) is
// refused: that host gets no connection.
func TestRedirectToAnotherLoopbackAddress(t *testing.T) {
	f := newFixture(t)
	other := newConnCounter(t, "127.0.0.2:0")
	f.emu.Inject(func(rw http.ResponseWriter, req *http.Request) {
		http.Redirect(rw, req, "http://"+other.addr+req.URL.Path+"?"+req.URL.RawQuery, http.StatusTemporaryRedirect)
	})
	r := runBinary(t, nil, append(f.flags("-timeout=5s"), "--", "true")...)
	if r.status != statusFailed || !strings.Contains(r.stderr, "another origin, which would receive the token; use the URL locate redirects to as -locate-url") {
		t.Errorf("status %d, stderr %q; want %d refusing the redirect", r.status, r.stderr, statusFailed)
	}
	if n := other.count(); n != 0 {
		t.Errorf("127.0.0.2 got %d connections", n)
	}
}

// TestNoCoreDump: GOTRACEBACK=crash, which a running Go program cannot
// lower, would dump core with the key in memory; with -read-env=false the
// core size limit is 0 (the command inherits it), even when the limit
// monitoring-token was started with allowed cores.
func TestNoCoreDump(t *testing.T) {
	if b, err := osexec.Command("/bin/sh", "-c", "ulimit -c unlimited").CombinedOutput(); err != nil {
		t.Skipf("cannot raise the core size limit here: %v: %s", err, b)
	}
	f := newFixture(t)
	out := filepath.Join(f.dir, "core.out")
	line := fmt.Sprintf(`ulimit -c unlimited && exec %s -read-env=false %s -- /bin/sh -c 'ulimit -c > %s'`, binary, strings.Join(f.flags(), " "), out)
	cmd := osexec.Command("/bin/sh", "-c", line)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GOTRACEBACK=crash"}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if got := strings.TrimSpace(readFile(t, out)); got != "0" {
		t.Errorf("the core size limit is %q, want 0", got)
	}
}
