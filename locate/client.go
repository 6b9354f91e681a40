// Package locate asks the locate service for a monitoring URL.
//
// It knows HTTP and the JSON of locate's answer, and nothing about how the
// access token it sends was made: the caller hands it a function that signs
// one.
package locate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// defaultURLKeys are the keys of the answer's "urls" that a probe of each
// service wants, as locate's static configuration names them.
var defaultURLKeys = map[string]string{
	"ndt/ndt7":    "wss:///ndt/v7/download",
	"ndt/ndt5":    "wss://:3010/ndt_protocol",
	"wehe/replay": "wss://:4443/v0/envelope/access",
	"neubot/dash": "https:///negotiate/dash",
	"iperf3/test": "wss:///v0/envelope/access",
}

// DefaultURLKey returns the URL key used for service when none is given, or
// "" when the service has no default (then the answer must hold exactly one
// URL).
func DefaultURLKey(service string) string {
	return defaultURLKeys[service]
}

// ErrRedirect refuses a redirect that would send the token in clear text.
var ErrRedirect = errors.New("refusing redirect from https to http")

// Client asks one locate service for monitoring URLs.
type Client struct {
	// HTTP makes the requests. NewClient sets one that refuses redirects
	// from https to http.
	HTTP *http.Client
	// BaseURL is the monitoring prefix, e.g. DefaultURL. Its query
	// parameters are sent with every request.
	BaseURL *url.URL
	// UserAgent, when set, is sent with every request.
	UserAgent string
}

// NewClient returns a Client for the monitoring prefix base.
func NewClient(base *url.URL) *Client {
	return &Client{
		HTTP:    &http.Client{CheckRedirect: checkRedirect},
		BaseURL: base,
	}
}

// checkRedirect keeps net/http's limit of 10 redirects and refuses a
// downgrade to plain http, which would expose the access token.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return ErrRedirect
	}
	return nil
}

// ServiceEndpoint returns the monitoring endpoint for service without any
// query: safe to print.
func (c *Client) ServiceEndpoint(service string) string {
	u := *c.BaseURL
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

// Get asks locate for the monitoring answer for service, with a token from
// sign. Error messages name the endpoint without its query, so they never
// carry a token.
func (c *Client) Get(ctx context.Context, service string, sign func() (string, error)) (*Answer, error) {
	tok, err := sign()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.RequestURL(service, tok).String(), nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", c.ServiceEndpoint(service), err)
	}
	req.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.ServiceEndpoint(service), unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read answer: %w", c.ServiceEndpoint(service), unwrapURLError(err))
	}
	if len(body) > MaxAnswerSize {
		return nil, fmt.Errorf("GET %s: answer larger than %d bytes (HTTP %d)", c.ServiceEndpoint(service), MaxAnswerSize, resp.StatusCode)
	}
	a, err := ParseAnswer(resp.StatusCode, resp.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", c.ServiceEndpoint(service), err)
	}
	return a, nil
}

// unwrapURLError drops the *url.Error wrapper, whose message holds the whole
// request URL and so the access token.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
