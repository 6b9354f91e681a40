package locatetest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/locate/locatetest"
)

// startConfig runs an emulator configured by c for the test.
func startConfig(t *testing.T, c locatetest.Config) *locatetest.Server {
	t.Helper()
	srv, err := c.Start()
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// TestClockOffset: an emulator whose clock runs ahead dates its answers by
// its clock, 401 included, and its verifier (m-lab/access's, with no
// leeway) refuses a token that has expired by its clock though not by
// this host's.
func TestClockOffset(t *testing.T) {
	kp, signer := newKey(t, "EdDSA", "")
	const offset = 75 * time.Second
	srv := startConfig(t, locatetest.Config{VerifyKeys: [][]byte{kp.Public}, ClockOffset: offset})
	tests := []struct {
		name     string
		lifetime time.Duration // of the token, by this host's clock
		want     int
	}{
		{name: "expired by the emulator's clock", lifetime: time.Minute, want: http.StatusUnauthorized},
		{name: "valid by the emulator's clock", lifetime: 2 * time.Minute, want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := signer.Sign(machine, time.Now().Add(tt.lifetime))
			if err != nil {
				t.Fatal(err)
			}
			before := time.Now()
			resp, err := http.Get(srv.URL + "ndt/ndt7?access_token=" + tok)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			after := time.Now()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
			date, err := http.ParseTime(resp.Header.Get("Date"))
			if err != nil {
				t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
			}
			// Date is truncated to the second.
			if lo, hi := before.Add(offset).Truncate(time.Second), after.Add(offset); date.Before(lo) || date.After(hi) {
				t.Errorf("Date = %v, want between %v and %v", date, lo, hi)
			}
		})
	}
}

// TestDelay: no answer comes sooner than Delay after the request.
func TestDelay(t *testing.T) {
	kp, _ := newKey(t, "EdDSA", "")
	const delay = 50 * time.Millisecond
	srv := startConfig(t, locatetest.Config{VerifyKeys: [][]byte{kp.Public}, Delay: delay})
	srv.Inject(func(rw http.ResponseWriter, _ *http.Request) { http.Error(rw, "busy", http.StatusServiceUnavailable) })
	for _, want := range []int{http.StatusServiceUnavailable, http.StatusUnauthorized} {
		start := time.Now()
		resp, err := http.Get(srv.URL + "ndt/ndt7")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// A lower bound, so not subject to a slow machine.
		if took := time.Since(start); resp.StatusCode != want || took < delay {
			t.Errorf("HTTP %d after %v, want %d after at least %v", resp.StatusCode, took, want, delay)
		}
	}
}
