package locate

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Answer is locate's reply to a monitoring request (m-lab/locate api/v2
// MonitoringResult). Locate fills Target and Results with the same machine;
// Target is the legacy field and Results the one that stays.
type Answer struct {
	// Error is set when locate refused the request.
	Error *Error `json:"error,omitempty"`
	// AccessToken is locate's own token, also embedded in every URL.
	AccessToken string `json:"access_token"`
	// Target is the machine under test (legacy).
	Target *Target `json:"target,omitempty"`
	// Results holds the machine under test as its only element.
	Results []Target `json:"results,omitempty"`
}

// Target is one machine and its service URLs.
type Target struct {
	// Machine is the machine's name.
	Machine string `json:"machine"`
	// Hostname is the name of the service on that machine.
	Hostname string `json:"hostname,omitempty"`
	// URLs maps a resource key (e.g. "wss:///ndt/v7/download") to the
	// complete URL, access_token included.
	URLs map[string]string `json:"urls"`
}

// Error is locate's RFC 7807 problem description (m-lab/locate api/v2 Error).
type Error struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// Error makes a locate problem an error: its title, and detail when given,
// each made printable and bounded (printableText), since they are locate's
// words and end up on one line of stderr.
func (e *Error) Error() string {
	msg := "locate refused the request: " + printableText(e.Title)
	if e.Detail != "" {
		msg += ": " + printableText(e.Detail)
	}
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	return msg
}

// Errors a caller can tell apart with errors.Is.
var (
	// ErrUnauthorized is locate's token controller rejecting the token; it
	// answers 401 with an empty body and says no more.
	ErrUnauthorized = errors.New("locate rejected the monitoring token (HTTP 401)")
	// ErrNoTarget is an answer without a machine.
	ErrNoTarget = errors.New("locate's answer names no target machine")
	// ErrURLKey is an answer without the requested URL key, or without a
	// single URL to choose when no key was requested.
	ErrURLKey = errors.New("locate's answer has no URL for that key")
	// ErrUnusableURL is a service URL in locate's answer that a probe
	// cannot use: not an absolute ws, wss, http or https URL with a host,
	// or holding control characters. Run anyway, ndt7-client given an
	// empty URL would test a server of locate's choosing and pass.
	ErrUnusableURL = errors.New("locate's answer holds an unusable service URL")
)

// serviceSchemes are the schemes of the service URLs locate hands out
// (m-lab/locate static.Configs).
var serviceSchemes = []string{"ws", "wss", "http", "https"}

// unusable says why raw cannot serve as a service URL, without quoting it,
// or returns "". A service URL is an absolute ws, wss, http or https URL
// with a host and without control characters (NUL, CR, LF, …).
func unusable(raw string) string {
	if raw == "" {
		return "it is empty"
	}
	for i, r := range raw {
		if unicode.IsControl(r) {
			return fmt.Sprintf("it holds the control character %U at byte %d", r, i)
		}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		// url.Error quotes the whole URL: say less.
		return "it does not parse as a URL"
	case !u.IsAbs():
		return "it is not an absolute URL"
	case !slices.Contains(serviceSchemes, u.Scheme):
		return fmt.Sprintf("its scheme is %q, not ws, wss, http or https", u.Scheme)
	case u.Opaque != "" || u.Hostname() == "":
		return "it names no host"
	}
	return ""
}

// StatusError is an answer locate did not send as a monitoring result: an
// unexpected status or a body that is not the expected JSON.
type StatusError struct {
	Status      int
	ContentType string
	// Excerpt is the start of the body, printable characters only.
	Excerpt string
	// Reason says what was wrong with the body, if anything.
	Reason string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("unexpected answer from locate: HTTP %d", e.Status)
	if e.Reason != "" {
		msg += ", " + e.Reason
	}
	ct := e.ContentType
	if ct == "" {
		ct = "none"
	}
	msg += fmt.Sprintf(", content type %s", ct)
	if e.Excerpt != "" {
		msg += fmt.Sprintf(", body starts %q", e.Excerpt)
	}
	return msg
}

// excerptLen bounds how much of an unexpected body an error quotes.
const excerptLen = 120

// excerpt returns the start of body with everything but printable characters
// replaced, so that a garbage answer cannot mess up a terminal or a log.
func excerpt(body []byte) string {
	var b strings.Builder
	for len(body) > 0 && b.Len() < excerptLen {
		r, n := utf8.DecodeRune(body)
		body = body[n:]
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = '.'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ParseAnswer reads locate's answer from an HTTP status, content type and
// body. It returns the Answer for a 200 with a valid result, and otherwise
// an error saying what locate said: a *Error, ErrUnauthorized or a
// *StatusError.
func ParseAnswer(status int, contentType string, body []byte) (*Answer, error) {
	if status == http.StatusUnauthorized && len(strings.TrimSpace(string(body))) == 0 {
		return nil, ErrUnauthorized
	}
	var a Answer
	if err := json.Unmarshal(body, &a); err != nil {
		reason := "body is not JSON"
		if len(body) == 0 {
			reason = "empty body"
		}
		if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/json" && len(body) > 0 {
			reason = "body is not a locate answer"
		}
		return nil, &StatusError{Status: status, ContentType: contentType, Excerpt: excerpt(body), Reason: reason}
	}
	if a.Error != nil {
		e := *a.Error
		if e.Status == 0 {
			e.Status = status
		}
		return nil, &e
	}
	if status != http.StatusOK {
		return nil, &StatusError{Status: status, ContentType: contentType, Excerpt: excerpt(body)}
	}
	if a.Target == nil && len(a.Results) == 0 {
		return nil, ErrNoTarget
	}
	return &a, nil
}

// Machine returns the target locate chose: the first of Results, or the
// legacy Target when there are no Results.
func (a *Answer) Machine() (Target, error) {
	switch {
	case len(a.Results) > 0:
		return a.Results[0], nil
	case a.Target != nil:
		return *a.Target, nil
	}
	return Target{}, ErrNoTarget
}

// ServiceURL returns the URL stored under key. With an empty key it returns
// the only URL, if there is exactly one. The error for a missing key lists
// the keys present; an unusable URL is an error wrapping ErrUnusableURL that
// names the key.
func (a *Answer) ServiceURL(key string) (string, error) {
	t, err := a.Machine()
	if err != nil {
		return "", err
	}
	if key == "" && len(t.URLs) == 1 {
		for k, u := range t.URLs {
			return checked(k, u)
		}
	}
	if u, ok := t.URLs[key]; ok && key != "" {
		return checked(key, u)
	}
	keys := make([]string, 0, len(t.URLs))
	for k := range t.URLs {
		keys = append(keys, fmt.Sprintf("%q", k))
	}
	slices.Sort(keys)
	have := "none"
	if len(keys) > 0 {
		have = strings.Join(keys, ", ")
	}
	if key == "" {
		return "", fmt.Errorf("%w: no key given and the answer has %d URLs; keys present: %s", ErrURLKey, len(t.URLs), have)
	}
	return "", fmt.Errorf("%w %q; keys present: %s", ErrURLKey, key, have)
}

// ServiceURLs returns a copy of every URL of the answer by key, each checked
// as ServiceURL checks it: the first unusable one, in key order, is an error
// wrapping ErrUnusableURL that names its key. An answer without URLs is an
// error wrapping ErrURLKey.
func (a *Answer) ServiceURLs() (map[string]string, error) {
	t, err := a.Machine()
	if err != nil {
		return nil, err
	}
	if len(t.URLs) == 0 {
		return nil, fmt.Errorf("%w: the answer holds no URLs at all", ErrURLKey)
	}
	for _, k := range slices.Sorted(maps.Keys(t.URLs)) {
		if _, err := checked(k, t.URLs[k]); err != nil {
			return nil, err
		}
	}
	return maps.Clone(t.URLs), nil
}

// checked returns u, found under key, if it is usable.
func checked(key, u string) (string, error) {
	if reason := unusable(u); reason != "" {
		return "", fmt.Errorf("%w under key %q: %s", ErrUnusableURL, key, reason)
	}
	return u, nil
}
