package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// machine is the name the local ndt-server answers to (-token.machine): the
// bare v2 name that locate's access token must name exactly.
const machine = "mlab1-lga03.mlab-oti.measurement-lab.org"

// otherMachine is a well-formed machine name that is not the server's.
const otherMachine = "mlab2-lga03.mlab-oti.measurement-lab.org"

// locateQuery is sent to locate and comes back on every URL it issues;
// ndt-server then ends a download after 250 MB instead of 10 s.
const locateQuery = "early_exit=250"

// Deadlines.
const (
	// startTimeout bounds the wait for a process to be ready.
	startTimeout = 30 * time.Second
	// serviceLife bounds how long the emulator and ndt-server may run.
	serviceLife = 15 * time.Minute
	// probeTimeout bounds one probe run: locate, a download and a 10 s
	// upload with room to spare on a loaded machine.
	probeTimeout = 2 * time.Minute
	// settleTimeout bounds the wait for the server's counters to settle
	// after a probe exits.
	settleTimeout = 15 * time.Second
	// settleGrace is how long counts that differ from the wanted ones may
	// still change once the server has ended every measurement: it counts
	// a measurement's result and then its rate, a moment apart.
	settleGrace = time.Second
	// pollInterval is how often a wait checks its condition.
	pollInterval = 20 * time.Millisecond
)

// chain is a locate emulator and an ndt-server on loopback, set up as
// production is: the server requires locate's tokens for machine, and the
// emulator's URLs lead to it. Probes run against it one at a time.
type chain struct {
	dir        string
	env        []string // the probes' environment
	metricsURL string   // ndt-server's /metrics
	// locateHits counts requests that reached the emulator.
	locateHits atomic.Int64
	// trapHits counts connections to the proxy that stands for every
	// address but loopback.
	trapHits atomic.Int64
}

// startChain starts an emulator and an ndt-server for the test; they stop
// when it ends.
func startChain(t *testing.T) *chain {
	t.Helper()
	c := &chain{dir: t.TempDir()}
	certFile, keyFile, roots := writeCert(t, c.dir)
	trap := c.startTrap(t)

	// The server's TLS port is chosen before either starts, because the
	// emulator's URLs must name it; if something takes it meanwhile,
	// start again on another.
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var emu, srv *process
		var locateURL string
		tlsAddr, metricsAddr := freeAddr(t), freeAddr(t)
		emu, locateURL, err = c.startEmulator(t, tlsAddr)
		if err != nil {
			t.Fatal(err)
		}
		srv, err = c.startServer(t, tlsAddr, metricsAddr, certFile, keyFile, roots)
		if err != nil {
			emu.stop()
			if srv != nil && strings.Contains(srv.output(), "address already in use") {
				t.Logf("attempt %d: %v", attempt, err)
				continue
			}
			t.Fatal(err)
		}
		c.setProbeEnv(t, metricsAddr, certFile, trap, locateURL)
		return c
	}
	t.Fatalf("no free port for ndt-server after 3 attempts: %v", err)
	return nil
}

// setProbeEnv sets the server's metrics address and the probes'
// environment: the certificate the clients trust, the trap as the proxy
// for everything else, the emulator as locate and its key. ndt7-client is
// found on PATH through a wrapper that gives it the certificate and the
// trap itself: with -read-env=false monitoring-token passes the command
// neither, as a production client needs neither.
func (c *chain) setProbeEnv(t *testing.T, metricsAddr, certFile, trap, locateURL string) {
	t.Helper()
	c.metricsURL = "http://" + metricsAddr + "/metrics"
	clients := filepath.Join(c.dir, "clients")
	wrapper := fmt.Sprintf("#!/bin/sh\nSSL_CERT_FILE='%s' HTTPS_PROXY='http://%s' HTTP_PROXY='http://%s' exec '%s' \"$@\"\n", certFile, trap, trap, filepath.Join(binDir, "ndt7-client"))
	if err := os.MkdirAll(clients, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(clients, "ndt7-client"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	c.env = []string{
		"PATH=" + clients + ":" + binDir + ":/usr/bin:/bin",
		"HOME=" + c.dir,
		// ndt7-client trusts the server's certificate this way, so its
		// command line stays as users write it.
		"SSL_CERT_FILE=" + certFile,
		// A client that is not given the URL asks public locate: through
		// this proxy, which is the trap on loopback.
		"HTTPS_PROXY=http://" + trap,
		"HTTP_PROXY=http://" + trap,
		"LOCATE_URL=" + locateURL,
		"MONITORING_SIGNER_KEY=" + filepath.Join(c.dir, "monitoring.jwk"),
	}
}

// startTrap listens on loopback for connections that would otherwise leave
// the machine, counts them and closes them. It returns its address.
func (c *chain) startTrap(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			c.trapHits.Add(1)
			conn.Close()
		}
	}()
	return l.Addr().String()
}

// startEmulator runs locate-emulator with its URLs pointing at serviceAddr
// and a counting proxy in front. It returns the locate URL for probes.
func (c *chain) startEmulator(t *testing.T, serviceAddr string) (*process, string, error) {
	t.Helper()
	urlFile := filepath.Join(c.dir, "locate-url")
	for _, f := range []string{urlFile, filepath.Join(c.dir, "monitoring.jwk")} {
		os.Remove(f) // From an earlier attempt.
	}
	emu, err := startProcess(t, "locate-emulator", serviceLife, []string{"PATH=/usr/bin:/bin"},
		filepath.Join(binDir, "locate-emulator"),
		"-generate-key", filepath.Join(c.dir, "monitoring.jwk"),
		"-url-file", urlFile,
		"-service-addr", serviceAddr,
		"-locate-public-key", filepath.Join(c.dir, "locate.pub.jwk"))
	if err != nil {
		return nil, "", err
	}
	var base string
	err = waitFor(startTimeout, "locate-emulator's URL file", func() (bool, error) {
		if emu.exited() {
			return false, fmt.Errorf("locate-emulator exited: %s", emu.output())
		}
		b, err := os.ReadFile(urlFile)
		base = strings.TrimSpace(string(b))
		return err == nil && base != "", nil
	})
	if err != nil {
		emu.stop()
		return nil, "", err
	}
	target, err := url.Parse(base)
	if err != nil {
		emu.stop()
		return nil, "", err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: target.Scheme, Host: target.Host})
		},
		Transport: &http.Transport{Proxy: nil},
	}
	front := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		c.locateHits.Add(1)
		proxy.ServeHTTP(rw, req)
	}))
	t.Cleanup(front.Close)
	return emu, front.URL + target.Path + "?" + locateQuery, nil
}

// startServer runs ndt-server with ndt7 over TLS on tlsAddr, metrics on
// metricsAddr, every other service on a port of its own choosing, and
// tokens required for machine, verified with the emulator's key. It is
// ready when tlsAddr presents this test's certificate: ndt-server binds
// its metrics port before that, so both are its own.
func (c *chain) startServer(t *testing.T, tlsAddr, metricsAddr, certFile, keyFile string, roots *x509.CertPool) (*process, error) {
	t.Helper()
	data := filepath.Join(c.dir, "ndt-data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	// ndt-server reads a variable for every flag (m-lab/go flagx), so it
	// gets an environment with nothing else in it.
	srv, err := startProcess(t, "ndt-server", serviceLife, []string{"PATH=/usr/bin:/bin"},
		filepath.Join(binDir, "ndt-server"),
		"-ndt7.token.required",
		"-token.verify-key="+filepath.Join(c.dir, "locate.pub.jwk"),
		"-token.machine="+machine,
		"-cert="+certFile, "-key="+keyFile,
		"-ndt7_addr="+tlsAddr,
		"-ndt7_addr_cleartext=127.0.0.1:0",
		"-ndt5_addr=127.0.0.1:0",
		"-ndt5_ws_addr=127.0.0.1:0",
		"-ndt5_wss_addr=127.0.0.1:0",
		"-health_addr=127.0.0.1:0",
		"-prometheusx.listen-address="+metricsAddr,
		"-datadir="+data,
		"-htmldir="+filepath.Join(c.dir, "no-html"))
	if err != nil {
		return nil, err
	}
	return srv, waitServer(srv, tlsAddr, metricsAddr, roots)
}

// waitServer waits until ndt-server presents the test's certificate on
// tlsAddr and serves its metrics on metricsAddr; it stops the server if
// not.
func waitServer(srv *process, tlsAddr, metricsAddr string, roots *x509.CertPool) error {
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second}, Config: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}}
	err := waitFor(startTimeout, "ndt-server's TLS port", func() (bool, error) {
		if srv.exited() {
			return false, fmt.Errorf("ndt-server exited: %s", srv.output())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn, err := dialer.DialContext(ctx, "tcp", tlsAddr)
		if err != nil {
			return false, nil
		}
		conn.Close()
		return true, nil
	})
	if err != nil {
		srv.stop()
		return err
	}
	if _, err := scrape("http://" + metricsAddr + "/metrics"); err != nil {
		srv.stop()
		return fmt.Errorf("ndt-server metrics: %w", err)
	}
	return nil
}

// probe is one run of a command as a scheduler would run it.
type probe struct {
	name string
	argv []string
	env  []string // added to the chain's environment; later entries win
}

// outcome is what one probe run did, as the probe and the server saw it.
type outcome struct {
	exit   int
	output string // stdout and stderr, tokens redacted
	locate int64  // requests that reached the emulator
	server tally  // what the server counted during the run
}

// want is the outcome a probe run must have.
type want struct {
	exit int // exitFailed: any status but 0 and 125
	// locate says whether the run must reach the emulator.
	locate bool
	server tally
}

// exitFailed in a want is any failure of the command itself: not 0, and
// not 125 (monitoring-token failed before it ran the command).
const exitFailed = -1

// run runs p against the chain, waits for the server's counters to settle
// and returns what happened. It fails the test only if the run could not
// be observed.
func (c *chain) run(t *testing.T, p probe, w want) outcome {
	t.Helper()
	before, err := scrape(c.metricsURL)
	if err != nil {
		t.Fatalf("%s: metrics before: %v", p.name, err)
	}
	hits := c.locateHits.Load()
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
	cmd.Env = append(append([]string{}, c.env...), p.env...)
	cmd.Dir = c.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A child that keeps the output pipe open must not hang the test.
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("%s: %v", p.name, err)
	}
	o := outcome{exit: cmd.ProcessState.ExitCode(), output: redact(out.String()), locate: c.locateHits.Load() - hits}
	if ctx.Err() != nil {
		t.Fatalf("%s: still running after %v; output:\n%s", p.name, probeTimeout, o.output)
	}
	// Measurements end on the server after the client has its result:
	// wait until every measurement begun has ended, then give the counts
	// a moment (settleGrace) to become the wanted ones, and judge the
	// last counts. Token decisions are counted before the server answers
	// the client, so they are final when the probe exits.
	deadline := time.Now().Add(settleTimeout)
	for {
		after, err := scrape(c.metricsURL)
		if err != nil {
			t.Fatalf("%s: metrics after: %v", p.name, err)
		}
		o.server = after.minus(before)
		settled := after.started == after.finished
		if settled && o.server.equal(w.server) || time.Now().After(deadline) {
			if !settled {
				t.Logf("%s: %v after the probe, ndt-server has ended %v of %v measurements", p.name, settleTimeout, after.finished, after.started)
			}
			return o
		}
		if grace := time.Now().Add(settleGrace); settled && grace.Before(deadline) {
			deadline = grace
		}
		time.Sleep(pollInterval)
	}
}

// check compares o with w and returns an error listing every difference.
func (o outcome) check(w want) error {
	var diffs []string
	switch {
	case w.exit == exitFailed && (o.exit == 0 || o.exit == 125):
		diffs = append(diffs, fmt.Sprintf("exit status %d, want a failure of the command (not 0, not 125)", o.exit))
	case w.exit != exitFailed && o.exit != w.exit:
		diffs = append(diffs, fmt.Sprintf("exit status %d, want %d", o.exit, w.exit))
	}
	switch {
	case w.locate && o.locate == 0:
		diffs = append(diffs, "no request reached locate")
	case !w.locate && o.locate != 0:
		diffs = append(diffs, fmt.Sprintf("%d requests reached locate, want none", o.locate))
	}
	if !o.server.equal(w.server) {
		diffs = append(diffs, fmt.Sprintf("ndt-server counted %v, want %v", o.server, w.server))
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("%s; output:\n%s", strings.Join(diffs, "; "), o.output)
}

// expect runs p and fails the test unless the outcome is w.
func (c *chain) expect(t *testing.T, p probe, w want) {
	t.Helper()
	if err := c.run(t, p, w).check(w); err != nil {
		t.Errorf("%s: %v", p.name, err)
	}
}

// tokenJWT matches a compact JWT, for redaction.
var tokenJWT = regexp.MustCompile(`(eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+`)

// redact replaces the signatures of tokens in s.
func redact(s string) string {
	return tokenJWT.ReplaceAllString(s, "$1.REDACTED")
}

// process is a service the test started; it is stopped when the test ends.
type process struct {
	name   string
	pid    int // also its process group's ID
	cancel context.CancelFunc
	done   chan struct{}
	out    syncBuffer
}

// startProcess starts argv with env in a process group of its own and
// stops the group (SIGKILL) after life or when the test ends, whichever
// comes first: a service started through sh -c or setpriv is stopped with
// its shell.
func startProcess(t *testing.T, name string, life time.Duration, env []string, argv ...string) (*process, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), life)
	p := &process{name: name, cancel: cancel, done: make(chan struct{})}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.pid = cmd.Process.Pid
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	return p, nil
}

// stop kills the process and waits for it; calling it again does nothing.
func (p *process) stop() {
	p.cancel()
	<-p.done
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// output returns what the process wrote so far.
func (p *process) output() string { return redact(p.out.String()) }

// syncBuffer is a bytes.Buffer that a process may write while the test
// reads it.
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

// waitFor checks cond until it holds, it returns an error, or timeout
// passes.
func waitFor(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		switch {
		case err != nil:
			return fmt.Errorf("waiting for %s: %w", what, err)
		case ok:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("gave up waiting %v for %s", timeout, what)
		}
		time.Sleep(pollInterval)
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// writeCert makes a self-signed certificate for 127.0.0.1, valid for a day,
// writes it and its key as PEM files in dir and returns their paths and a
// pool that trusts it.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "monitoring-token e2e ndt-server"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}
