package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// MinRSABits is the smallest RSA modulus GenerateKey makes and NewSigner
// accepts.
const MinRSABits = 2048

// KeyPair is a freshly made signing key: the private JWK for NewSigner and
// LoadSigner, and the public JWK for locate's verifier.
type KeyPair struct {
	KeyID   string
	Private []byte
	Public  []byte
}

// GenerateKey makes a key pair for alg (EdDSA, ES256 or RS256; RS256 uses
// rsaBits, at least MinRSABits). An empty kid is replaced by the key's RFC
// 7638 SHA-256 thumbprint, base64url encoded.
func GenerateKey(alg string, kid string, rsaBits int) (*KeyPair, error) {
	var priv crypto.PrivateKey
	var err error
	switch jose.SignatureAlgorithm(alg) {
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.RS256:
		if rsaBits < MinRSABits {
			return nil, fmt.Errorf("RSA keys need at least %d bits, not %d", MinRSABits, rsaBits)
		}
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return nil, fmt.Errorf("%w (alg %q)", ErrUnsupportedAlg, alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	key := jose.JSONWebKey{Key: priv, Algorithm: alg, Use: "sig", KeyID: kid}
	if key.KeyID == "" {
		tp, err := key.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("key thumbprint: %w", err)
		}
		key.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	}
	private, err := key.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	public, err := key.Public().MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return &KeyPair{KeyID: key.KeyID, Private: private, Public: public}, nil
}
