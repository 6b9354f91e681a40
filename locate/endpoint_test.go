package locate_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/locate"
)

func TestCheckEndpoint(t *testing.T) {
	tests := []struct {
		name     string
		url      string
		insecure bool
		wantErr  error
	}{
		{name: "https", url: "https://locate.measurementlab.net/v2/platform/monitoring/"},
		{name: "https to an address", url: "https://192.0.2.2:8443/v2/platform/monitoring/"},
		{name: "http to localhost", url: "http://localhost:8080/v2/platform/monitoring/"},
		{name: "http to LOCALHOST", url: "http://LOCALHOST:8080/"},
		{name: "http to 127.0.0.1", url: "http://127.0.0.1:8080/"},
		{name: "http to 127.255.0.9", url: "http://127.255.0.9/"},
		{name: "http to ::1", url: "http://[::1]:8080/"},
		{name: "http to 127.0.0.1 mapped into IPv6", url: "http://[::ffff:127.0.0.1]:8080/"},
		{name: "http to an address", url: "http://192.0.2.2:8080/", wantErr: locate.ErrPlainHTTP},
		{name: "http to a name", url: "http://locate.example/", wantErr: locate.ErrPlainHTTP},
		{name: "http to a name under localhost", url: "http://localhost.example/", wantErr: locate.ErrPlainHTTP},
		{name: "http to a name that looks like loopback", url: "http://127.0.0.1.nip.io/", wantErr: locate.ErrPlainHTTP},
		{name: "http to 0.0.0.0", url: "http://0.0.0.0:8080/", wantErr: locate.ErrPlainHTTP},
		{name: "http to an address, insecure", url: "http://192.0.2.2:8080/", insecure: true},
		{name: "ftp", url: "ftp://locate.example/", wantErr: locate.ErrNotHTTP},
		{name: "ws", url: "ws://localhost/", wantErr: locate.ErrNotHTTP},
		{name: "relative", url: "/v2/platform/monitoring/", wantErr: locate.ErrNotHTTP},
		{name: "no host", url: "https:///v2/platform/monitoring/", wantErr: locate.ErrNotHTTP},
		{name: "port without host", url: "http://:8080/", wantErr: locate.ErrNotHTTP},
		{name: "opaque", url: "https:locate.example", wantErr: locate.ErrNotHTTP},
		{name: "user information", url: "https://user:secret@locate.example/", wantErr: locate.ErrUserInfo},
		{name: "user information, insecure", url: "http://user@192.0.2.2/", insecure: true, wantErr: locate.ErrUserInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if err := locate.CheckEndpoint(u, tt.insecure); !errors.Is(err, tt.wantErr) {
				t.Errorf("CheckEndpoint(%s, %v) = %v, want %v", tt.url, tt.insecure, err, tt.wantErr)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{host: "localhost", want: true},
		{host: "LocalHost", want: true},
		{host: "127.0.0.1", want: true},
		{host: "127.1.2.3", want: true},
		{host: "::1", want: true},
		{host: "::ffff:127.0.0.1", want: true},
		{host: "", want: false},
		{host: "[::1]", want: false}, // Hostname strips the brackets
		{host: "128.0.0.1", want: false},
		{host: "192.0.2.2", want: false},
		{host: "::", want: false},
		{host: "localhost.localdomain", want: false},
		{host: "127.0.0.1.example", want: false},
	}
	for _, tt := range tests {
		if got := locate.IsLoopback(tt.host); got != tt.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

// errNotLoopback is what guardedTransport's dialer answers for an address
// that is not loopback.
var errNotLoopback = errors.New("test dialer refuses addresses that are not loopback")

// dialLog records the dials that guardedTransport refused.
type dialLog struct {
	mu      sync.Mutex
	refused []string
}

func (l *dialLog) addresses() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.refused)
}

// guardedTransport returns a transport that dials loopback only. Any other
// dial is refused before connect(2), so that no packet leaves this machine
// even if the code under test is wrong, and recorded.
func guardedTransport() (*http.Transport, *dialLog) {
	log := &dialLog{}
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			log.mu.Lock()
			defer log.mu.Unlock()
			log.refused = append(log.refused, address)
			return errNotLoopback
		}
		return nil
	}}
	tr := &http.Transport{DialContext: d.DialContext} // no proxy
	return tr, log
}

func TestGetRedirectHops(t *testing.T) {
	const answer = `{"results":[{"machine":"m","urls":{"k":"wss://m/k"}}]}`
	// The loopback target of allowed redirects.
	target := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		rw.Write([]byte(answer))
	}))
	t.Cleanup(target.Close)
	targetURL, err := url.Parse(target.URL)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		location  string // where the loopback locate redirects, its query appended
		insecure  bool
		wantErr   []error  // nil: Get succeeds
		wantDials []string // refused dials to addresses that are not loopback
		wantMsg   string   // in the error: what was refused, without secrets
	}{
		{
			name:     "plain http to an address that is not loopback",
			location: "http://192.0.2.2:8080/v2/platform/monitoring/ndt/ndt7",
			wantErr:  []error{locate.ErrRedirect, locate.ErrPlainHTTP},
			wantMsg:  "refusing redirect to http://192.0.2.2:8080/v2/platform/monitoring/ndt/ndt7, which uses plain http",
		},
		{
			name:     "plain http to an address that is not loopback, insecure",
			location: "http://192.0.2.2:8080/v2/platform/monitoring/ndt/ndt7",
			insecure: true,
			wantErr:  []error{locate.ErrRedirect},
			wantMsg:  "refusing redirect from http://127.0.0.1:",
		},
		{
			name:     "https to an address that is not loopback",
			location: "https://192.0.2.2:8443/v2/platform/monitoring/ndt/ndt7",
			wantErr:  []error{locate.ErrRedirect},
			wantMsg:  "to https://192.0.2.2:8443/v2/platform/monitoring/ndt/ndt7, another origin",
		},
		{
			name:     "plain http to another loopback port",
			location: target.URL + "/v2/platform/monitoring/ndt/ndt7",
			wantErr:  []error{locate.ErrRedirect},
			wantMsg:  "to " + target.URL + "/v2/platform/monitoring/ndt/ndt7, another origin",
		},
		{
			name:     "another loopback address, same port",
			location: "http://127.0.0.2:PORT/v2/platform/monitoring/ndt/ndt7",
			wantErr:  []error{locate.ErrRedirect},
			wantMsg:  "another origin",
		},
		{
			name:     "same origin, another path",
			location: "SELF/moved/ndt/ndt7",
		},
		{
			name:     "user information",
			location: "http://user:pw@" + targetURL.Host + "/v2/platform/monitoring/ndt/ndt7",
			wantErr:  []error{locate.ErrRedirect, locate.ErrUserInfo},
			wantMsg:  "refusing redirect to http://" + targetURL.Host + "/v2/platform/monitoring/ndt/ndt7, which carries user information",
		},
		{
			name:     "not http",
			location: "ftp://" + targetURL.Host + "/v2/platform/monitoring/ndt/ndt7",
			wantErr:  []error{locate.ErrRedirect, locate.ErrNotHTTP},
			wantMsg:  "refusing redirect to ftp://" + targetURL.Host + "/v2/platform/monitoring/ndt/ndt7, which is not",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, _ := newTokenSource(t)
			var mu sync.Mutex
			requests := 0
			var location string
			locateSrv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
				if strings.HasPrefix(req.URL.Path, "/moved/") {
					if ref := req.Header.Get("Referer"); ref != "" {
						t.Errorf("the redirect carried Referer %q", ref)
					}
					rw.Header().Set("Content-Type", "application/json")
					rw.Write([]byte(answer))
					return
				}
				mu.Lock()
				requests++
				mu.Unlock()
				// Locate would keep the query, and with it the token.
				http.Redirect(rw, req, location+"?"+req.URL.RawQuery, http.StatusTemporaryRedirect)
			}))
			t.Cleanup(locateSrv.Close)
			self, _ := url.Parse(locateSrv.URL)
			location = strings.NewReplacer("SELF", locateSrv.URL, "PORT", self.Port()).Replace(tt.location)

			c := newClient(t, locateSrv.URL+"/v2/platform/monitoring/")
			c.Insecure = tt.insecure
			tr, dials := guardedTransport()
			t.Cleanup(tr.CloseIdleConnections)
			// Keep NewClient's redirect policy, which reads c.Insecure.
			c.HTTP = &http.Client{Transport: tr, CheckRedirect: c.HTTP.CheckRedirect}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var statuses []int
			c.Attempted = func(a locate.Attempt) {
				statuses = append(statuses, a.Status)
				// An allowed hop fails at the guard, which Get would
				// retry until the deadline: one attempt is enough.
				cancel()
			}

			_, err := c.Get(ctx, "ndt/ndt7", ts.sign)
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Get = %v, want %v", err, want)
				}
			}
			if tt.wantErr == nil && err != nil {
				t.Errorf("Get = %v", err)
			}
			if got := dials.addresses(); !slices.Equal(got, tt.wantDials) {
				t.Errorf("dials to addresses that are not loopback: %q, want %q", got, tt.wantDials)
			}
			mu.Lock()
			n := requests
			mu.Unlock()
			if n != 1 {
				t.Errorf("locate saw %d requests, want 1 (a refused redirect is not retried)", n)
			}
			if err != nil {
				msg := err.Error()
				ts.checkNoToken(t, msg)
				if strings.Contains(msg, "\n") || strings.Contains(msg, "pw") {
					t.Errorf("error %q is not one line without the redirect's user information", msg)
				}
			}
			if tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)) {
				t.Errorf("Get = %v, want an error with %q", err, tt.wantMsg)
			}
			if errors.Is(err, locate.ErrRedirect) {
				if !slices.Equal(statuses, []int{http.StatusTemporaryRedirect}) {
					t.Errorf("Attempted heard %v, want one attempt answered 307", statuses)
				}
			}
		})
	}
}

func TestGetRefusesBaseURL(t *testing.T) {
	tests := []struct {
		name     string
		base     string
		insecure bool
		wantErr  error
		wantDial string
	}{
		{name: "plain http, not loopback", base: "http://192.0.2.2:8080/v2/platform/monitoring/", wantErr: locate.ErrPlainHTTP},
		{name: "plain http, not loopback, insecure", base: "http://192.0.2.2:8080/v2/platform/monitoring/", insecure: true, wantErr: errNotLoopback, wantDial: "192.0.2.2:8080"},
		{name: "user information", base: "https://u:pw@192.0.2.2/v2/platform/monitoring/", wantErr: locate.ErrUserInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, _ := newTokenSource(t)
			c := newClient(t, tt.base)
			c.Insecure = tt.insecure
			tr, dials := guardedTransport()
			c.HTTP = &http.Client{Transport: tr, CheckRedirect: c.HTTP.CheckRedirect}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c.Attempted = func(locate.Attempt) { cancel() }
			_, err := c.Get(ctx, "ndt/ndt7", ts.sign)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Get = %v, want %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Errorf("error %q holds the password", err)
			}
			var want []string
			if tt.wantDial != "" {
				want = []string{tt.wantDial}
			}
			if got := dials.addresses(); !slices.Equal(got, want) {
				t.Errorf("dials to addresses that are not loopback: %q, want %q", got, want)
			}
		})
	}
}

func TestGetRedirectLoop(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		http.Redirect(rw, req, req.URL.String(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	ts, _ := newTokenSource(t)
	c := newClient(t, srv.URL+"/v2/platform/monitoring/")
	var statuses []int
	c.Attempted = func(a locate.Attempt) { statuses = append(statuses, a.Status) }
	_, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign)
	if !errors.Is(err, locate.ErrRedirect) || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("Get = %v, want %v after 10 redirects", err, locate.ErrRedirect)
	}
	if err != nil {
		ts.checkNoToken(t, err.Error())
	}
	mu.Lock()
	defer mu.Unlock()
	// net/http's limit, and no retry of the loop.
	if requests != 10 || !slices.Equal(statuses, []int{http.StatusTemporaryRedirect}) {
		t.Errorf("locate saw %d requests and Attempted heard %v, want 10 requests in one attempt", requests, statuses)
	}
}
