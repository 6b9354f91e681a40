// Package locate asks the locate service for a monitoring URL.
//
// It knows HTTP and the JSON of locate's answer, and nothing about how the
// access token it sends was made: the caller hands it a function that signs
// one.
//
// What it promises an importer: Client.Get sends GET <BaseURL>/<service> with the token as access_token, retries only what
// another attempt may cure, within the caller's context and MaxAttempts,
// and returns the answer parsed or an error that wraps the exported
// sentinels (errors.Is) or *Error (errors.As); error texts may change and
// never hold the token. CheckEndpoint is the rule for every URL a token is
// sent to, redirects included.
//
// It knows no service: which of an answer's URLs a client wants is the
// caller's choice (Answer.ServiceURL takes the key). It does not sign
// tokens, keep answers, or know any command's flags: the caller adds what
// to do about an error in its own terms.
package locate

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// DefaultURL is the production monitoring endpoint; the service name is
// appended to it.
const DefaultURL = "https://locate.measurementlab.net/v2/platform/monitoring/"

// AccessTokenParam is the query parameter that carries a token, both in
// requests to locate and in the service URLs it returns.
const AccessTokenParam = "access_token"

// MaxAnswerSize bounds how much of an answer is read. Real answers are a few
// kilobytes.
const MaxAnswerSize = 1 << 20

// ErrRedirect is a redirect the client refused to follow: to a URL that
// CheckEndpoint refuses, from https to plain http, to another scheme, host
// or port than the request's (the token would go to another origin), or
// beyond net/http's limit of 10. The error that wraps it names the target
// without its query and says why. It is not retried.
var ErrRedirect = errors.New("refusing redirect")

// ErrOtherOrigin is a redirect to another scheme, host or port, refused
// with ErrRedirect: the token in the query would go along to it.
var ErrOtherOrigin = errors.New("another origin, which would receive the token")

// DefaultMaxAttempts is how many requests Get sends at most when
// Client.MaxAttempts is zero: a locate that is down costs a probe about a
// second (two waits of ~250ms and ~500ms) instead of its whole timeout.
const DefaultMaxAttempts = 3

// Attempt is what one request to locate got.
type Attempt struct {
	// Status is the HTTP status of the last answer (that of a redirect
	// the client refused to follow, too), or 0 when none came (connection
	// refused, timeout).
	Status int
	// Date is the answer's Date header, locate's clock to the second; zero
	// when no answer came or it had no valid Date.
	Date time.Time
	// Sent and Answered are this host's clock when the request was sent
	// and when the answer's header arrived (Answered is zero without one).
	Sent, Answered time.Time
}

// ClockBehind estimates how far this host's clock is behind locate's
// (negative when it is ahead) from the answer's Date, to within about half
// a second plus half the round trip. ok is false without a Date.
func (a Attempt) ClockBehind() (behind time.Duration, ok bool) {
	if a.Date.IsZero() || a.Answered.IsZero() {
		return 0, false
	}
	// Locate read its clock between Date and Date+1s (Date is truncated
	// to the second), and this host's clock read between Sent and
	// Answered at that moment: compare the middles. Wall clocks only,
	// without the monotonic readings.
	ours := a.Sent.Round(0).Add(a.Answered.Sub(a.Sent) / 2)
	return a.Date.Add(500 * time.Millisecond).Sub(ours), true
}

// maxRedirects is net/http's own limit, kept by checkRedirect.
const maxRedirects = 10

// Client asks one locate service for monitoring URLs.
type Client struct {
	// HTTP makes the requests. NewClient sets one whose CheckRedirect
	// applies CheckEndpoint (with Insecure) to every redirect and refuses
	// one from https to http.
	HTTP *http.Client
	// BaseURL is the monitoring prefix, e.g. DefaultURL. Its query
	// parameters are sent with every request. Get refuses it unless it
	// passes CheckEndpoint.
	BaseURL *url.URL
	// Insecure allows plain http to hosts that are not loopback, for
	// BaseURL and redirects (CheckEndpoint's insecure).
	Insecure bool
	// UserAgent, when set, is sent with every request.
	UserAgent string
	// AttemptTimeout bounds one attempt; zero leaves only the caller's
	// context.
	AttemptTimeout time.Duration
	// FirstRetry is the wait before the first retry; later waits grow
	// exponentially, with jitter. Zero means 250ms.
	FirstRetry time.Duration
	// MaxAttempts bounds how many requests Get sends, retries included;
	// zero means DefaultMaxAttempts.
	MaxAttempts int
	// Retrying, when set, hears of every failed attempt that will be
	// retried and how long the client waits first.
	Retrying func(err error, wait time.Duration)
	// Attempted, when set, hears of every request Get sent, once it is
	// over. It is called on Get's goroutine.
	Attempted func(Attempt)
}

// NewClient returns a Client for the monitoring prefix base. Its HTTP
// client uses http.DefaultTransport (proxy from the environment, timeouts,
// HTTP/2); NewTransport makes one that reads nothing from the environment.
func NewClient(base *url.URL) *Client {
	c := &Client{BaseURL: base}
	c.HTTP = &http.Client{CheckRedirect: c.checkRedirect}
	return c
}

// checkRedirect keeps net/http's limit of 10 redirects and holds every hop
// to the rule for the locate URL (CheckEndpoint), as the token goes along
// to each. It also refuses a downgrade from https to plain http.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	// net/http copies the previous URL, query and token included, into
	// Referer; the token goes in the query anyway, to nobody else.
	req.Header.Del("Referer")
	if len(via) >= maxRedirects {
		return fmt.Errorf("%w to %s: stopped after %d redirects", ErrRedirect, printable(req.URL), maxRedirects)
	}
	first := via[0].URL
	switch err := CheckEndpoint(req.URL, c.Insecure); {
	case err != nil:
		return fmt.Errorf("%w to %s, which %w", ErrRedirect, printable(req.URL), err)
	case via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https":
		// Refused even to loopback or with Insecure: nothing legitimate
		// leaves https for plain http.
		return fmt.Errorf("%w from https to %s, which would send the token in clear text; tell locate's operators", ErrRedirect, printable(req.URL))
	case req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Hostname(), first.Hostname()) || port(req.URL) != port(first):
		// A redirect that keeps the query hands the token to whoever
		// the new origin is: only the origin asked may get it.
		return fmt.Errorf("%w from %s to %s, %w", ErrRedirect, origin(first), printable(req.URL), ErrOtherOrigin)
	}
	return nil
}

// port returns u's port, or its scheme's default.
func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "http" {
		return "80"
	}
	return "443"
}

// origin returns u's scheme, host and port, for messages.
func origin(u *url.URL) string {
	return u.Scheme + "://" + u.Host
}

// ServiceEndpoint returns the monitoring endpoint for service without any
// query: safe to print.
func (c *Client) ServiceEndpoint(service string) string {
	u := *c.BaseURL
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.JoinPath(service).String()
}

// RequestURL returns the URL that asks locate for service with accessToken:
// the base URL, the service appended to its path, its query parameters kept
// and access_token added.
func (c *Client) RequestURL(service, accessToken string) *url.URL {
	// Copy before editing: BaseURL is shared by every request.
	u := c.BaseURL.JoinPath(service)
	u.Fragment = ""
	q := u.Query()
	q.Set(AccessTokenParam, accessToken)
	u.RawQuery = q.Encode()
	return u
}

// Get asks locate for the monitoring answer for service, signing a fresh
// token with sign for every attempt. Transient failures (connection errors,
// an attempt timing out, HTTP 5xx and 429) are retried with exponential
// backoff and jitter, up to MaxAttempts requests and until ctx is done;
// Retry-After is honoured when it fits the deadline. Once it gives up on
// them, the error begins with the cause: "locate refused the connection
// (3 attempts)", "locate answered HTTP 503 (3 attempts)" or "no answer from
// locate within 40s (1 attempt)", the last counting from Get's start to
// ctx's deadline. Error messages name the endpoint without its query, so
// they never carry a token.
func (c *Client) Get(ctx context.Context, service string, sign func() (string, error)) (*Answer, error) {
	if err := CheckEndpoint(c.BaseURL, c.Insecure); err != nil {
		return nil, fmt.Errorf("locate URL %s %w", printable(c.BaseURL), err)
	}
	var budget time.Duration
	if deadline, ok := ctx.Deadline(); ok {
		budget = time.Until(deadline)
	}
	var last error
	attempts := 0
	attempt := func() (*Answer, error) {
		attempts++
		a, err := c.attempt(ctx, service, sign)
		if err == nil {
			return a, nil
		}
		if ctx.Err() == nil || last == nil {
			// Keep what went wrong before the deadline cut an attempt short.
			last = err
		}
		var t *transientError
		if !errors.As(err, &t) {
			return nil, backoff.Permanent(err)
		}
		if t.retryAfter > 0 {
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < t.retryAfter {
				last = fmt.Errorf("%w; locate asked to retry after %v, beyond the deadline", err, t.retryAfter)
				return nil, backoff.Permanent(last)
			}
			return nil, &backoff.RetryAfterError{Duration: t.retryAfter}
		}
		return nil, err
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.Multiplier, b.MaxInterval = c.firstRetry(), 2, 5*time.Second
	a, err := backoff.Retry(ctx, attempt,
		backoff.WithBackOff(b),
		backoff.WithMaxTries(uint(c.maxAttempts())),
		backoff.WithMaxElapsedTime(0), // ctx and MaxAttempts bound the retries.
		backoff.WithNotify(func(err error, wait time.Duration) {
			if c.Retrying != nil && last != nil {
				c.Retrying(last, wait)
			}
		}))
	switch {
	case err == nil:
		return a, nil
	case last == nil:
		return nil, err
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, gaveUp(last, attempts, budget, ctx.Err())
	case ctx.Err() != nil && !errors.Is(last, ctx.Err()):
		return nil, fmt.Errorf("%w; last error: %w", ctx.Err(), last)
	case errors.As(last, new(*transientError)):
		return nil, gaveUp(last, attempts, 0, nil)
	}
	return nil, last
}

// maxAttempts is how many requests Get sends at most.
func (c *Client) maxAttempts() int {
	if c.MaxAttempts > 0 {
		return c.MaxAttempts
	}
	return DefaultMaxAttempts
}

// gaveUpError is the end of Get's retries: the cause, then the last
// attempt's error.
type gaveUpError struct {
	cause string
	errs  []error // the last attempt's error, and ctx's when it ended them
}

func (e *gaveUpError) Error() string   { return e.cause + ": " + e.errs[0].Error() }
func (e *gaveUpError) Unwrap() []error { return e.errs }

// gaveUp names the cause of giving up after attempts requests, the last of
// which failed with last. ctxErr is set when ctx's deadline ended the
// retries, budget later.
func gaveUp(last error, attempts int, budget time.Duration, ctxErr error) error {
	count := fmt.Sprintf("(%d attempts)", attempts)
	if attempts == 1 {
		count = "(1 attempt)"
	}
	var t *transientError
	errors.As(last, &t)
	var cause string
	switch {
	case t != nil && t.status != 0:
		cause = fmt.Sprintf("locate answered HTTP %d %s", t.status, count)
	case errors.Is(last, syscall.ECONNREFUSED):
		cause = "locate refused the connection " + count
	case ctxErr != nil:
		cause = fmt.Sprintf("no answer from locate within %v %s", budget.Round(100*time.Millisecond), count)
	case t != nil && t.attemptTimeout > 0:
		cause = fmt.Sprintf("no answer from locate within %v per attempt %s", t.attemptTimeout, count)
	default:
		cause = "no answer from locate " + count
	}
	errs := []error{last}
	if ctxErr != nil {
		errs = append(errs, ctxErr)
	}
	return &gaveUpError{cause: cause, errs: errs}
}

// firstRetry is the wait before the first retry.
func (c *Client) firstRetry() time.Duration {
	if c.FirstRetry > 0 {
		return c.FirstRetry
	}
	return 250 * time.Millisecond
}

// transientError marks a failure worth another attempt.
type transientError struct {
	err        error
	retryAfter time.Duration
	// status is the answer's HTTP status, 0 when none came.
	status int
	// attemptTimeout is set when the attempt got no answer within it.
	attemptTimeout time.Duration
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// attempt makes one request.
func (c *Client) attempt(ctx context.Context, service string, sign func() (string, error)) (*Answer, error) {
	tok, err := sign()
	if err != nil {
		return nil, err
	}
	endpoint := c.ServiceEndpoint(service)
	actx := ctx
	if c.AttemptTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.AttemptTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(actx, http.MethodGet, c.RequestURL(service, tok).String(), nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", endpoint, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	var at Attempt
	if c.Attempted != nil {
		defer func() { c.Attempted(at) }()
	}
	at.Sent = time.Now()
	resp, err := c.HTTP.Do(req)
	if resp != nil {
		// With an error, the answer to a refused redirect (body closed).
		at.Status, at.Answered = resp.StatusCode, time.Now()
		if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			at.Date = date
		}
	}
	if err != nil {
		return nil, c.transportError(ctx, actx, endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerSize+1))
	if err != nil {
		return nil, c.transportError(ctx, actx, endpoint+": read answer", err)
	}
	if len(body) > MaxAnswerSize {
		return nil, fmt.Errorf("GET %s: answer larger than %d bytes (HTTP %d)", endpoint, MaxAnswerSize, resp.StatusCode)
	}
	a, err := ParseAnswer(resp.StatusCode, resp.Header.Get("Content-Type"), body)
	if err != nil {
		err = fmt.Errorf("GET %s: %w", endpoint, err)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, &transientError{err: err, retryAfter: retryAfter(resp.Header.Get("Retry-After")), status: resp.StatusCode}
		}
		return nil, err
	}
	return a, nil
}

// transportError describes a failed exchange, drops the *url.Error wrapper
// (its message holds the whole request URL and so the access token) and
// marks what another attempt may cure.
func (c *Client) transportError(ctx, actx context.Context, what string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() == nil && actx.Err() != nil {
		return &transientError{err: fmt.Errorf("GET %s: no answer within %v", what, c.AttemptTimeout), attemptTimeout: c.AttemptTimeout}
	}
	err = fmt.Errorf("GET %s: %w", what, err)
	var certErr *tls.CertificateVerificationError
	var dnsErr *net.DNSError
	switch {
	case ctx.Err() != nil, errors.Is(err, ErrRedirect), errors.As(err, &certErr):
		return err
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return err
	}
	return &transientError{err: err}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if secs, err := strconv.Atoi(h); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return time.Until(t)
	}
	return 0
}
