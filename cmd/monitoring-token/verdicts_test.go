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

// TestNoNearestServer: in locate-URL mode (-service-url=false, on the
// command line or from a shared environment) a service whose standard
// client tests the nearest server without a URL is refused with 125
// unless -env-name says which variable gets the locate URL; the stand-in
// client, which records whether SERVICE_URL was set, does not run.
func TestNoNearestServer(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name   string
		flags  []string
		env    []string
		status int
	}{
		{"ndt7 -service-url=false", []string{"-service-url=false"}, nil, statusFailed},
		{"ndt7 -service-url=false from the environment", nil, []string{"MONITORING_TOKEN_SERVICE_URL=false"}, statusFailed},
		{"ndt5 -service-url=false", []string{"-service=ndt/ndt5", "-service-url=false"}, nil, statusFailed},
		{"ndt7 -service-url=false -env-name", []string{"-service-url=false", "-env-name=LOCATE_REQUEST"}, nil, 0},
		{"wehe", []string{"-service=wehe/replay"}, nil, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			record := filepath.Join(t.TempDir(), "service_url")
			client := []string{"--", "sh", "-c", `echo "SERVICE_URL ${SERVICE_URL+set}" > ` + record}
			r := runBinary(t, tt.env, f.flags(append(tt.flags, client...)...)...)
			got, err := os.ReadFile(record)
			if tt.status == 0 {
				if r.status != 0 || string(got) != "SERVICE_URL \n" {
					t.Errorf("status %d stderr %q, the client recorded %q (%v); want 0 and SERVICE_URL unset", r.status, r.stderr, got, err)
				}
				return
			}
			if r.status != tt.status || !strings.Contains(r.stderr, "would test the server nearest to it") {
				t.Errorf("status %d stderr %q; want %d and the nearest server named", r.status, r.stderr, tt.status)
			}
			if err == nil {
				t.Errorf("the client ran, and recorded %q", got)
			}
		})
	}
}
