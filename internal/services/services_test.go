package services_test

import (
	"slices"
	"testing"

	"github.com/monitoring-token/monitoring-token/internal/services"
)

func TestLookupURLKey(t *testing.T) {
	tests := []struct {
		service string
		want    string
		known   bool
	}{
		{service: "ndt/ndt7", want: "wss:///ndt/v7/download", known: true},
		{service: "ndt/ndt5", want: "wss://:3010/ndt_protocol", known: true},
		{service: "wehe/replay", want: "wss://:4443/v0/envelope/access", known: true},
		{service: "neubot/dash", want: "https:///negotiate/dash", known: true},
		{service: "iperf3/test", want: "wss:///v0/envelope/access", known: true},
		{service: "unknown/service", want: ""},
		{service: "", want: ""},
	}
	for _, tt := range tests {
		s, ok := services.Lookup(tt.service)
		if s.URLKey != tt.want || ok != tt.known || s.Name != tt.service {
			t.Errorf("Lookup(%q) = %q, %q, %v; want %q, %q, %v", tt.service, s.Name, s.URLKey, ok, tt.service, tt.want, tt.known)
		}
	}
}

// TestEnforced: locate enforces monitoring tokens only on ndt/ndt7 and
// wehe/replay (m-lab/locate's deployment).
func TestEnforced(t *testing.T) {
	if got, want := services.Enforced(), []string{"ndt/ndt7", "wehe/replay"}; !slices.Equal(got, want) {
		t.Errorf("Enforced() = %q, want %q", got, want)
	}
}

// TestTable: every row is one the command can use: a name of its own, a
// URL key among the answer's keys, variables to put it in, and a reason
// for -h where the client asks locate itself.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range services.All() {
		switch {
		case s.Name == "" || seen[s.Name]:
			t.Errorf("row %q: empty or repeated name", s.Name)
		case !slices.Contains(s.URLKeys, s.URLKey):
			t.Errorf("%s: URL key %q is not among the answer's keys %q", s.Name, s.URLKey, s.URLKeys)
		case len(s.EnvNames) == 0:
			t.Errorf("%s: no variable gets the URL", s.Name)
		case s.AsksLocate && s.Why == "":
			t.Errorf("%s: its client asks locate itself, and -h does not say which client", s.Name)
		}
		seen[s.Name] = true
	}
	other, ok := services.Lookup("other/thing")
	if ok || !slices.Equal(other.EnvNames, []string{services.DefaultEnvName}) || other.AsksLocate || other.Enforced {
		t.Errorf("Lookup of an unknown service = %+v, %v; want the default variable, service-URL mode", other, ok)
	}
}

// TestRowsAreCopies: a caller that changes a row changes nobody else's.
func TestRowsAreCopies(t *testing.T) {
	s, _ := services.Lookup("ndt/ndt7")
	s.EnvNames[0], s.URLKeys[0] = "CHANGED", "changed"
	all := services.All()
	all[0].EnvNames[1] = "CHANGED"
	again, _ := services.Lookup("ndt/ndt7")
	if !slices.Equal(again.EnvNames, []string{services.DefaultEnvName, "SERVICE_URL"}) || again.URLKeys[0] == "changed" {
		t.Errorf("Lookup after changes = %q, %q", again.EnvNames, again.URLKeys)
	}
}
