package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/locate"
)

// With -read-env=false the environment is the attacker's: script_exporter
// v3 puts every query parameter of a scrape there, after its own
// variables. Besides monitoring-token's configuration, Go itself, and the
// command, read variables that could send the token elsewhere, trust
// another certificate or print the token. docs/operations.md "Secrets"
// holds the threat model; this file is the one table of those variables.

// Go 1.26 reads these variables of its own before main, and what they
// set cannot all be undone once main runs:
//
//   - GODEBUG: http2debug=1 or 2 (read by net/http at init) prints
//     every request header of HTTP/2 on stderr, the token in locate's URL
//     included; tls… and x509… settings weaken TLS and certificate
//     checks (read through internal/godebug, which follows later changes
//     of the variable); the runtime's own (gctrace…) print no secrets.
//   - GOTRACEBACK: crash dumps core, the private key in memory with it;
//     all and system print every goroutine's stack, which shows
//     arguments as machine words, never a string's bytes.
//   - GOGC, GOMEMLIMIT, GOMAXPROCS change only what a run costs.
//
// With -read-env=false neutraliseRuntime undoes what matters. Otherwise
// the environment is trusted like the configuration it holds, except that
// nothing may print a token: checkRuntimeEnv refuses http2debug.

// checkRuntimeEnv refuses GODEBUG's http2debug, which prints the token,
// unless -read-env=false neutralises it.
func checkRuntimeEnv(lookupEnv func(string) (string, bool), readEnv bool) error {
	if v, _ := lookupEnv("GODEBUG"); readEnv && strings.Contains(v, "http2debug") {
		return errors.New("GODEBUG holds http2debug, which makes net/http print request headers on stderr, the token in locate's URL included: unset it (see Secrets in docs/operations.md)")
	}
	return nil
}

// distrustedVars are the variables Go reads while it runs that decide
// where the token goes or whom it trusts, and those it reads before main.
// With -read-env=false they are removed from monitoring-token's
// environment before anything connects.
var distrustedVars = []string{
	// net/http's ProxyFromEnvironment: a proxy that sees every request.
	// (locate.NewTransport reads none either.)
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
	// crypto/x509 reads them once, lazily, when it first loads the
	// system's roots: whatever certificate they name would be trusted.
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	// Unsetting GODEBUG puts internal/godebug's settings (tls…, x509…)
	// back to their defaults; GOTRACEBACK cannot be undone (see
	// neutraliseRuntime).
	"GODEBUG", "GOTRACEBACK",
}

// neutraliseRuntime makes the environment decide nothing about where the
// token goes, whom monitoring-token trusts or what it prints, for
// -read-env=false. It runs before anything connects. It removes
// distrustedVars, and sets the core file size limit to 0, so that
// GOTRACEBACK=crash, which a running program cannot lower, writes no core
// with the key in it. HTTP/2 is left off by locate.NewTransport's caller
// (setTransport), so that an http2debug read at init has nothing to print.
func neutraliseRuntime() error {
	for _, name := range distrustedVars {
		if err := os.Unsetenv(name); err != nil {
			return fmt.Errorf("unset %s: %w", name, err)
		}
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		return fmt.Errorf("set the core file size limit to 0: %w", err)
	}
	return nil
}

// commandKeeps reports whether the command inherits variable name under
// -read-env=false. It is an allow-list: a deny-list would have to know
// every variable of every client and of what each loads (LD_PRELOAD,
// BASH_ENV, JAVA_TOOL_OPTIONS, PYTHONPATH, NODE_OPTIONS, OPENSSL_CONF,
// CURL_CA_BUNDLE…), and would miss the next one. What is kept only finds
// programs and says how to show text; the variables monitoring-token
// sets (the URL) are added after.
func commandKeeps(name string) bool {
	switch name {
	case "PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ":
		return true
	}
	return strings.HasPrefix(name, "LC_")
}

// commandEnvironment is what the command inherits, before the variables
// monitoring-token sets: everything but monitoring-token's configuration,
// or with -read-env=false only what commandKeeps.
func commandEnvironment(cfg *config) exec.Env {
	env := exec.Environ()
	if !cfg.readEnv {
		return env.Only(commandKeeps)
	}
	return env
}

// loadRoots reads the certificates of -ca-file, PEM.
func loadRoots(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-ca-file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("-ca-file %s holds no PEM certificate", path)
	}
	return roots, nil
}

// setTransport gives client a transport that reads no proxy from the
// environment and speaks only HTTP/1.1 with -read-env=false, and trusts
// only -ca-file's CAs when it is given. Otherwise the client keeps net/http's default, which reads
// HTTP(S)_PROXY, NO_PROXY, SSL_CERT_FILE and SSL_CERT_DIR: an environment
// monitoring-token reads its configuration from decides those too.
func setTransport(client *locate.Client, cfg *config) error {
	if cfg.readEnv && cfg.caFile == "" {
		return nil
	}
	var roots *x509.CertPool
	if cfg.caFile != "" {
		var err error
		if roots, err = loadRoots(cfg.caFile); err != nil {
			return err
		}
	}
	t := locate.NewTransport(roots)
	if cfg.readEnv {
		t.Proxy = http.ProxyFromEnvironment
	} else {
		// HTTP/1.1 only: net/http read GODEBUG's http2debug at init,
		// before neutraliseRuntime, and only its HTTP/2 code prints. One
		// request gains nothing from HTTP/2.
		t.ForceAttemptHTTP2 = false
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	client.HTTP.Transport = t
	return nil
}

// answerTokens returns locate's tokens in answer: its access_token and
// that of every URL.
func answerTokens(a *locate.Answer) []string {
	tokens := []string{a.AccessToken}
	targets := a.Results
	if a.Target != nil {
		targets = append(targets, *a.Target)
	}
	for _, t := range targets {
		for _, raw := range t.URLs {
			if u, err := url.Parse(raw); err == nil {
				tokens = append(tokens, u.Query()[locate.AccessTokenParam]...)
			}
		}
	}
	return tokens
}
