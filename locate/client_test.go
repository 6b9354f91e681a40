package locate_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/locate/locatetest"
	"github.com/monitoring-token/monitoring-token/token"
)

// machine is the M-Lab machine the tokens in these tests name.
const machine = "mlab1-lga01.mlab-oti.measurement-lab.org"

// tokenSource signs monitoring tokens for machine and remembers every token
// it handed out, so that tests can look for them in error messages.
type tokenSource struct {
	signer *token.Signer

	mu     sync.Mutex
	signed []string
}

// newTokenSource makes a fresh key; the public half is for the emulator.
func newTokenSource(t *testing.T) (*tokenSource, []byte) {
	t.Helper()
	kp, err := token.GenerateKey("EdDSA", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := token.NewSigner(kp.Private)
	if err != nil {
		t.Fatal(err)
	}
	return &tokenSource{signer: s}, kp.Public
}

// sign is the function Client.Get calls for every attempt.
func (ts *tokenSource) sign() (string, error) {
	tok, err := ts.signer.Sign(machine, time.Now().Add(time.Minute))
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.signed = append(ts.signed, tok)
	return tok, err
}

func (ts *tokenSource) tokens() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.signed...)
}

// checkNoToken fails if msg holds the signature of any token ts signed:
// with it, whoever reads the message could replay the token.
func (ts *tokenSource) checkNoToken(t *testing.T, msg string) {
	t.Helper()
	for _, tok := range ts.tokens() {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(msg, sig) {
			t.Errorf("message %q holds a monitoring token", msg)
		}
	}
}

// startEmulator runs a locate emulator that accepts tokens signed by the
// key whose public half is verifyKey.
func startEmulator(t *testing.T, verifyKey []byte) *locatetest.Server {
	t.Helper()
	srv, err := locatetest.Start("", verifyKey)
	if err != nil {
		t.Fatalf("locatetest.Start = %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// newClient returns a client for base that retries without noticeable waits.
func newClient(t *testing.T, base string) *locate.Client {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	c := locate.NewClient(u)
	c.FirstRetry = time.Millisecond
	return c
}

// getContext bounds a Get that should end long before the test times out.
func getContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestGetFromEmulator(t *testing.T) {
	tests := []struct {
		service  string
		key      string
		wantHost string
		wantPath string
	}{
		{service: "ndt/ndt7", key: "wss:///ndt/v7/download", wantHost: "ndt-" + machine, wantPath: "/ndt/v7/download"},
		{service: "wehe/replay", key: "wss://:4443/v0/envelope/access", wantHost: "wehe-" + machine + ":4443", wantPath: "/v0/envelope/access"},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			ts, public := newTokenSource(t)
			srv := startEmulator(t, public)
			c := newClient(t, srv.URL)
			a, err := c.Get(getContext(t, 10*time.Second), tt.service, ts.sign)
			if err != nil {
				t.Fatalf("Get = %v", err)
			}
			got, err := a.ServiceURL(tt.key)
			if err != nil {
				t.Fatalf("ServiceURL = %v", err)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatalf("service URL %q: %v", got, err)
			}
			if u.Scheme != "wss" || u.Host != tt.wantHost || u.Path != tt.wantPath {
				t.Errorf("service URL = %s, want wss://%s%s", got, tt.wantHost, tt.wantPath)
			}
			// The URL carries locate's own token for the machine, not ours.
			if q := u.Query().Get(locate.AccessTokenParam); q == "" || q != a.AccessToken {
				t.Errorf("service URL token = %q, want locate's %q", q, a.AccessToken)
			}
			ts.checkNoToken(t, got)
			if n := srv.Requests(); n != 1 {
				t.Errorf("emulator saw %d requests, want 1", n)
			}
		})
	}
}

func TestGetRefused(t *testing.T) {
	tests := []struct {
		name      string
		service   string
		otherKey  bool // sign with a key the emulator does not know
		wantIs    error
		wantTitle string // of the *locate.Error
	}{
		{name: "unenforced service", service: "ndt/ndt5", wantTitle: "Must provide access_token"},
		{name: "unknown key", service: "ndt/ndt7", otherKey: true, wantIs: locate.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, public := newTokenSource(t)
			if tt.otherKey {
				_, public = newTokenSource(t)
			}
			srv := startEmulator(t, public)
			c := newClient(t, srv.URL)
			a, err := c.Get(getContext(t, 10*time.Second), tt.service, ts.sign)
			if err == nil {
				t.Fatalf("Get = %+v, want an error", a)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Get error = %v, want %v", err, tt.wantIs)
			}
			var problem *locate.Error
			if tt.wantTitle != "" && (!errors.As(err, &problem) || problem.Title != tt.wantTitle || problem.Status != http.StatusBadRequest) {
				t.Errorf("Get error = %#v, want a *locate.Error %q with status 400", err, tt.wantTitle)
			}
			if !strings.Contains(err.Error(), c.ServiceEndpoint(tt.service)) {
				t.Errorf("Get error %q does not name the endpoint", err)
			}
			ts.checkNoToken(t, err.Error())
			// A refusal is final: no retries.
			if n := srv.Requests(); n != 1 {
				t.Errorf("emulator saw %d requests, want 1", n)
			}
		})
	}
}

func TestGetKeepsBaseQuery(t *testing.T) {
	ts, public := newTokenSource(t)
	srv := startEmulator(t, public)
	c := newClient(t, srv.URL+"?early_exit=250")
	a, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	m, err := a.Machine()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.URLs) == 0 {
		t.Fatal("answer has no URLs")
	}
	// Locate copies the parameters it received onto every URL, so they
	// show that early_exit was sent.
	for key, raw := range m.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("URL %s = %q: %v", key, raw, err)
		}
		if got := u.Query().Get("early_exit"); got != "250" {
			t.Errorf("URL %s = %q, want early_exit=250", key, raw)
		}
	}
}

func TestRequestURL(t *testing.T) {
	tests := []struct {
		name      string
		base      string
		wantPath  string
		wantQuery url.Values
	}{
		{
			name:      "base ends in slash",
			base:      "https://locate.example/v2/platform/monitoring/",
			wantPath:  "/v2/platform/monitoring/ndt/ndt7",
			wantQuery: url.Values{"access_token": {"TOK"}},
		},
		{
			name:      "base without slash",
			base:      "https://locate.example/v2/platform/monitoring",
			wantPath:  "/v2/platform/monitoring/ndt/ndt7",
			wantQuery: url.Values{"access_token": {"TOK"}},
		},
		{
			name:      "base query kept",
			base:      "https://locate.example/v2/platform/monitoring/?early_exit=250&x=a%20b",
			wantPath:  "/v2/platform/monitoring/ndt/ndt7",
			wantQuery: url.Values{"access_token": {"TOK"}, "early_exit": {"250"}, "x": {"a b"}},
		},
		{
			name:      "stale token in base replaced",
			base:      "https://locate.example/v2/platform/monitoring/?access_token=old",
			wantPath:  "/v2/platform/monitoring/ndt/ndt7",
			wantQuery: url.Values{"access_token": {"TOK"}},
		},
		{
			name:      "fragment dropped",
			base:      "https://locate.example/v2/platform/monitoring/#frag",
			wantPath:  "/v2/platform/monitoring/ndt/ndt7",
			wantQuery: url.Values{"access_token": {"TOK"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.base)
			got := c.RequestURL("ndt/ndt7", "TOK")
			if got.Scheme != "https" || got.Host != "locate.example" || got.Path != tt.wantPath || got.Fragment != "" {
				t.Errorf("RequestURL = %s, want https://locate.example%s", got, tt.wantPath)
			}
			if q := got.Query(); !reflect.DeepEqual(q, tt.wantQuery) {
				t.Errorf("RequestURL query = %v, want %v", q, tt.wantQuery)
			}
			if c.BaseURL.String() != tt.base {
				t.Errorf("BaseURL became %s, want %s unchanged", c.BaseURL, tt.base)
			}
		})
	}
}

func TestServiceEndpoint(t *testing.T) {
	tests := []struct {
		name string
		base string
	}{
		{name: "plain", base: "https://locate.example/v2/platform/monitoring/"},
		{name: "without slash", base: "https://locate.example/v2/platform/monitoring"},
		{name: "token in base query", base: "https://locate.example/v2/platform/monitoring/?access_token=secret-token&early_exit=250#secret-fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.base)
			const want = "https://locate.example/v2/platform/monitoring/ndt/ndt7"
			if got := c.ServiceEndpoint("ndt/ndt7"); got != want {
				t.Errorf("ServiceEndpoint = %q, want %q", got, want)
			}
			if c.BaseURL.String() != tt.base {
				t.Errorf("BaseURL became %s, want %s unchanged", c.BaseURL, tt.base)
			}
		})
	}
}

// closedURL returns a monitoring URL on a port that refuses connections.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + locatetest.Prefix
}

func TestGetConnectionRefused(t *testing.T) {
	ts, _ := newTokenSource(t)
	c := newClient(t, closedURL(t))
	var retried []error
	c.Retrying = func(err error, _ time.Duration) { retried = append(retried, err) }
	_, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign)
	if err == nil || !strings.HasPrefix(err.Error(), "locate refused the connection (3 attempts): ") || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Get = %v, want locate refused the connection (3 attempts)", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get = %v, ended by the deadline, not by the count of attempts", err)
	}
	if !strings.Contains(err.Error(), c.ServiceEndpoint("ndt/ndt7")) {
		t.Errorf("Get error %q does not name the endpoint", err)
	}
	if len(retried) != 2 {
		t.Errorf("Get retried a refused connection %d times, want 2", len(retried))
	}
	if n := len(ts.tokens()); n != 3 {
		t.Errorf("Get signed %d tokens, want a fresh one for each of 3 attempts", n)
	}
	ts.checkNoToken(t, err.Error())
	for _, r := range retried {
		ts.checkNoToken(t, r.Error())
	}
}

// TestGetGivesUp: retries stop after MaxAttempts requests or at the
// deadline, and the error begins with the cause, exactly.
func TestGetGivesUp(t *testing.T) {
	busy := func(rw http.ResponseWriter, _ *http.Request) {
		http.Error(rw, "busy", http.StatusServiceUnavailable)
	}
	hang := func(_ http.ResponseWriter, req *http.Request) { <-req.Context().Done() }
	tests := []struct {
		name           string
		maxAttempts    int
		attemptTimeout time.Duration
		deadline       time.Duration
		inject         []http.HandlerFunc
		want           *regexp.Regexp // the start of the message
		wantRequests   int
		wantDeadline   bool // the error is context.DeadlineExceeded
	}{
		{name: "503 three times", inject: []http.HandlerFunc{busy, busy, busy, busy}, want: regexp.MustCompile(`^locate answered HTTP 503 \(3 attempts\): GET http://`), wantRequests: 3},
		{name: "503 once, one attempt allowed", maxAttempts: 1, inject: []http.HandlerFunc{busy, busy}, want: regexp.MustCompile(`^locate answered HTTP 503 \(1 attempt\): GET http://`), wantRequests: 1},
		{name: "503, five attempts allowed", maxAttempts: 5, inject: slices.Repeat([]http.HandlerFunc{busy}, 6), want: regexp.MustCompile(`^locate answered HTTP 503 \(5 attempts\): `), wantRequests: 5},
		{name: "each attempt timed out", attemptTimeout: 50 * time.Millisecond, inject: []http.HandlerFunc{hang, hang, hang, hang}, want: regexp.MustCompile(`^no answer from locate within 50ms per attempt \(3 attempts\): GET http://.*no answer within 50ms$`), wantRequests: 3},
		{name: "no answer before the deadline", deadline: 500 * time.Millisecond, inject: []http.HandlerFunc{hang}, want: regexp.MustCompile(`^no answer from locate within ([1-4]00ms|500ms) \(1 attempt\): GET http://`), wantRequests: 1, wantDeadline: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, public := newTokenSource(t)
			srv := startEmulator(t, public)
			srv.Inject(tt.inject...)
			c := newClient(t, srv.URL)
			c.MaxAttempts, c.AttemptTimeout = tt.maxAttempts, tt.attemptTimeout
			deadline := cmp.Or(tt.deadline, 10*time.Second)
			_, err := c.Get(getContext(t, deadline), "ndt/ndt7", ts.sign)
			if err == nil || !tt.want.MatchString(err.Error()) {
				t.Fatalf("Get = %v, want an error matching %s", err, tt.want)
			}
			if got := errors.Is(err, context.DeadlineExceeded); got != tt.wantDeadline {
				t.Errorf("errors.Is(%v, context.DeadlineExceeded) = %v, want %v", err, got, tt.wantDeadline)
			}
			if n := srv.Requests(); n != tt.wantRequests {
				t.Errorf("emulator saw %d requests, want %d", n, tt.wantRequests)
			}
			ts.checkNoToken(t, err.Error())
		})
	}
}

func TestGetRetriesTransientAnswers(t *testing.T) {
	ts, public := newTokenSource(t)
	srv := startEmulator(t, public)
	srv.Inject(
		func(rw http.ResponseWriter, _ *http.Request) {
			http.Error(rw, "upstream unavailable", http.StatusServiceUnavailable)
		},
		func(rw http.ResponseWriter, _ *http.Request) {
			http.Error(rw, "slow down", http.StatusTooManyRequests)
		},
	)
	c := newClient(t, srv.URL)
	var retried []string
	c.Retrying = func(err error, _ time.Duration) { retried = append(retried, err.Error()) }
	a, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	if _, err := a.ServiceURL("wss:///ndt/v7/download"); err != nil {
		t.Errorf("ServiceURL = %v", err)
	}
	if n := srv.Requests(); n != 3 {
		t.Errorf("emulator saw %d requests, want 3", n)
	}
	if len(retried) != 2 || !strings.Contains(retried[0], "HTTP 503") || !strings.Contains(retried[1], "HTTP 429") {
		t.Errorf("Retrying heard %q, want the 503 and the 429", retried)
	}
	if toks := ts.tokens(); len(toks) != 3 || toks[0] == toks[1] || toks[1] == toks[2] {
		t.Errorf("Get signed %d tokens, want 3 different ones", len(toks))
	}
}

func TestGetRedirect(t *testing.T) {
	ts, public := newTokenSource(t)
	// The plain-http side of a downgrade is the emulator: it must see nothing.
	plain := startEmulator(t, public)
	const answer = `{"results":[{"machine":"m","urls":{"k":"wss://m/k"}}]}`
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		switch rest, _ := strings.CutPrefix(req.URL.Path, "/"); {
		case strings.HasPrefix(rest, "to-http/"):
			http.Redirect(rw, req, plain.URL+strings.TrimPrefix(rest, "to-http/")+"?"+req.URL.RawQuery, http.StatusFound)
		case strings.HasPrefix(rest, "to-https/"):
			http.Redirect(rw, req, "https://"+req.Host+"/answer/"+strings.TrimPrefix(rest, "to-https/")+"?"+req.URL.RawQuery, http.StatusFound)
		default:
			rw.Header().Set("Content-Type", "application/json")
			rw.Write([]byte(answer))
		}
	}))
	t.Cleanup(tlsSrv.Close)

	tests := []struct {
		name    string
		base    string
		wantErr error
	}{
		{name: "https to https", base: tlsSrv.URL + "/to-https/"},
		{name: "https to http", base: tlsSrv.URL + "/to-http/", wantErr: locate.ErrRedirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.base)
			// Trust the test server's certificate, keep NewClient's redirect policy.
			c.HTTP = &http.Client{Transport: tlsSrv.Client().Transport, CheckRedirect: c.HTTP.CheckRedirect}
			_, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				ts.checkNoToken(t, err.Error())
			}
			if n := plain.Requests(); n != 0 {
				t.Errorf("plain http server saw %d requests, want none", n)
			}
		})
	}
}

func TestGetAnswerSize(t *testing.T) {
	const answer = `{"results":[{"machine":"m","urls":{"k":"wss://m/k"}}]}`
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{name: "at the limit", size: locate.MaxAnswerSize},
		{name: "over the limit", size: locate.MaxAnswerSize + 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, public := newTokenSource(t)
			srv := startEmulator(t, public)
			// JSON allows trailing white space: the answer stays valid.
			body := answer + strings.Repeat(" ", tt.size-len(answer))
			srv.Inject(func(rw http.ResponseWriter, _ *http.Request) {
				rw.Header().Set("Content-Type", "application/json")
				rw.Write([]byte(body))
			})
			c := newClient(t, srv.URL)
			_, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign)
			switch {
			case tt.wantErr && (err == nil || !strings.Contains(err.Error(), strconv.Itoa(locate.MaxAnswerSize))):
				t.Errorf("Get = %v, want an error naming the %d-byte limit", err, locate.MaxAnswerSize)
			case !tt.wantErr && err != nil:
				t.Errorf("Get = %v", err)
			}
			if n := srv.Requests(); n != 1 {
				t.Errorf("emulator saw %d requests, want 1", n)
			}
		})
	}
}

func TestGetReportsAttempts(t *testing.T) {
	tests := []struct {
		name     string
		inject   []int // statuses answered before the emulator's own answer
		otherKey bool  // sign with a key the emulator does not know
		closed   bool  // locate's port refuses connections until the deadline
		want     []int // statuses Attempted hears; with closed, each is 0
		wantErr  bool
	}{
		{name: "success first try", want: []int{200}},
		{name: "503 then 200", inject: []int{503}, want: []int{503, 200}},
		{name: "503, 502 then 200", inject: []int{503, 502}, want: []int{503, 502, 200}},
		{name: "401", otherKey: true, want: []int{401}, wantErr: true},
		{name: "connection refused until the deadline", closed: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, public := newTokenSource(t)
			if tt.otherKey {
				_, public = newTokenSource(t)
			}
			base := closedURL(t)
			ctx := getContext(t, 300*time.Millisecond)
			if !tt.closed {
				srv := startEmulator(t, public)
				for _, status := range tt.inject {
					srv.Inject(func(rw http.ResponseWriter, _ *http.Request) {
						http.Error(rw, "failing", status)
					})
				}
				base, ctx = srv.URL, getContext(t, 10*time.Second)
			}
			c := newClient(t, base)
			var got []int
			c.Attempted = func(a locate.Attempt) { got = append(got, a.Status) }
			_, err := c.Get(ctx, "ndt/ndt7", ts.sign)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Get = %v, want error %v", err, tt.wantErr)
			}
			want := tt.want
			if tt.closed {
				// One attempt per token signed, none of them answered.
				want = make([]int, max(len(ts.tokens()), 1))
			}
			if !slices.Equal(got, want) {
				t.Errorf("Attempted heard %v, want %v", got, want)
			}
		})
	}
}

func TestGetRetryAfter(t *testing.T) {
	t.Parallel() // one row waits for two seconds
	const answer = `{"results":[{"machine":"m","urls":{"k":"wss://m/k"}}]}`
	tests := []struct {
		name       string
		retryAfter string
		wantWaits  []time.Duration // what Retrying hears
		wantErr    string
	}{
		{name: "seconds", retryAfter: "2", wantWaits: []time.Duration{2 * time.Second}},
		{name: "seconds beyond the deadline", retryAfter: "3600", wantErr: "beyond the deadline"},
		{name: "HTTP date beyond the deadline", retryAfter: time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), wantErr: "beyond the deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var arrived []time.Time
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
				mu.Lock()
				arrived = append(arrived, time.Now())
				first := len(arrived) == 1
				mu.Unlock()
				if first {
					rw.Header().Set("Retry-After", tt.retryAfter)
					http.Error(rw, "slow down", http.StatusTooManyRequests)
					return
				}
				rw.Header().Set("Content-Type", "application/json")
				rw.Write([]byte(answer))
			}))
			t.Cleanup(srv.Close)
			ts, _ := newTokenSource(t)
			// FirstRetry is 1ms: a wait of seconds can only be locate's.
			c := newClient(t, srv.URL+"/v2/platform/monitoring/")
			var waits []time.Duration
			c.Retrying = func(_ error, wait time.Duration) { waits = append(waits, wait) }
			_, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign)

			mu.Lock()
			defer mu.Unlock()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "HTTP 429") {
					t.Errorf("Get = %v, want the 429 and %q", err, tt.wantErr)
				}
				if len(arrived) != 1 || len(waits) != 0 {
					t.Errorf("locate saw %d requests and Retrying heard %v, want 1 request and no retry", len(arrived), waits)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get = %v", err)
			}
			if !slices.Equal(waits, tt.wantWaits) {
				t.Errorf("Retrying heard waits %v, want %v", waits, tt.wantWaits)
			}
			// A lower bound, so not subject to a slow machine: the retry
			// must not come sooner than locate asked.
			if len(arrived) != 2 {
				t.Fatalf("locate saw %d requests, want 2", len(arrived))
			}
			if gap := arrived[1].Sub(arrived[0]); gap < tt.wantWaits[0] {
				t.Errorf("the retry came %v after the 429, sooner than Retry-After %s", gap, tt.retryAfter)
			}
		})
	}
}

// TestGetBackoff: the waits between retries start at FirstRetry (250ms
// when it is not set), with jitter, and grow; they are what Retrying hears
// and what backoff sleeps.
func TestGetBackoff(t *testing.T) {
	for _, first := range []time.Duration{0, 2 * time.Millisecond} {
		t.Run(fmt.Sprint("FirstRetry=", first), func(t *testing.T) {
			ts, public := newTokenSource(t)
			srv := startEmulator(t, public)
			busy := func(rw http.ResponseWriter, _ *http.Request) {
				http.Error(rw, "busy", http.StatusServiceUnavailable)
			}
			srv.Inject(busy, busy, busy)
			c := newClient(t, srv.URL)
			c.FirstRetry, c.MaxAttempts = first, 4
			var waits []time.Duration
			c.Retrying = func(_ error, wait time.Duration) { waits = append(waits, wait) }
			if _, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign); err != nil {
				t.Fatalf("Get = %v", err)
			}
			base := first
			if base == 0 {
				base = 250 * time.Millisecond
			}
			// Jitter is ±50% of an interval that doubles each time.
			for i, w := range waits {
				interval := base << i
				if w < interval/2 || w > interval*3/2 {
					t.Errorf("wait %d is %v, want %v ± 50%% (all: %v)", i+1, w, interval, waits)
				}
			}
			if len(waits) != 3 {
				t.Errorf("%d retries, want 3", len(waits))
			}
		})
	}
}

// TestGetUserAgent: locate's logs can tell the monitoring client apart.
func TestGetUserAgent(t *testing.T) {
	ts, public := newTokenSource(t)
	srv := startEmulator(t, public)
	var agent string
	srv.Inject(func(rw http.ResponseWriter, req *http.Request) {
		agent = req.UserAgent()
		http.Error(rw, "busy", http.StatusServiceUnavailable)
	})
	c := newClient(t, srv.URL)
	c.UserAgent = "monitoring-token/test"
	if _, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign); err != nil {
		t.Fatalf("Get = %v", err)
	}
	if agent != "monitoring-token/test" {
		t.Errorf("locate saw User-Agent %q", agent)
	}
}

// TestGetRetriesEvery5xx: 500 is as transient as 503; 499 is not.
func TestGetRetriesEvery5xx(t *testing.T) {
	for _, tt := range []struct {
		status   int
		requests int
	}{{http.StatusInternalServerError, 2}, {499, 1}} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			ts, public := newTokenSource(t)
			srv := startEmulator(t, public)
			srv.Inject(func(rw http.ResponseWriter, _ *http.Request) { http.Error(rw, "oops", tt.status) })
			c := newClient(t, srv.URL)
			c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign)
			if n := srv.Requests(); n != tt.requests {
				t.Errorf("HTTP %d: %d requests, want %d", tt.status, n, tt.requests)
			}
		})
	}
}

// TestGetAttemptTimeout: an attempt that gets no answer within
// AttemptTimeout is given up and retried, and says so.
func TestGetAttemptTimeout(t *testing.T) {
	ts, public := newTokenSource(t)
	srv := startEmulator(t, public)
	srv.Inject(func(_ http.ResponseWriter, req *http.Request) { <-req.Context().Done() })
	c := newClient(t, srv.URL)
	c.AttemptTimeout = 100 * time.Millisecond
	var retried []string
	c.Retrying = func(err error, _ time.Duration) { retried = append(retried, err.Error()) }
	if _, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign); err != nil {
		t.Fatalf("Get = %v", err)
	}
	if len(retried) != 1 || !strings.Contains(retried[0], "no answer within 100ms") {
		t.Errorf("Retrying heard %q, want one attempt with no answer within 100ms", retried)
	}
}
