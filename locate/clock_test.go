package locate_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/locate/locatetest"
)

// TestAttemptClockBehind: every answer's Date reaches Attempted, a 401
// included, and ClockBehind reads from it how far this host's clock is
// behind locate's, to about half a second.
func TestAttemptClockBehind(t *testing.T) {
	tests := []struct {
		name     string
		offset   time.Duration // locate's clock ahead of this host's
		otherKey bool
		status   int
	}{
		{name: "clocks agree", status: 200},
		{name: "75 s behind, 401", offset: 75 * time.Second, status: 401},
		{name: "75 s behind, key refused", offset: 75 * time.Second, otherKey: true, status: 401},
		{name: "10 s ahead", offset: -10 * time.Second, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, public := newTokenSource(t)
			if tt.otherKey {
				_, public = newTokenSource(t)
			}
			srv, err := locatetest.Config{VerifyKeys: [][]byte{public}, ClockOffset: tt.offset}.Start()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			u, err := url.Parse(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			c := locate.NewClient(u)
			var heard []locate.Attempt
			c.Attempted = func(a locate.Attempt) { heard = append(heard, a) }
			c.Get(getContext(t, 10*time.Second), "ndt/ndt7", ts.sign)
			if len(heard) != 1 || heard[0].Status != tt.status {
				t.Fatalf("Attempted heard %+v, want one answer with HTTP %d", heard, tt.status)
			}
			behind, ok := heard[0].ClockBehind()
			if !ok || behind < tt.offset-time.Second || behind > tt.offset+time.Second {
				t.Errorf("ClockBehind = %v, %v; want %v ± 1s", behind, ok, tt.offset)
			}
		})
	}
}

// TestAttemptClockBehindWithoutDate: no answer, no figure.
func TestAttemptClockBehindWithoutDate(t *testing.T) {
	if _, ok := (locate.Attempt{Sent: time.Now()}).ClockBehind(); ok {
		t.Error("ClockBehind reports a figure for an attempt that got no answer")
	}
}
