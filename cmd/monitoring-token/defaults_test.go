package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monitoring-token/monitoring-token/token"
)

// urlKind says what a variable must hold: the service URL of a path on the
// machine, the locate request URL for the service, or nothing.
type urlKind struct{ service, path string }

var absent = urlKind{}

func serviceURLOf(path string) urlKind    { return urlKind{path: path} }
func locateURLFor(service string) urlKind { return urlKind{service: service} }

// check checks value against the kind, for the fixture's emulator.
func (k urlKind) check(t *testing.T, f *fixture, name, value string) {
	t.Helper()
	switch {
	case k == absent:
		if value != "" {
			t.Errorf("%s = %q, want it unset", name, token.Redact(value))
		}
	case k.service != "":
		if !strings.HasPrefix(value, f.emu.URL+k.service+"?access_token=") {
			t.Errorf("%s = %q, want the locate request URL for %s", name, token.Redact(value), k.service)
		}
	default:
		u, err := url.Parse(value)
		if err != nil || !strings.HasSuffix(u.Hostname(), machine) || u.Path != k.path {
			t.Errorf("%s = %q, want the service URL %s of %s", name, token.Redact(value), k.path, machine)
		} else if iss := claimsOf(t, u.Query().Get("access_token")); iss != "locate" {
			t.Errorf("%s carries a token issued by %q, want locate's", name, iss)
		}
	}
}

// TestServiceDefaults: each service's standard client gets what it reads
// from a bare command line, and -env-name, -export, -export-all and
// -service-url set exactly what they say.
func TestServiceDefaults(t *testing.T) {
	const dl, envelope = "/ndt/v7/download", "/v0/envelope/access"
	f := newFixture(t)
	tests := []struct {
		name     string
		flags    []string
		env      []string
		want     map[string]urlKind
		requests int // to locate, by monitoring-token
	}{
		{name: "bare ndt7 in both variables", want: map[string]urlKind{"MONITORING_URL": serviceURLOf(dl), "SERVICE_URL": serviceURLOf(dl)}, requests: 1},
		{name: "ndt7 -env-name=MONITORING_URL alone", flags: []string{"-env-name=MONITORING_URL"}, want: map[string]urlKind{"MONITORING_URL": serviceURLOf(dl), "SERVICE_URL": absent}, requests: 1},
		{name: "ndt7 -env-name=SERVICE_URL alone", flags: []string{"-env-name=SERVICE_URL"}, want: map[string]urlKind{"MONITORING_URL": absent, "SERVICE_URL": serviceURLOf(dl)}, requests: 1},
		{name: "ndt7 -export", flags: []string{"-export=DL=wss:///ndt/v7/download"}, want: map[string]urlKind{"DL": serviceURLOf(dl), "MONITORING_URL": absent, "SERVICE_URL": absent}, requests: 1},
		{name: "ndt7 -export-all", flags: []string{"-export-all=P"}, want: map[string]urlKind{"P_WSS_NDT_V7_DOWNLOAD": serviceURLOf(dl), "MONITORING_URL": absent, "SERVICE_URL": absent}, requests: 1},
		{name: "ndt7 -service-url=false -env-name", flags: []string{"-service-url=false", "-env-name=MONITORING_URL"}, want: map[string]urlKind{"MONITORING_URL": locateURLFor("ndt/ndt7"), "SERVICE_URL": absent}},
		{name: "wehe: the locate request URL", flags: []string{"-service=wehe/replay"}, want: map[string]urlKind{"MONITORING_URL": locateURLFor("wehe/replay"), "SERVICE_URL": absent}},
		{name: "wehe -service-url", flags: []string{"-service=wehe/replay", "-service-url"}, want: map[string]urlKind{"MONITORING_URL": serviceURLOf(envelope)}, requests: 1},
		{name: "wehe -service-url-key-name selects service URLs", flags: []string{"-service=wehe/replay", "-service-url-key-name=wss://:4443/v0/envelope/access"}, want: map[string]urlKind{"MONITORING_URL": serviceURLOf(envelope)}, requests: 1},
		{name: "wehe -export selects service URLs", flags: []string{"-service=wehe/replay", "-export=W=wss://:4443/v0/envelope/access"}, want: map[string]urlKind{"W": serviceURLOf(envelope), "MONITORING_URL": absent}, requests: 1},
		{name: "wehe -export-all selects service URLs", flags: []string{"-service=wehe/replay", "-export-all=W"}, want: map[string]urlKind{"W_WSS_4443_V0_ENVELOPE_ACCESS": serviceURLOf(envelope)}, requests: 1},
		{name: "wehe -token-env-name selects service URLs", flags: []string{"-service=wehe/replay", "-token-env-name=T"}, want: map[string]urlKind{"MONITORING_URL": serviceURLOf(envelope)}, requests: 1},
		{name: "wehe -env-name", flags: []string{"-service=wehe/replay", "-env-name=W"}, want: map[string]urlKind{"W": locateURLFor("wehe/replay"), "MONITORING_URL": absent}},
		// A pod's shared environment does not switch the wehe probe.
		{name: "wehe with an export from the environment", flags: []string{"-service=wehe/replay"}, env: []string{"MONITORING_TOKEN_EXPORT=W=wss://:4443/v0/envelope/access"}, want: map[string]urlKind{"MONITORING_URL": locateURLFor("wehe/replay"), "W": absent}},
		{name: "wehe with -service-url from the environment", flags: []string{"-service=wehe/replay"}, env: []string{"MONITORING_TOKEN_SERVICE_URL=true"}, want: map[string]urlKind{"MONITORING_URL": serviceURLOf(envelope)}, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.emu.Requests()
			vars, r := envOf(t, f, tt.env, "", f.flags(tt.flags...)...)
			if r.status != 0 {
				t.Fatalf("status %d, stderr %q", r.status, r.stderr)
			}
			for name, kind := range tt.want {
				kind.check(t, f, name, vars[name])
			}
			if n := f.emu.Requests() - before; n != tt.requests {
				t.Errorf("monitoring-token asked locate %d times, want %d", n, tt.requests)
			}
		})
	}
}

// TestPrintGivesWhatTheCommandGets: -print prints the variables the
// command would get, the service's defaults included.
func TestPrintGivesWhatTheCommandGets(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		flags []string
		want  []string
	}{
		{name: "ndt7", want: []string{"MONITORING_URL", "SERVICE_URL"}},
		{name: "ndt7 -env-name", flags: []string{"-env-name=MONITORING_URL"}, want: []string{"MONITORING_URL"}},
		{name: "wehe", flags: []string{"-service=wehe/replay"}, want: []string{"MONITORING_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, nil, f.flags(append(tt.flags, "-print")...)...)
			if r.status != 0 {
				t.Fatalf("status %d, stderr %q", r.status, r.stderr)
			}
			var got []string
			for line := range strings.Lines(r.stdout) {
				name, _, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
				got = append(got, name)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("-print exports %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRenamedVariables: the original's variables that are set but no
// longer read give one warning line naming their replacements, unless
// the setting was given another way; clients' variables are left alone.
func TestRenamedVariables(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		flags    []string
		env      []string
		want     string // the warning line, "" for none
		wantNone []string
	}{
		{
			name: "each not given another way is named",
			env:  []string{"MACHINE=" + machine, "SERVICE=ndt/ndt7", "ENV_NAME=X", "SERVICE_URL=true", "SERVICE_URL_KEY_NAME=wss:///ndt/v7/download"},
			want: "monitoring-token: warning: SERVICE, ENV_NAME, SERVICE_URL, SERVICE_URL_KEY_NAME set but not read (the original monitoring-token's names); use MONITORING_TOKEN_SERVICE, MONITORING_TOKEN_ENV_NAME, MONITORING_TOKEN_SERVICE_URL, MONITORING_TOKEN_SERVICE_URL_KEY_NAME\n",
		},
		{
			name:  "given by flag or variable",
			flags: []string{"-service=ndt/ndt7", "-env-name=SERVICE_URL"},
			env:   []string{"SERVICE=ndt/ndt7", "ENV_NAME=X", "SERVICE_URL=false", "MONITORING_TOKEN_SERVICE_URL=true"},
		},
		{name: "a client's variable", env: []string{"SERVICE_URL=wss://example.org/ndt/v7/download"}},
		{
			name: "the original's TIMEOUT",
			env:  []string{"TIMEOUT=30s"},
			want: "monitoring-token: warning: TIMEOUT set but not read (the original monitoring-token's names); use MONITORING_TOKEN_TIMEOUT\n",
		},
		{name: "TIMEOUT given by flag", flags: []string{"-timeout=30s"}, env: []string{"TIMEOUT=30s"}},
		{name: "not reading the environment", flags: []string{"-read-env=false"}, env: []string{"SERVICE=ndt/ndt7", "SERVICE_URL=false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r := envOf(t, f, tt.env, "", f.flags(tt.flags...)...)
			if r.status != 0 || r.stderr != tt.want {
				t.Errorf("status %d stderr %q; want 0 and %q", r.status, r.stderr, tt.want)
			}
		})
	}
}

// TestFlagsFromTheEnvironmentWithoutEffect: a flag from the environment that
// has no effect with the others is ignored (and debug says so); on the
// command line it is refused, naming where the other value came from.
func TestFlagsFromTheEnvironmentWithoutEffect(t *testing.T) {
	f := newFixture(t)
	cacheDir := filepath.Join(f.dir, "cache")
	t.Run("ignored from the environment", func(t *testing.T) {
		env := []string{"MONITORING_TOKEN_KILL_AFTER=1s", "MONITORING_TOKEN_CACHE_DIR=" + cacheDir, "MONITORING_TOKEN_CACHE_TTL=1m"}
		r := runBinary(t, env, f.flags("-print", "-logx.debug")...)
		if r.status != 0 {
			t.Fatalf("status %d, stderr %q", r.status, r.stderr)
		}
		for _, want := range []string{
			"MONITORING_TOKEN_KILL_AFTER (-kill-after has no effect with -print: no command runs)",
			"MONITORING_TOKEN_CACHE_DIR (-cache-dir has no effect with -print: no command runs)",
			"MONITORING_TOKEN_CACHE_TTL (-cache-ttl has no effect without -cache-dir)",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("debug log lacks %q:\n%s", want, r.stderr)
			}
		}
		if _, err := os.Stat(cacheDir); err == nil {
			t.Errorf("the ignored -cache-dir %s was used", cacheDir)
		}
	})
	t.Run("export from the environment, export-all given", func(t *testing.T) {
		vars, r := envOf(t, f, []string{"MONITORING_TOKEN_EXPORT=DL=wss:///ndt/v7/download"}, "", f.flags("-export-all=P")...)
		if r.status != 0 || vars["DL"] != "" || vars["P_WSS_NDT_V7_DOWNLOAD"] == "" {
			t.Errorf("status %d stderr %q, DL %q; want -export-all's variables alone", r.status, r.stderr, token.Redact(vars["DL"]))
		}
	})
	refused := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{name: "command line against the environment's -print", args: f.flags("-kill-after=1s"), env: []string{"MONITORING_TOKEN_PRINT=true"}, want: "-kill-after has no effect with -print (from MONITORING_TOKEN_PRINT): no command runs; remove it"},
		{name: "both exports from the environment", args: f.flags("--", "true"), env: []string{"MONITORING_TOKEN_EXPORT=A=x", "MONITORING_TOKEN_EXPORT_ALL=P"}, want: "give -export (from MONITORING_TOKEN_EXPORT) or -export-all (from MONITORING_TOKEN_EXPORT_ALL), not both"},
		{name: "a bad machine from the environment", args: []string{"-locate-url=" + f.emu.URL, "-monitoring-signer-key=" + f.keyPath, "--", "true"}, env: []string{"MONITORING_TOKEN_MACHINE=nonsense"}, want: `-machine (from MONITORING_TOKEN_MACHINE) "nonsense" is not an M-Lab machine name`},
		{name: "metrics on stdout with -print", args: f.flags("-print", "-metrics-file=-"), want: "-metrics-file has no effect with -print: no command runs"},
		{name: "the token in ndt7's default SERVICE_URL", args: f.flags("-token-env-name=SERVICE_URL", "--", "true"), want: "the default for ndt/ndt7 and -token-env-name both name SERVICE_URL"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, tt.env, tt.args...)
			if r.status != statusFailed || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("status %d stderr %q; want %d and %q", r.status, r.stderr, statusFailed, tt.want)
			}
		})
	}
}

// TestTokenNameTakenByExportAll: -token-env-name naming a variable that
// -export-all derives is refused once locate's answer shows the clash; the
// command does not run.
func TestTokenNameTakenByExportAll(t *testing.T) {
	f := newFixture(t)
	out, command := f.saveVar("P_WSS_NDT_V7_DOWNLOAD")
	r := runBinary(t, nil, append(f.flags("-export-all=P", "-token-env-name=P_WSS_NDT_V7_DOWNLOAD"), command...)...)
	want := `-token-env-name P_WSS_NDT_V7_DOWNLOAD is also the name -export-all makes for locate's key "wss:///ndt/v7/download"; choose another name (see monitoring-token -h)`
	if r.status != statusFailed || !strings.Contains(r.stderr, want) {
		t.Errorf("status %d stderr %q; want %d and %q", r.status, r.stderr, statusFailed, want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("the command ran")
	}
}

// TestHelpSaysEachThingOnce: -h names an argument once and a default once,
// and shows the defaults per service.
func TestHelpSaysEachThingOnce(t *testing.T) {
	r := runBinary(t, nil, "-h")
	if r.status != 0 {
		t.Fatalf("-h: status %d", r.status)
	}
	for line := range strings.Lines(r.stdout) {
		if strings.Count(line, "(default") > 1 || strings.Contains(line, "0: off") || strings.Contains(line, "NAME=KEY:") {
			t.Errorf("-h says a thing twice: %q", line)
		}
	}
	for _, want := range []string{
		"  -export NAME=KEY  [MONITORING_TOKEN_EXPORT]\n        export the answer's URL for KEY under NAME",
		"(needs -cache-dir) (default 0s: off)\n",
		"  ndt/ndt7     wss:///ndt/v7/download -> MONITORING_URL and SERVICE_URL",
		"  wehe/replay  the locate request URL -> MONITORING_URL",
		"  -read-env\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("-h lacks %q", want)
		}
	}
}
