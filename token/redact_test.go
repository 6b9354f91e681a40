package token_test

import (
	"strings"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/token"
)

// signedToken returns a real token whose signature holds both of the
// base64url characters that are not alphanumeric, so that Redact is seen to
// take the whole signature.
func signedToken(t *testing.T, s *token.Signer) string {
	t.Helper()
	for range 100 {
		tok, err := s.Sign(machine, time.Now().Add(time.Minute))
		if err != nil {
			t.Fatalf("Sign = %v", err)
		}
		if sig := signature(t, tok); strings.Contains(sig, "-") && strings.Contains(sig, "_") {
			return tok
		}
	}
	t.Fatal("no signature with '-' and '_' in 100 tokens")
	return ""
}

// signature returns the third segment of a compact token.
func signature(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	return parts[2]
}

func TestRedact(t *testing.T) {
	s := newSigner(t, generated(t, "EdDSA", "redact"))
	tok1, tok2 := signedToken(t, s), signedToken(t, s)
	redacted := func(tok string) string {
		return strings.TrimSuffix(tok, signature(t, tok)) + token.Redacted
	}
	// In each template, T1 and T2 stand for the two tokens.
	tests := []struct {
		name string
		tmpl string
	}{
		{name: "bare token", tmpl: "T1"},
		{name: "URL", tmpl: "wss://h/p?access_token=T1&x=1"},
		{name: "URL ending in token", tmpl: "https://locate/v2/platform/monitoring/ndt/ndt7?early_exit=250&access_token=T1"},
		{name: "error text", tmpl: `dial "wss://ndt-x/ndt/v7/download?access_token=T1": connection refused`},
		{name: "JSON", tmpl: `{"access_token":"T1"}`},
		{name: "two tokens", tmpl: "sent T1, got T2."},
		{name: "same token twice", tmpl: "T1 T1"},
		{name: "no token", tmpl: "GET https://locate.measurementlab.net/v2/platform/monitoring/ndt/ndt7: HTTP 401"},
		{name: "token-like prefix only", tmpl: "eyJ is how base64 JSON starts"},
		{name: "empty", tmpl: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.NewReplacer("T1", tok1, "T2", tok2).Replace(tt.tmpl)
			want := strings.NewReplacer("T1", redacted(tok1), "T2", redacted(tok2)).Replace(tt.tmpl)
			got := token.Redact(in)
			if got != want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", in, got, want)
			}
			for _, tok := range []string{tok1, tok2} {
				if strings.Contains(got, signature(t, tok)) {
					t.Errorf("Redact result %q holds a signature", got)
				}
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	k := generated(t, "ES256", "describe-kid")
	s := newSigner(t, k)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tok, err := s.Sign(machine, exp)
	if err != nil {
		t.Fatalf("Sign = %v", err)
	}
	tests := []struct {
		name string
		tok  string
	}{
		{name: "signed token", tok: tok},
		{name: "redacted token", tok: token.Redact(tok)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := token.Describe(tt.tok)
			for _, want := range []string{`alg=ES256`, `kid="describe-kid"`, `iss="monitoring"`, `sub="` + machine + `"`, `aud=["locate"]`, `exp=2030-01-02T03:04:05Z`} {
				if !strings.Contains(got, want) {
					t.Errorf("Describe = %q, want it to contain %s", got, want)
				}
			}
			if strings.Contains(got, signature(t, tok)) {
				t.Errorf("Describe = %q holds the signature", got)
			}
		})
	}
}

func TestDescribeUndecodable(t *testing.T) {
	for _, tok := range []string{"", "garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."} {
		if got := token.Describe(tok); !strings.Contains(got, "undecodable") {
			t.Errorf("Describe(%q) = %q, want it to say undecodable", tok, got)
		}
	}
}

// wrap breaks s every width characters, each line starting with prefix.
func wrap(s string, width int, prefix string) string {
	var b strings.Builder
	for len(s) > width {
		b.WriteString(prefix + s[:width] + "\n")
		s = s[width:]
	}
	return b.String() + prefix + s
}

func TestRedactKnown(t *testing.T) {
	s := newSigner(t, generated(t, "EdDSA", "redact"))
	tok := signedToken(t, s)
	sig := signature(t, tok)
	other := signedToken(t, s)
	url := "wss://ndt-" + machine + "/ndt/v7/download?access_token=" + tok + "&early_exit=250"
	tests := []struct {
		name string
		text string
	}{
		{name: "whole", text: "GET " + url + " failed"},
		{name: "wrapped at 60 columns", text: wrap(url, 60, "")},
		{name: "wrapped at 20 columns, quoted and indented", text: wrap(url, 20, `    > "`)},
		{name: "signature alone, wrapped at 17", text: wrap(sig, 17, "")},
		{name: "tail that starts inside the signature", text: sig[30:] + "&early_exit=250\nclosed"},
		{name: "CRLF and tabs", text: strings.ReplaceAll(wrap(url, 33, "\t"), "\n", "\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := token.RedactKnown(tt.text, other, tok)
			squeezed := strings.Map(func(r rune) rune {
				if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
					return r
				}
				return -1
			}, got)
			for i := 0; i+token.MinSecretRun <= len(sig); i++ {
				if strings.Contains(squeezed, sig[i:i+token.MinSecretRun]) {
					t.Fatalf("%d characters of the signature from %d survive in %q", token.MinSecretRun, i, got)
				}
			}
			if !strings.Contains(got, token.Redacted) {
				t.Errorf("RedactKnown(%q) = %q, without %s", tt.text, got, token.Redacted)
			}
		})
	}
	plain := "ndt7-client: download 93.1 Mbit/s, upload 41.0 Mbit/s\nABCDEFGHIJKLMNOPQRSTUVWXYZ"
	if got := token.RedactKnown(plain, tok); got != plain {
		t.Errorf("RedactKnown changed text without a token: %q", got)
	}
	if got := token.RedactKnown("short", "a.b.c"); got != "short" {
		t.Errorf("a token with a short signature: %q", got)
	}
}
