package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/token"
)

// TestCommandHints: the token and locate packages name none of this
// command's flags; main adds what to do here, and the line an operator
// reads is whole: the package's text, then the hint.
func TestCommandHints(t *testing.T) {
	kp, err := token.GenerateKey("EdDSA", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	public := filepath.Join(t.TempDir(), "public.jwk")
	if err := os.WriteFile(public, kp.Public, 0o600); err != nil {
		t.Fatal(err)
	}
	_, keyErr := token.LoadSigner(t.Context(), public)

	_, urlErr := parseConfig([]string{"-monitoring-signer-key=/k", "-machine=" + machine, "-locate-url=http://locate.example/v2/platform/monitoring/", "--", "true"}, lookup(nil), time.Now())

	// A loopback locate that redirects to plain http elsewhere.
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		http.Redirect(rw, req, "http://192.0.2.2:8080/v2/platform/monitoring/ndt/ndt7", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL + "/v2/platform/monitoring/")
	_, redirectErr := locate.NewClient(base).Get(t.Context(), "ndt/ndt7", func() (string, error) { return "tok", nil })

	tests := []struct {
		name     string
		err      error
		own, msg string // the package's own text, and the whole message
	}{
		{name: "public key", err: keyErr,
			own: "signer key " + public + " holds a public key",
			msg: "signer key " + public + " holds a public key; monitoring-token needs the private key (the public half goes to locate)"},
		{name: "-locate-url over plain http", err: urlErr,
			msg: "-locate-url http://locate.example/v2/platform/monitoring/ uses plain http to a host that is not loopback and would send the token in clear text; use https, or add -insecure if you mean it (see monitoring-token -h)"},
		{name: "redirect to plain http", err: &locateFailure{redirectErr},
			own: "refusing redirect to http://192.0.2.2:8080/v2/platform/monitoring/ndt/ndt7, which uses plain http to a host that is not loopback and would send the token in clear text; use https",
			msg: "refusing redirect to http://192.0.2.2:8080/v2/platform/monitoring/ndt/ndt7, which uses plain http to a host that is not loopback and would send the token in clear text; use https, or add -insecure if you mean it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("no error")
			}
			if got := explain(tt.err); !strings.HasSuffix(got, tt.msg) {
				t.Errorf("explain = %q, want it to end with %q", got, tt.msg)
			}
			if got := tt.err.Error(); tt.own != "" && !strings.HasSuffix(got, tt.own) {
				t.Errorf("the package's error = %q, want it to end with %q, naming no flag", got, tt.own)
			}
		})
	}
}
