package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monitoring-token/monitoring-token/locate/locatetest"
)

// The tests of issue 23: every verdict is the server's. A failure that
// belongs to locate, to another run or to the set-up must not be reported
// as the server's.

// TestAnswerChecked: an answer for another machine, or whose URLs carry no
// access_token, stops the run with 125 naming what was wrong, and the
// command does not run. The emulator's -service-addr still works.
func TestAnswerChecked(t *testing.T) {
	for _, tt := range []struct {
		name string
		emu  locatetest.Config
		want string // in stderr; "" for a run that succeeds
	}{
		{"another machine", locatetest.Config{AnswerMachine: "mlab2-lga01.mlab-oti.measurement-lab.org"}, `locate's answer is for machine "mlab2-lga01.mlab-oti.measurement-lab.org", not ` + machine},
		{"no access_token", locatetest.Config{URLsWithoutToken: true}, "the URL for MONITORING_URL carries no access_token"},
		{"service-addr", locatetest.Config{ServiceAddr: "127.0.0.1:4443"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureWith(t, tt.emu)
			ran := filepath.Join(f.dir, "ran")
			r := runBinary(t, nil, f.flags("--", "touch", ran)...)
			_, err := os.Stat(ran)
			if tt.want == "" {
				if r.status != 0 || err != nil {
					t.Errorf("status %d stderr %q, command ran: %v; want 0 and the command run", r.status, r.stderr, err == nil)
				}
				return
			}
			if r.status != statusFailed || !strings.Contains(r.stderr, tt.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("status %d stderr %q; want %d and one line with %q", r.status, r.stderr, statusFailed, tt.want)
			}
			if err == nil {
				t.Error("the command ran")
			}
		})
	}
}
