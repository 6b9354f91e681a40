package main

import (
	"io"
	"net/http"
	"testing"

	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/token"
)

// TestMLabProductionLines runs M-Lab's two production command lines (the
// README's equivalents, without the bash cache wrapper) and checks that
// each client would get what it needs.
func TestMLabProductionLines(t *testing.T) {
	f := newFixture(t)
	env := []string{"LOCATE_URL=" + f.emu.URL, "MONITORING_SIGNER_KEY=" + f.keyPath}

	t.Run("ndt7 line, unchanged", func(t *testing.T) {
		vars, r := envOf(t, f, env, "SERVICE_URL", "-machine="+machine, "-service=ndt/ndt7", "-service-url", "--env-name", "SERVICE_URL", "-service-url-key-name", "wss:///ndt/v7/download")
		if r.status != 0 {
			t.Fatalf("status %d stderr %q", r.status, r.stderr)
		}
		if got := pathOf(t, vars["SERVICE_URL"]); got != "wss:///ndt/v7/download" {
			t.Errorf("SERVICE_URL is a URL for %s", got)
		}
	})

	t.Run("wehe line with -service-url=false", func(t *testing.T) {
		vars, r := envOf(t, f, env, "MONITORING_URL", "-machine="+machine, "-service=wehe/replay", "-service-url=false")
		if r.status != 0 {
			t.Fatalf("status %d stderr %q", r.status, r.stderr)
		}
		// wehe-cmdline fetches the URL and reads results[].urls[...].
		resp, err := http.Get(vars["MONITORING_URL"])
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		a, err := locate.ParseAnswer(resp.StatusCode, resp.Header.Get("Content-Type"), body)
		if err != nil {
			t.Fatalf("locate refused %s: %v", token.Redact(vars["MONITORING_URL"]), err)
		}
		if len(a.Results) == 0 || a.Results[0].URLs["wss://:4443/v0/envelope/access"] == "" {
			t.Errorf("answer has no wss://:4443/v0/envelope/access in results: %s", token.Redact(string(body)))
		}
	})
}
