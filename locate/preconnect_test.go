package locate_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/internal/poll"
)

// connServer is a plain-HTTP server that records its connections' states.
type connServer struct {
	*httptest.Server

	mu     sync.Mutex
	states []http.ConnState // in the order they happened, over all connections
}

func startConnServer(t *testing.T) *connServer {
	t.Helper()
	s := &connServer{}
	// The answer's content does not matter here, only that a request came.
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.states = append(s.states, state)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// count returns how many times a connection entered state.
func (s *connServer) count(state http.ConnState) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.states {
		if st == state {
			n++
		}
	}
	return n
}

func TestPreconnectConnectsBeforeTheRequest(t *testing.T) {
	srv := startConnServer(t)
	c := newClient(t, srv.URL+"/v2/platform/monitoring/")
	c.Preconnect(getContext(t, 10*time.Second))
	poll.Until(t, "the connection Preconnect starts", func() bool { return srv.count(http.StateNew) == 1 })
	if n := srv.count(http.StateActive); n != 0 {
		t.Fatalf("%d requests before Get", n)
	}

	ts, _ := newTokenSource(t)
	if _, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign); err == nil {
		t.Fatal("Get succeeded on a 403")
	}
	if n, a := srv.count(http.StateNew), srv.count(http.StateActive); n != 1 || a != 1 {
		t.Errorf("server saw %d connections and %d requests, want the request on the preconnected connection", n, a)
	}
}

func TestPreconnectSkipsProxy(t *testing.T) {
	srv := startConnServer(t)
	c := newClient(t, srv.URL+"/v2/platform/monitoring/")
	tr, ok := c.HTTP.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("NewClient's transport is a %T", c.HTTP.Transport)
	}
	// A proxy that refuses every request: any connection to srv would be
	// Preconnect's.
	proxy := startConnServer(t)
	proxyURL, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr.Proxy = http.ProxyURL(proxyURL)
	c.Preconnect(getContext(t, 10*time.Second))

	ts, _ := newTokenSource(t)
	if _, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign); err == nil {
		t.Fatal("Get succeeded through a proxy that refuses")
	}
	if n := proxy.count(http.StateActive); n != 1 {
		t.Errorf("proxy saw %d requests, want 1", n)
	}
	if n := srv.count(http.StateNew); n != 0 {
		t.Errorf("Preconnect connected to locate %d times despite the proxy", n)
	}
	// Without the proxy, the same client does connect early.
	tr.Proxy = nil
	c.Preconnect(getContext(t, 10*time.Second))
	poll.Until(t, "the connection Preconnect starts without a proxy", func() bool { return srv.count(http.StateNew) == 1 })
}

func TestPreconnectOnlyForItsAddress(t *testing.T) {
	a, b := startConnServer(t), startConnServer(t)
	c := newClient(t, a.URL+"/v2/platform/monitoring/")
	c.Preconnect(getContext(t, 10*time.Second))
	poll.Until(t, "the connection Preconnect starts to A", func() bool { return a.count(http.StateNew) == 1 })

	// The first request goes to B, another port on the same host: the
	// connection pending to A must not carry it.
	u, err := url.Parse(b.URL + "/v2/platform/monitoring/")
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	ts, _ := newTokenSource(t)
	if _, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign); err == nil {
		t.Fatal("Get succeeded on a 403")
	}
	if n, r := b.count(http.StateNew), b.count(http.StateActive); n != 1 || r != 1 {
		t.Errorf("B saw %d connections and %d requests, want 1 and 1", n, r)
	}
	if r := a.count(http.StateActive); r != 0 {
		t.Errorf("A saw %d requests meant for B", r)
	}
	// The connection to A is still pending, for a request to A.
	u, err = url.Parse(a.URL + "/v2/platform/monitoring/")
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	if _, err := c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign); err == nil {
		t.Fatal("Get succeeded on a 403")
	}
	if n, r := a.count(http.StateNew), a.count(http.StateActive); n != 1 || r != 1 {
		t.Errorf("A saw %d connections and %d requests, want the request on the pending connection", n, r)
	}
}
