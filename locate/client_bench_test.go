package locate_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/locate/locatetest"
	"github.com/monitoring-token/monitoring-token/token"
)

// BenchmarkGet measures one Client.Get round trip against the emulator on
// loopback, token signing included, over a kept-alive connection.
func BenchmarkGet(b *testing.B) {
	kp, err := token.GenerateKey("EdDSA", "", 0)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := token.NewSigner(kp.Private)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := locatetest.Start("", kp.Public)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	base, err := url.Parse(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	client := locate.NewClient(base)
	sign := func() (string, error) {
		return signer.Sign("mlab1-lga01.mlab-oti.measurement-lab.org", time.Now().Add(time.Minute))
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := client.Get(ctx, "ndt/ndt7", sign); err != nil {
			b.Fatal(err)
		}
	}
}
