package token_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	accesstoken "github.com/m-lab/access/token"

	"github.com/monitoring-token/monitoring-token/token"
)

// machine is the M-Lab machine the tokens in these tests name.
const machine = "mlab1-lga01.mlab-oti.measurement-lab.org"

// expected is the claim check real locate applies to monitoring tokens
// (m-lab/locate main.go), spelled out here rather than taken from the token
// package so that a wrong constant there fails these tests.
var expected = jwt.Expected{Issuer: "monitoring", AnyAudience: jwt.Audience{"locate"}}

// testKey is a private JWK, its public half, and what a signer made from it
// should put in token headers.
type testKey struct {
	name    string
	private []byte
	public  []byte
	kid     string
	alg     string
}

// generated makes a key pair with token.GenerateKey, which writes "alg".
func generated(t testing.TB, alg, kid string) testKey {
	t.Helper()
	kp, err := token.GenerateKey(alg, kid, token.MinRSABits)
	if err != nil {
		t.Fatalf("GenerateKey(%s) = %v", alg, err)
	}
	return testKey{name: "GenerateKey " + alg, private: kp.Private, public: kp.Public, kid: kp.KeyID, alg: alg}
}

// marshalled serializes priv as a JWK without "alg", as other tools write
// keys, so that the signer has to infer the algorithm from the key.
func marshalled(t testing.TB, name string, priv any, kid, alg string) testKey {
	t.Helper()
	key := jose.JSONWebKey{Key: priv, KeyID: kid}
	private, err := key.MarshalJSON()
	if err != nil {
		t.Fatalf("marshal %s: %v", name, err)
	}
	public, err := key.Public().MarshalJSON()
	if err != nil {
		t.Fatalf("marshal public %s: %v", name, err)
	}
	if strings.Contains(string(private), `"alg"`) {
		t.Fatalf("%s: JWK has an alg member: %s", name, private)
	}
	return testKey{name: name, private: private, public: public, kid: kid, alg: alg}
}

func newEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func newECDSA(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func newRSA(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// octKey returns a symmetric JWK, the kind locate cannot verify.
func octKey(t testing.TB) []byte {
	t.Helper()
	b, err := jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// validKeys returns one key of every kind locate verifies, made both ways.
func validKeys(t testing.TB) []testKey {
	t.Helper()
	return []testKey{
		generated(t, "EdDSA", "gen-eddsa"),
		generated(t, "ES256", "gen-es256"),
		generated(t, "RS256", ""), // kid becomes the thumbprint
		marshalled(t, "ed25519 without alg", newEd25519(t), "raw-ed25519", "EdDSA"),
		marshalled(t, "P-256 without alg", newECDSA(t, elliptic.P256()), "raw-p256", "ES256"),
		marshalled(t, "RSA 2048 without alg", newRSA(t, 2048), "raw-rsa", "RS256"),
	}
}

// newSigner loads the private half of k.
func newSigner(t testing.TB, k testKey) *token.Signer {
	t.Helper()
	s, err := token.NewSigner(k.private)
	if err != nil {
		t.Fatalf("NewSigner(%s) = %v", k.name, err)
	}
	return s
}

// verify checks tok the way locate does, with the public half of k.
func verify(t testing.TB, tok string, public []byte) (*jwt.Claims, error) {
	t.Helper()
	v, err := accesstoken.NewVerifier(public)
	if err != nil {
		t.Fatalf("NewVerifier = %v", err)
	}
	return v.Verify(tok, expected)
}

// rawClaims decodes the claims segment of tok into its members, so that
// tests see exactly which keys were serialized.
func rawClaims(t testing.TB, tok string) map[string]json.RawMessage {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode claims: %v", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("claims %s: %v", b, err)
	}
	return m
}

func header(t testing.TB, tok string) jose.Header {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, token.Algorithms())
	if err != nil {
		t.Fatalf("ParseSigned = %v", err)
	}
	return parsed.Headers[0]
}

func TestSignVerifiesWithLocateVerifier(t *testing.T) {
	for _, k := range validKeys(t) {
		t.Run(k.name, func(t *testing.T) {
			s := newSigner(t, k)
			if s.KeyID() != k.kid {
				t.Errorf("signer kid = %q, want %q", s.KeyID(), k.kid)
			}
			exp := time.Now().Add(time.Minute)
			tok, err := s.Sign(machine, exp)
			if err != nil {
				t.Fatalf("Sign = %v", err)
			}

			cl, err := verify(t, tok, k.public)
			if err != nil {
				t.Fatalf("locate's verifier rejects the token: %v", err)
			}
			if cl.Issuer != "monitoring" || cl.Subject != machine || !slices.Equal(cl.Audience, jwt.Audience{"locate"}) {
				t.Errorf("claims iss, sub, aud = %q, %q, %q", cl.Issuer, cl.Subject, cl.Audience)
			}
			if cl.Expiry == nil || cl.Expiry.Time().Unix() != exp.Unix() {
				t.Errorf("claims exp = %v, want %v", cl.Expiry, exp.Unix())
			}

			h := header(t, tok)
			if h.KeyID != k.kid || h.Algorithm != k.alg {
				t.Errorf("header kid, alg = %q, %q, want %q, %q", h.KeyID, h.Algorithm, k.kid, k.alg)
			}

			raw := rawClaims(t, tok)
			for _, absent := range []string{"iat", "nbf"} {
				if v, ok := raw[absent]; ok {
					t.Errorf("claims have %q = %s; locate's zero leeway rejects tokens from a clock that runs ahead", absent, v)
				}
			}
			tok2, err := s.Sign(machine, exp)
			if err != nil {
				t.Fatalf("second Sign = %v", err)
			}
			jti1, jti2 := string(raw["jti"]), string(rawClaims(t, tok2)["jti"])
			if jti1 == "" || jti1 == `""` || jti1 == jti2 {
				t.Errorf("jti of two tokens = %s and %s, want two different ids", jti1, jti2)
			}
		})
	}
}

func TestSignExpiry(t *testing.T) {
	k := generated(t, "EdDSA", "exp")
	s := newSigner(t, k)
	tests := []struct {
		name    string
		exp     time.Duration
		wantErr error
	}{
		{name: "in a minute", exp: time.Minute},
		{name: "a minute ago", exp: -time.Minute, wantErr: jwt.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.Sign(machine, time.Now().Add(tt.exp))
			if err != nil {
				t.Fatalf("Sign = %v", err)
			}
			if _, err := verify(t, tok, k.public); !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSignWithoutKeyID(t *testing.T) {
	k := marshalled(t, "ed25519 without kid", newEd25519(t), "", "EdDSA")
	s := newSigner(t, k)
	if s.KeyID() != "" {
		t.Errorf("KeyID = %q, want empty", s.KeyID())
	}
	tok, err := s.Sign(machine, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatalf("Sign = %v", err)
	}
	if h := header(t, tok); h.KeyID != "" {
		t.Errorf("header kid = %q, want empty", h.KeyID)
	}
	// A verifier holding one key without kid finds it under the empty kid.
	if _, err := verify(t, tok, k.public); err != nil {
		t.Errorf("Verify = %v", err)
	}
}

// withMember returns the JWK jwk with member name set to value.
func withMember(t testing.TB, jwk []byte, name string, value any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(jwk, &m); err != nil {
		t.Fatal(err)
	}
	m[name] = value
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// member returns the value of member name of the JWK jwk.
func member(t testing.TB, jwk []byte, name string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(jwk, &m); err != nil {
		t.Fatal(err)
	}
	return m[name]
}

// privateMember finds the private members of a JWK, even in a truncated one,
// matching names as encoding/json does (case-insensitively).
var privateMember = regexp.MustCompile(`(?i)"(d|p|q|dp|dq|qi|k)"\s*:\s*("(?:[^"\\]|\\.)*")`)

// privateValues returns the values of jwk's private members, at least 8
// characters long, that an error must never quote.
func privateValues(jwk []byte) []string {
	var values []string
	for _, m := range privateMember.FindAllSubmatch(jwk, -1) {
		var v string
		if json.Unmarshal(m[2], &v) != nil {
			v = string(m[2][1 : len(m[2])-1])
		}
		if len(v) >= 8 {
			values = append(values, v)
		}
	}
	return values
}

// sentinels are the token package's fixed error texts.
var sentinels = []error{
	token.ErrNotJSON, token.ErrPublicKey, token.ErrSymmetricKey, token.ErrUnsupportedKey,
	token.ErrUnsupportedAlg, token.ErrAlgorithmMismatch, token.ErrInvalidKey, token.ErrRSAKeyTooShort,
}

// leaked returns the private member value of jwk that err quotes, if any. A
// value also written in a public member of jwk or in the package's fixed
// texts is no secret of the error's making, and is skipped.
func leaked(jwk []byte, err error) (string, bool) {
	public := privateMember.ReplaceAll(jwk, nil)
	for _, v := range privateValues(jwk) {
		if strings.Contains(string(public), v) || slices.ContainsFunc(sentinels, func(s error) bool { return strings.Contains(s.Error(), v) }) {
			continue
		}
		if strings.Contains(err.Error(), v) {
			return v, true
		}
	}
	return "", false
}

func TestNewSignerErrors(t *testing.T) {
	ed := generated(t, "EdDSA", "ed")
	rsaKey := generated(t, "RS256", "rsa")
	oct := octKey(t)
	otherEd := generated(t, "EdDSA", "other")
	p256, otherP256 := generated(t, "ES256", "p256"), generated(t, "ES256", "other")
	tests := []struct {
		name    string
		jwk     []byte
		wantErr error
	}{
		{name: "not JSON", jwk: []byte("-----BEGIN PRIVATE KEY-----"), wantErr: token.ErrNotJSON},
		{name: "truncated key", jwk: ed.private[:len(ed.private)-1], wantErr: token.ErrNotJSON},
		{name: "JSON array", jwk: []byte(`[]`), wantErr: token.ErrNotJSON},
		{name: "public key", jwk: ed.public, wantErr: token.ErrPublicKey},
		{name: "oct key", jwk: oct, wantErr: token.ErrSymmetricKey},
		{name: "oct key with alg HS256", jwk: withMember(t, oct, "alg", "HS256"), wantErr: token.ErrSymmetricKey},
		{name: "RSA key with alg PS256", jwk: withMember(t, rsaKey.private, "alg", "PS256"), wantErr: token.ErrUnsupportedAlg},
		{name: "Ed25519 key with alg ES256", jwk: withMember(t, ed.private, "alg", "ES256"), wantErr: token.ErrAlgorithmMismatch},
		{name: "P-384 key", jwk: marshalled(t, "P-384", newECDSA(t, elliptic.P384()), "p384", "").private, wantErr: token.ErrUnsupportedKey},
		{name: "RSA 1024", jwk: marshalled(t, "RSA 1024", newRSA(t, 1024), "rsa1024", "").private, wantErr: token.ErrRSAKeyTooShort},
		{name: "unknown kty", jwk: withMember(t, ed.private, "kty", "XYZ"), wantErr: token.ErrUnsupportedKey},
		{name: "Ed25519 key with x of another key", jwk: withMember(t, ed.private, "x", member(t, otherEd.public, "x")), wantErr: token.ErrInvalidKey},
		{name: "P-256 key with d of another key", jwk: withMember(t, p256.private, "d", member(t, otherP256.private, "d")), wantErr: token.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key.jwk")
			if err := os.WriteFile(path, tt.jwk, 0o600); err != nil {
				t.Fatal(err)
			}
			_, newErr := token.NewSigner(tt.jwk)
			_, loadErr := token.LoadSigner(t.Context(), path)
			for fn, err := range map[string]error{"NewSigner": newErr, "LoadSigner": loadErr} {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("%s error = %v, want %v", fn, err, tt.wantErr)
					continue
				}
				if _, ok := leaked(tt.jwk, err); ok {
					t.Errorf("%s error %q quotes a private member of the key", fn, err)
				}
			}
			if loadErr != nil && !strings.Contains(loadErr.Error(), path) {
				t.Errorf("LoadSigner error %q does not name %s", loadErr, path)
			}
		})
	}
}

func TestLoadSignerMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.jwk")
	_, err := token.LoadSigner(t.Context(), path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadSigner = %v, want a not-exist error naming %s", err, path)
	}
}

func TestLoadSigner(t *testing.T) {
	k := generated(t, "ES256", "file")
	path := filepath.Join(t.TempDir(), "key.jwk")
	if err := os.WriteFile(path, k.private, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := token.LoadSigner(t.Context(), path)
	if err != nil {
		t.Fatalf("LoadSigner = %v", err)
	}
	tok, err := s.Sign(machine, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatalf("Sign = %v", err)
	}
	if _, err := verify(t, tok, k.public); err != nil {
		t.Errorf("Verify = %v", err)
	}
}

func FuzzNewSigner(f *testing.F) {
	var seeds [][]byte
	for _, k := range validKeys(f) {
		seeds = append(seeds, k.private, k.public)
	}
	ed := generated(f, "EdDSA", "ed")
	oct := octKey(f)
	seeds = append(seeds,
		oct,
		withMember(f, oct, "alg", "HS256"),
		withMember(f, ed.private, "alg", "ES256"),
		withMember(f, ed.private, "alg", "PS256"),
		withMember(f, ed.private, "kty", "XYZ"),
		withMember(f, ed.private, "d", 5),
		ed.private[:len(ed.private)/2],
		marshalled(f, "P-384", newECDSA(f, elliptic.P384()), "p384", "").private,
		marshalled(f, "RSA 1024", newRSA(f, 1024), "rsa1024", "").private,
		[]byte(`{}`), []byte(`null`), []byte(`[]`), []byte(``), []byte(`{"kty":"OKP","d":null}`),
		[]byte(`{"kty":"EC","crv":"P-256","d":"c2VjcmV0c2VjcmV0"}`),
	)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, jwk []byte) {
		s, err := token.NewSigner(jwk)
		if err != nil {
			if _, ok := leaked(jwk, err); ok {
				t.Fatalf("error %q quotes a private member of the key", err)
			}
			return
		}
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(jwk); err != nil {
			t.Fatalf("NewSigner accepted a key go-jose cannot read: %v", err)
		}
		tok, err := s.Sign(machine, time.Now().Add(time.Minute))
		if err != nil {
			t.Fatalf("NewSigner accepted the key but Sign = %v", err)
		}
		public, err := key.Public().MarshalJSON()
		if err != nil {
			t.Fatalf("marshal public key: %v", err)
		}
		if _, err := verify(t, tok, public); err != nil {
			t.Fatalf("NewSigner accepted the key but its public half rejects the token: %v", err)
		}
	})
}

func TestAlgorithmsIsACopy(t *testing.T) {
	want := []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.RS256}
	if got := token.Algorithms(); !slices.Equal(got, want) {
		t.Fatalf("Algorithms() = %v, want %v", got, want)
	}
	// A caller that edits its slice changes nothing for the next caller or
	// for the keys NewSigner accepts.
	clear(token.Algorithms())
	if got := token.Algorithms(); !slices.Equal(got, want) {
		t.Errorf("after a caller cleared its slice, Algorithms() = %v, want %v", got, want)
	}
	k := generated(t, "EdDSA", "copy")
	if _, err := token.NewSigner(k.private); err != nil {
		t.Errorf("after a caller cleared its slice, NewSigner(EdDSA key) = %v", err)
	}
}
