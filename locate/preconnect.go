package locate

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
)

// Preconnect starts connecting to locate in the background and returns at
// once, so that the DNS lookup and the TCP handshake happen while the caller
// loads its key and signs. The next request to locate's address takes the
// connection (or the error of making it); one no request takes ends with
// the process. Preconnect does nothing when requests go through a proxy, when
// one is already under way, or when HTTP's transport is not the one
// NewClient made.
func (c *Client) Preconnect(ctx context.Context) {
	tr, ok := c.HTTP.Transport.(*http.Transport)
	if !ok || tr != c.transport || c.dialer == nil {
		return
	}
	if tr.Proxy != nil {
		if proxy, err := tr.Proxy(&http.Request{URL: c.BaseURL}); proxy != nil || err != nil {
			return
		}
	}
	port := c.BaseURL.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[c.BaseURL.Scheme]
	}
	c.dialer.start(ctx, net.JoinHostPort(c.BaseURL.Hostname(), port))
}

// earlyDialer dials like its net.Dialer, except that the first dial to the
// address given to start takes the connection start began making.
type earlyDialer struct {
	net.Dialer

	mu      sync.Mutex
	addr    string      // where pending dials
	pending chan dialed // the dial start began, or nil
}

// dialed is the outcome of a dial.
type dialed struct {
	conn net.Conn
	err  error
}

// start dials addr in the background, unless a dial is already pending.
func (d *earlyDialer) start(ctx context.Context, addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pending != nil {
		return
	}
	ch := make(chan dialed, 1)
	d.addr, d.pending = addr, ch
	go func() {
		conn, err := d.Dialer.DialContext(ctx, "tcp", addr)
		ch <- dialed{conn, err}
	}()
}

// take returns the pending dial if it is to addr over network, and forgets
// it; else nil.
func (d *earlyDialer) take(network, addr string) chan dialed {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Host names are compared without regard to case, as DNS does.
	if d.pending == nil || network != "tcp" || !strings.EqualFold(addr, d.addr) {
		return nil
	}
	ch := d.pending
	d.pending = nil
	return ch
}

// DialContext is net.Dialer's, except that it takes the pending dial to addr.
func (d *earlyDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ch := d.take(network, addr)
	if ch == nil {
		return d.Dialer.DialContext(ctx, network, addr)
	}
	select {
	case r := <-ch:
		return r.conn, r.err
	case <-ctx.Done():
		go closeWhenDialed(ch)
		return nil, ctx.Err()
	}
}

// closeWhenDialed waits for the dial on ch and closes what it made.
func closeWhenDialed(ch <-chan dialed) {
	if r := <-ch; r.conn != nil {
		r.conn.Close()
	}
}
