package token

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
)

// Redacted replaces the signature of every token that Redact finds.
const Redacted = "REDACTED"

// compactJWS matches a JWS in compact serialization. The header is base64url
// JSON, so it always starts with "eyJ" (`{"`); the signature is kept in its
// own group so that header and claims stay readable. It is compiled on first
// use: a probe that logs nothing should not pay for it at start-up.
var compactJWS = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.)[A-Za-z0-9_-]+`)
})

// Redact returns s with the signature of every compact JWT in it replaced by
// Redacted. Without its signature a token is useless to whoever reads the log,
// yet its header and claims still say what it was. Every URL, error and log
// line that may hold a token goes through Redact before it is printed.
func Redact(s string) string {
	if !strings.Contains(s, "eyJ") {
		return s
	}
	return compactJWS().ReplaceAllString(s, "${1}"+Redacted)
}

// Describe decodes a token's header and claims without verifying it, for
// debug logs: operators can see what was sent without pasting a live token
// into a website.
func Describe(tok string) string {
	t, err := jwt.ParseSigned(tok, algorithms)
	if err != nil || len(t.Headers) == 0 {
		return "undecodable token"
	}
	var cl jwt.Claims
	if err := t.UnsafeClaimsWithoutVerification(&cl); err != nil {
		return "undecodable token claims"
	}
	exp := "none"
	if cl.Expiry != nil {
		exp = cl.Expiry.Time().UTC().Format(time.RFC3339)
	}
	h := t.Headers[0]
	return fmt.Sprintf("alg=%s kid=%q iss=%q sub=%q aud=%q exp=%s", h.Algorithm, h.KeyID, cl.Issuer, cl.Subject, []string(cl.Audience), exp)
}
