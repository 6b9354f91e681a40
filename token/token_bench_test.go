package token_test

import (
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
