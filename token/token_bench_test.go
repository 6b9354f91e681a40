package token_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/token"
)

// BenchmarkLoadAndSign measures what monitoring-token does with its key on
// every run: parse the private JWK and sign one monitoring token.
func BenchmarkLoadAndSign(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			kp, err := token.GenerateKey(alg, "", token.MinRSABits)
			if err != nil {
				b.Fatal(err)
			}
			exp := time.Now().Add(time.Minute)
			for b.Loop() {
				s, err := token.NewSigner(kp.Private)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Sign("mlab1-lga01.mlab-oti.measurement-lab.org", exp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadSigner measures reading and parsing a key file under a
// context, against os.ReadFile and NewSigner, which it replaced: the
// difference is what bounding the read costs every run.
func BenchmarkLoadSigner(b *testing.B) {
	kp, err := token.GenerateKey("EdDSA", "", 0)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "key.jwk")
	if err := os.WriteFile(path, kp.Private, 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("LoadSigner", func(b *testing.B) {
		ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
		defer cancel()
		for b.Loop() {
			if _, err := token.LoadSigner(ctx, path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadFile+NewSigner", func(b *testing.B) {
		for b.Loop() {
			jwk, err := os.ReadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := token.NewSigner(jwk); err != nil {
				b.Fatal(err)
			}
		}
	})
}
