package locate

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Errors CheckEndpoint returns. Each says what is wrong with a URL the
// caller names first, e.g. "locate URL http://… uses plain http …".
var (
	// ErrNotHTTP is a URL that is not an absolute http or https URL with
	// a host.
	ErrNotHTTP = errors.New("is not an absolute http or https URL with a host")
	// ErrUserInfo is a URL with a user name or password in it.
	ErrUserInfo = errors.New("carries user information; locate takes none, and it would be sent along with the token")
	// ErrPlainHTTP is plain http to a host that is not loopback, which
	// CheckEndpoint's insecure (Client.Insecure) allows.
	ErrPlainHTTP = errors.New("uses plain http to a host that is not loopback and would send the token in clear text; use https")
)

// CheckEndpoint applies the rule for every URL a monitoring token is sent
// to, the locate URL and each redirect: https; or plain http only to a
// loopback host (an emulator on this machine), unless insecure allows it
// anywhere. No user information is allowed.
func CheckEndpoint(u *url.URL, insecure bool) error {
	switch {
	case u.Scheme != "https" && u.Scheme != "http" || u.Opaque != "" || u.Hostname() == "":
		return ErrNotHTTP
	case u.User != nil:
		return ErrUserInfo
	case u.Scheme == "http" && !insecure && !IsLoopback(u.Hostname()):
		return ErrPlainHTTP
	}
	return nil
}

// IsLoopback reports whether host names this machine without a DNS lookup:
// "localhost" in any case, or a loopback address (127.0.0.0/8, ::1, and
// 127.0.0.0/8 mapped into IPv6). host has no brackets or port, as
// url.URL.Hostname returns it.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// printable returns u without what may hold a secret (user information,
// query, fragment), for messages.
func printable(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery, c.ForceQuery = "", false
	c.Fragment, c.RawFragment = "", ""
	return c.String()
}

// maxText bounds each piece of locate's own text (a problem's title or
// detail) that goes into a message: real ones are a sentence.
const maxText = 200

// printableText returns s fit for one line of a log: every character that
// is not printable (newlines, escape sequences, invalid UTF-8) becomes
// U+FFFD, and anything past maxText characters is cut, marked by "…".
func printableText(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxText {
			b.WriteString("…")
			break
		}
		if !unicode.IsPrint(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
