// Package token signs the short-lived JSON Web Tokens that prove to the locate
// service that a request comes from the monitoring system.
//
// It knows JOSE and nothing about HTTP: the caller loads a private JWK once,
// then asks for a signed token per request.
//
// What it promises an importer: a Signer's tokens are what locate's
// verifier (m-lab/access) accepts: Issuer, Audience, the machine as
// subject, an expiry, no "iat" or "nbf", and the key's "kid" in the header.
// Errors about what a key file holds wrap the exported sentinels, for
// errors.Is (reading it fails with the file system's errors); their texts
// may change. No error, Describe or Redact output holds key material or a
// whole token.
//
// It does not verify tokens (m-lab/access does), fetch, watch or rotate
// keys, or know any command's flags: its errors say what is wrong, and the
// caller adds what to do about it in its own terms.
package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer is the "iss" claim locate expects on monitoring tokens
// (m-lab/locate static.IssuerMonitoring).
const Issuer = "monitoring"

// Audience is the "aud" claim locate expects: the locate service itself.
const Audience = "locate"

// algorithms locate can verify; m-lab/access token.Verifier parses no others.
var algorithms = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256, jose.RS256}

// Algorithms returns the signature algorithms locate can verify, in a new
// slice each time: callers may change it without changing what the package
// accepts.
func Algorithms() []jose.SignatureAlgorithm {
	return slices.Clone(algorithms)
}

// Errors that tell the caller what is wrong with a key file.
var (
	ErrNotJSON           = errors.New("is not a JSON Web Key (not a JSON object)")
	ErrPublicKey         = errors.New("holds a public key")
	ErrSymmetricKey      = errors.New("holds a symmetric (oct/HS*) key; locate verifies only EdDSA, ES256 or RS256 signatures")
	ErrUnsupportedKey    = errors.New("holds a key type locate cannot verify; use an Ed25519, P-256 or RSA private key")
	ErrUnsupportedAlg    = errors.New("names an algorithm locate cannot verify; use EdDSA, ES256 or RS256")
	ErrAlgorithmMismatch = errors.New("names an algorithm that does not fit its key")
	ErrInvalidKey        = errors.New("is not a usable JSON Web Key")
	ErrRSAKeyTooShort    = errors.New("holds an RSA key shorter than 2048 bits")
)

// Signer signs monitoring tokens with one private key.
type Signer struct {
	keyID  string
	signer jose.Signer
}

// keyMeta holds the public, non-secret members of a JWK, read before the key
// itself so that errors can say what kind of key the file holds.
type keyMeta struct {
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	D   *string
	K   *string
}

// NewSigner parses a serialized private JWK. The algorithm comes from its
// "alg" member or, when that is absent, from the key: Ed25519 gives EdDSA,
// P-256 ES256 and RSA RS256. Error texts are built here and carry no key
// material, so callers may print them.
func NewSigner(jwk []byte) (*Signer, error) {
	var meta keyMeta
	if err := json.Unmarshal(jwk, &meta); err != nil {
		return nil, ErrNotJSON
	}
	switch {
	case meta.Kty == "oct" || meta.K != nil || strings.HasPrefix(meta.Alg, "HS"):
		return nil, ErrSymmetricKey
	case meta.Kty != "OKP" && meta.Kty != "EC" && meta.Kty != "RSA":
		return nil, fmt.Errorf("%w (kty %q)", ErrUnsupportedKey, meta.Kty)
	case meta.D == nil:
		return nil, ErrPublicKey
	}
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON(jwk); err != nil {
		// go-jose's messages describe the defect ("invalid EC key, X/Y are
		// not on declared curve") and do not quote member values.
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if !key.Valid() || key.IsPublic() {
		return nil, ErrInvalidKey
	}
	alg, err := algorithm(key)
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	// Passing the JWK (not the raw key) puts its "kid" in the header, which
	// locate uses to pick the verify key.
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: &key}, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return &Signer{keyID: key.KeyID, signer: signer}, nil
}

// algorithm returns the signature algorithm for key, checking a declared
// "alg" against the key type and inferring it when none is declared.
func algorithm(key jose.JSONWebKey) (jose.SignatureAlgorithm, error) {
	var fits jose.SignatureAlgorithm
	switch k := key.Key.(type) {
	case ed25519.PrivateKey:
		fits = jose.EdDSA
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("%w (curve %s)", ErrUnsupportedKey, k.Curve.Params().Name)
		}
		// go-jose does not check that d belongs to x and y; a mismatch
		// would sign tokens that locate's copy of the public key rejects.
		priv, err := k.ECDH()
		if err != nil {
			return "", ErrInvalidKey
		}
		pub, err := k.PublicKey.ECDH()
		if err != nil || !priv.PublicKey().Equal(pub) {
			return "", fmt.Errorf("%w: its private part does not match its public part", ErrInvalidKey)
		}
		fits = jose.ES256
	case *rsa.PrivateKey:
		if k.N.BitLen() < MinRSABits {
			return "", ErrRSAKeyTooShort
		}
		fits = jose.RS256
	default:
		return "", ErrUnsupportedKey
	}
	if key.Algorithm == "" {
		return fits, nil
	}
	alg := jose.SignatureAlgorithm(key.Algorithm)
	supported := slices.Contains(algorithms, alg)
	switch {
	case !supported:
		return "", fmt.Errorf("%w (alg %q)", ErrUnsupportedAlg, key.Algorithm)
	case alg != fits:
		return "", fmt.Errorf("%w (alg %q, key wants %s)", ErrAlgorithmMismatch, key.Algorithm, fits)
	}
	return alg, nil
}

// KeyID returns the "kid" the signer puts in every token header, possibly
// empty. Locate verifies a token only with the public key registered under
// the same kid.
func (s *Signer) KeyID() string { return s.keyID }

// Sign returns a compact JWT for subject (the machine under test) that
// expires at exp. It carries no "iat" or "nbf": locate validates with zero
// leeway, so either claim would make a probe whose clock runs a second ahead
// fail.
func (s *Signer) Sign(subject string, exp time.Time) (string, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", fmt.Errorf("token id: %w", err)
	}
	cl := jwt.Claims{
		Issuer:   Issuer,
		Subject:  subject,
		Audience: jwt.Audience{Audience},
		Expiry:   jwt.NewNumericDate(exp),
		ID:       hex.EncodeToString(id),
	}
	tok, err := jwt.Signed(s.signer).Claims(cl).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}
