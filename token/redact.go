package token

import (
	"fmt"
	"io"
	"regexp"
	"slices"
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

// MinSecretRun is the shortest run of a known token's signature that
// RedactKnown removes: 16 base64url characters are 96 bits, which no
// text repeats by chance, while what is left of a signature around such
// runs is too little to rebuild it.
const MinSecretRun = 16

// RedactKnown returns s with every token's signature redacted by Redact,
// and with every run of at least MinSecretRun characters of a signature of
// one of the known tokens replaced by Redacted, whatever separates those
// characters in s: line breaks, indentation, quotes or any other
// character outside base64url. A client that prints its URL wrapped, or a
// tail that starts inside a token, cannot put a known signature together
// on the page. The caller passes every token it handled.
func RedactKnown(s string, known ...string) string {
	s = Redact(s)
	// The base64url characters of s, and where each is in s.
	var squeezed []byte
	var at []int
	for i := 0; i < len(s); i++ {
		if isBase64URL(s[i]) {
			squeezed = append(squeezed, s[i])
			at = append(at, i)
		}
	}
	secret := make([]bool, len(squeezed))
	found := false
	for _, tok := range known {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if len(sig) < MinSecretRun {
			continue
		}
		// run[j] is the length of the common run ending at squeezed[i-1]
		// and sig[j-1] (the longest common substring's table, one row).
		run := make([]int, len(sig)+1)
		for i := range squeezed {
			for j := len(sig); j >= 1; j-- {
				if squeezed[i] != sig[j-1] {
					run[j] = 0
					continue
				}
				run[j] = run[j-1] + 1
				if run[j] >= MinSecretRun {
					for k := i - run[j] + 1; k <= i; k++ {
						secret[k] = true
					}
					found = true
				}
			}
		}
	}
	if !found {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		k, ok := slices.BinarySearch(at, i)
		if !ok || !secret[k] {
			b.WriteByte(s[i])
			continue
		}
		if k == 0 || !secret[k-1] {
			b.WriteString(Redacted)
		}
	}
	return b.String()
}

// isBase64URL reports whether c is a character of base64url, the alphabet
// of a token's parts.
func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// RedactingWriter returns a writer that passes each Write's text to w
// through RedactKnown with known, whole: a line written at once is
// redacted as a whole, whatever breaks it holds. It reports len(p)
// written when w took all of the redacted text.
func RedactingWriter(w io.Writer, known ...string) io.Writer {
	return &redactingWriter{w: w, known: known}
}

type redactingWriter struct {
	w     io.Writer
	known []string
}

func (r *redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, RedactKnown(string(p), r.known...)); err != nil {
		return 0, err
	}
	return len(p), nil
}
