package main

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/internal/poll"
	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/token"
)

func TestLocateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		inject   []http.HandlerFunc
		want     []string
		requests int
	}{
		{name: "service without monitoring tokens", args: []string{"-service=ndt/ndt5"}, want: []string{"Must provide access_token", "HTTP 400", "ndt/ndt7 and wehe/replay"}, requests: 1},
		{name: "missing URL key", args: []string{"-service-url-key-name=wss:///nope"}, want: []string{`"wss:///nope"`, `"wss:///ndt/v7/download"`, "-service-url-key-name"}, requests: 1},
		{name: "other 4xx not retried", inject: []http.HandlerFunc{status(http.StatusForbidden, "text/plain", "go away")}, want: []string{"HTTP 403", `"go away"`}, requests: 1},
		{name: "garbage", inject: []http.HandlerFunc{status(http.StatusOK, "text/html", "<html>\x00\x1b[31mhello</html>")}, want: []string{"HTTP 200", "body is not JSON", "content type text/html", `"<html>..[31mhello</html>"`}, requests: 1},
		{name: "oversized", inject: []http.HandlerFunc{status(http.StatusOK, "application/json", strings.Repeat(" ", locate.MaxAnswerSize+1))}, want: []string{"answer larger than 1048576 bytes"}, requests: 1},
		{name: "5xx three times", args: []string{"-timeout=60s"}, inject: repeat(40, status(http.StatusInternalServerError, "text/plain", "boom")), want: []string{"monitoring-token: locate answered HTTP 500 (3 attempts): GET ", `"boom"`}, requests: 3},
		{name: "Retry-After beyond the deadline", args: []string{"-timeout=5s"}, inject: []http.HandlerFunc{retryAfter(120)}, want: []string{"HTTP 503", "retry after 2m0s, beyond the deadline"}, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.emu.Inject(tt.inject...)
			r := runBinary(t, nil, append(f.flags(tt.args...), "--", "true")...)
			if r.status != statusFailed {
				t.Errorf("status %d, want %d", r.status, statusFailed)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q lacks %q", r.stderr, want)
				}
			}
			if tt.requests != 0 && f.emu.Requests() != tt.requests {
				t.Errorf("%d requests, want %d", f.emu.Requests(), tt.requests)
			}
		})
	}
}

func TestTransientFailuresAreRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		inject []http.HandlerFunc
	}{
		{name: "503 then answer", inject: []http.HandlerFunc{status(http.StatusServiceUnavailable, "text/plain", "busy")}},
		{name: "two 500s then answer", inject: repeat(2, status(http.StatusInternalServerError, "", ""))},
		{name: "429 with Retry-After", inject: []http.HandlerFunc{retryAfter(1)}},
		{name: "dropped connection", inject: []http.HandlerFunc{dropConnection}},
		{name: "slow attempt", args: []string{"-timeout=8s"}, inject: []http.HandlerFunc{hang}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.emu.Inject(tt.inject...)
			out, command := f.saveVar("MONITORING_URL")
			r := runBinary(t, nil, append(f.flags(append(tt.args, "-logx.debug")...), command...)...)
			if r.status != 0 {
				t.Fatalf("status %d, stderr %q", r.status, r.stderr)
			}
			if want := len(tt.inject) + 1; f.emu.Requests() != want {
				t.Errorf("%d requests, want %d", f.emu.Requests(), want)
			}
			if !strings.Contains(r.stderr, "retrying in") {
				t.Errorf("debug log %q does not mention the retry", r.stderr)
			}
			if !strings.Contains(readFile(t, out), "/ndt/v7/download") {
				t.Errorf("command did not get the service URL")
			}
		})
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	answer := fmt.Sprintf(`{"access_token":"x","results":[{"machine":%q,"urls":{"wss:///ndt/v7/download":"wss://ndt-%s/ndt/v7/download?access_token=x"}}]}`, machine, machine)
	tlsLocate := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if req.URL.Query().Get("redirect") != "" {
			http.Redirect(rw, req, f.emu.URL+"ndt/ndt7?"+req.URL.RawQuery, http.StatusFound)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprint(rw, answer)
	}))
	t.Cleanup(tlsLocate.Close)
	certFile := filepath.Join(f.dir, "ca.pem")
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsLocate.Certificate().Raw})
	if err := os.WriteFile(certFile, pemCert, 0o600); err != nil {
		t.Fatal(err)
	}
	base := tlsLocate.URL + "/v2/platform/monitoring/"
	tests := []struct {
		name   string
		env    []string
		url    string
		status int
		want   string
	}{
		{name: "trusted through SSL_CERT_FILE", env: []string{"SSL_CERT_FILE=" + certFile}, url: base, status: 0},
		{name: "untrusted certificate", url: base, status: statusFailed, want: "certificate"},
		{name: "redirect to plain http", env: []string{"SSL_CERT_FILE=" + certFile}, url: base + "?redirect=1", status: statusFailed, want: "refusing redirect from https to http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, tt.env, "-locate-url="+tt.url, "-monitoring-signer-key="+f.keyPath, "-machine="+machine, "-timeout=10s", "--", "true")
			if r.status != tt.status || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("status %d stderr %q; want %d and %q", r.status, r.stderr, tt.status, tt.want)
			}
		})
	}
	if n := f.emu.Requests(); n != 0 {
		t.Errorf("the plain http emulator got %d requests; the redirect must not be followed", n)
	}
}

// jwtPattern finds complete tokens: header, claims and a signature.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+`)

func TestDebugLogHoldsNoCompleteToken(t *testing.T) {
	t.Parallel()
	for _, serviceURL := range []string{"true", "false"} {
		t.Run("service-url="+serviceURL, func(t *testing.T) {
			f := newFixture(t)
			// One failed attempt puts the request in an error message too.
			f.emu.Inject(status(http.StatusBadGateway, "text/plain", "bad gateway"))
			out, command := f.saveVar("MONITORING_URL")
			flags := f.flags("-logx.debug", "-service-url="+serviceURL)
			if serviceURL == "true" {
				flags = append(flags, "-token-env-name=LOCATE_TOKEN")
			} else {
				flags = append(flags, "-env-name=MONITORING_URL")
			}
			r := runBinary(t, nil, append(flags, command...)...)
			if r.status != 0 {
				t.Fatalf("status %d, stderr %q", r.status, r.stderr)
			}
			seen := jwtPattern.FindAllString(readFile(t, out), -1)
			if len(seen) == 0 {
				t.Fatal("the command saw no token; nothing to check")
			}
			for _, tok := range seen {
				if strings.Contains(r.stderr, tok) || strings.Contains(r.stderr, tok[strings.LastIndex(tok, "."):]) {
					t.Errorf("debug log holds a complete token:\n%s", r.stderr)
				}
			}
			if leaked := jwtPattern.FindAllString(strings.ReplaceAll(r.stderr, token.Redacted, ""), -1); len(leaked) != 0 {
				t.Errorf("debug log holds %d signed tokens", len(leaked))
			}
			for _, want := range []string{`iss="monitoring"`, `sub="` + machine + `"`, `aud=["locate"]`, `kid="` + f.keyID + `"`, "exp="} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("debug log lacks the decoded claim %s:\n%s", want, r.stderr)
				}
			}
		})
	}
}

func status(code int, contentType, body string) http.HandlerFunc {
	return func(rw http.ResponseWriter, req *http.Request) {
		if contentType != "" {
			rw.Header().Set("Content-Type", contentType)
		}
		rw.WriteHeader(code)
		fmt.Fprint(rw, body)
	}
}

func retryAfter(seconds int) http.HandlerFunc {
	return func(rw http.ResponseWriter, req *http.Request) {
		code := http.StatusTooManyRequests
		if seconds > 60 {
			code = http.StatusServiceUnavailable
		}
		rw.Header().Set("Retry-After", fmt.Sprint(seconds))
		rw.WriteHeader(code)
	}
}

func repeat(n int, h http.HandlerFunc) []http.HandlerFunc {
	hs := make([]http.HandlerFunc, n)
	for i := range hs {
		hs[i] = h
	}
	return hs
}

// dropConnection closes the connection without an answer.
func dropConnection(rw http.ResponseWriter, req *http.Request) {
	conn, _, err := rw.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// hang answers only when the client gives up on the attempt.
func hang(rw http.ResponseWriter, req *http.Request) {
	<-req.Context().Done()
}

// TestSignalWhileAskingLocate: a signal that arrives while locate is asked
// ends the run with 128+N and one line, and the command never starts.
func TestSignalWhileAskingLocate(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			f := newFixture(t)
			// The first attempt fails at once and the second hangs: the
			// retry's wait (250ms) leaves the subscription, which starts
			// before the first request, ample time to be in place.
			f.emu.Inject(dropConnection, hang)
			ran, command := f.saveVar("MONITORING_URL")
			cmd := osexec.Command(binary, append(f.flags("-timeout=60s"), command...)...)
			cmd.Env = baseEnv()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { _ = cmd.Wait(); close(exited) }()
			t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })

			poll.Until(t, "the second request", func() bool { return f.emu.Requests() == 2 })
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Fatalf("still running 10s after %v", sig)
			}
			// monitoring-token ends by the same signal, as the command
			// would have, so that a calling shell sees 128+N and stops.
			if _, got := statusOf(cmd.ProcessState); got != sig {
				t.Errorf("ended by %v, want killed by %v; stderr %q", cmd.ProcessState, sig, stderr.String())
			}
			want := fmt.Sprintf("monitoring-token: stopped by signal %d (%v) before the command started\n", int(sig), sig)
			if stderr.String() != want {
				t.Errorf("stderr %q, want %q", stderr.String(), want)
			}
			if _, err := os.Stat(ran); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the command ran (stat: %v)", err)
			}
		})
	}
}

// TestExplainBlamesLocateOnlyForLocate: a deadline that passes after
// locate answered, before the command starts, is not locate's fault. (A
// deadline while locate is asked is named by locate's own error: see
// TestLocateDownFailsFast.)
func TestExplainBlamesLocateOnlyForLocate(t *testing.T) {
	t.Parallel()
	late := errors.New("-timeout 1s expired before the command started; nothing was run")
	if msg := explain(late); strings.Contains(msg, "locate") {
		t.Errorf("explain(%v) = %q blames locate", late, msg)
	}
}
