package main

import (
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/monitoring-token/monitoring-token/token"
)

// TestVariableNames: monitoring-token reads LOCATE_URL,
// MONITORING_SIGNER_KEY and LOGX_DEBUG, and MONITORING_TOKEN_<FLAG> for
// every flag, and no other names: a client's SERVICE_URL or TIMEOUT in the
// environment is not its configuration.
func TestVariableNames(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name       string
		env        []string
		flags      []string
		wantStatus int
		wantVar    string // the variable that holds the service URL
		wantHost   string
	}{
		{
			name:     "shared names and prefixed ones",
			env:      []string{"LOCATE_URL=" + f.emu.URL, "MONITORING_SIGNER_KEY=" + f.keyPath, "MONITORING_TOKEN_MACHINE=" + machine, "MONITORING_TOKEN_SERVICE=wehe/replay", "MONITORING_TOKEN_SERVICE_URL=true"},
			wantVar:  "MONITORING_URL",
			wantHost: "wehe-" + machine + ":4443",
		},
		{
			name:     "prefixed names for every flag",
			env:      []string{"MONITORING_TOKEN_LOCATE_URL=" + f.emu.URL, "MONITORING_TOKEN_MONITORING_SIGNER_KEY=" + f.keyPath, "MONITORING_TOKEN_MACHINE=" + machine, "MONITORING_TOKEN_ENV_NAME=SERVICE_URL"},
			wantVar:  "SERVICE_URL",
			wantHost: "ndt-" + machine,
		},
		{
			name:     "prefixed name wins over the shared one",
			env:      []string{"MONITORING_TOKEN_LOCATE_URL=" + f.emu.URL, "LOCATE_URL=http://127.0.0.1:1/v2/platform/monitoring/", "MONITORING_SIGNER_KEY=" + f.keyPath, "MONITORING_TOKEN_MACHINE=" + machine},
			wantVar:  "MONITORING_URL",
			wantHost: "ndt-" + machine,
		},
		{
			name:     "clients' variables are not read",
			env:      []string{"SERVICE_URL=https://example.org/ndt", "TIMEOUT=30", "MACHINE=nonsense", "SERVICE=nonsense", "ENV_NAME=1BAD", "PRINT=true"},
			flags:    f.flags(),
			wantVar:  "MONITORING_URL",
			wantHost: "ndt-" + machine,
		},
		{
			name:       "a bad prefixed value is refused",
			env:        []string{"MONITORING_TOKEN_TIMEOUT=30"},
			flags:      f.flags(),
			wantStatus: statusFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, command := f.saveVar(tt.wantVar)
			os.Remove(out)
			r := runBinary(t, tt.env, append(tt.flags, command...)...)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d; stderr %q", r.status, tt.wantStatus, r.stderr)
			}
			if tt.wantStatus != 0 {
				if !strings.Contains(r.stderr, "MONITORING_TOKEN_TIMEOUT") {
					t.Errorf("stderr %q does not name the variable", r.stderr)
				}
				return
			}
			u, err := url.Parse(readFile(t, out))
			if err != nil || u.Host != tt.wantHost {
				t.Errorf("%s = %q, want a URL for %s", tt.wantVar, token.Redact(readFile(t, out)), tt.wantHost)
			}
		})
	}
}

// TestCommandEnvironment: the command does not inherit monitoring-token's
// configuration (the key's path included), keeps LOGX_DEBUG and everything
// else, and gets the exported variables even when one has the name of a
// configuration variable.
func TestCommandEnvironment(t *testing.T) {
	f := newFixture(t)
	envFile := filepath.Join(f.dir, "env")
	env := []string{
		"LOCATE_URL=" + f.emu.URL,
		"MONITORING_SIGNER_KEY=" + f.keyPath,
		"MONITORING_TOKEN_MACHINE=" + machine,
		"MONITORING_TOKEN_TIMEOUT=", // empty: unset, yet still not passed on
		"MONITORING_TOKEN_SERVICE_URL_KEY_NAME=wss:///ndt/v7/download",
		"LOGX_DEBUG=false",
		"SERVICE_URL=stale",
		"UNRELATED=kept",
	}
	r := runBinary(t, env, "-env-name=SERVICE_URL", "-logx.debug", "--", "sh", "-c", "env > "+envFile)
	if r.status != 0 {
		t.Fatalf("status %d, stderr %q", r.status, r.stderr)
	}
	got := map[string]string{}
	for _, line := range strings.Split(readFile(t, envFile), "\n") {
		if name, value, ok := strings.Cut(line, "="); ok {
			got[name] = value
		}
	}
	var leaked []string
	for name := range got {
		if strings.HasPrefix(name, "MONITORING_TOKEN_") || name == "LOCATE_URL" || name == "MONITORING_SIGNER_KEY" {
			leaked = append(leaked, name)
		}
	}
	sort.Strings(leaked)
	if len(leaked) > 0 {
		t.Errorf("the command inherited configuration: %v", leaked)
	}
	if got["LOGX_DEBUG"] != "false" || got["UNRELATED"] != "kept" {
		t.Errorf("LOGX_DEBUG=%q UNRELATED=%q; both should be passed on", got["LOGX_DEBUG"], got["UNRELATED"])
	}
	if u, err := url.Parse(got["SERVICE_URL"]); err != nil || u.Host != "ndt-"+machine {
		t.Errorf("SERVICE_URL = %q, want the service URL", token.Redact(got["SERVICE_URL"]))
	}
	want := "not passed to the command: LOCATE_URL, MONITORING_SIGNER_KEY, MONITORING_TOKEN_MACHINE, MONITORING_TOKEN_SERVICE_URL_KEY_NAME, MONITORING_TOKEN_TIMEOUT"
	if !strings.Contains(r.stderr, want) {
		t.Errorf("debug log lacks %q:\n%s", want, r.stderr)
	}
}

// TestMachineNames: spellings that name the machine are rewritten to the
// name the server knows; others are refused before any request.
func TestMachineNames(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		given string
		want  string // the token's sub, or "" when refused
		hint  string // part of the refusal
	}{
		{given: machine, want: machine},
		{given: "ndt-" + machine, want: machine},
		{given: "MLAB1-LGA01.MLAB-OTI.Measurement-Lab.org", want: machine},
		{given: machine + "-d9h6", want: machine},
		{given: "ndt-" + machine + "-d9h6", want: machine},
		{given: machine + ".", want: machine},
		{given: "ndt-lga3356-c0a80001.rnp.autojoin.measurement-lab.org", want: "ndt-lga3356-c0a80001.rnp.autojoin.measurement-lab.org"},
		{given: "NDT-LGA3356-C0A80001.rnp.autojoin.measurement-lab.org", want: "ndt-lga3356-c0a80001.rnp.autojoin.measurement-lab.org"},
		{given: "mlab1.lga01.measurement-lab.org", hint: "v1) name that locate does not know; use the v2 name, e.g. " + machine},
		{given: "mlab1-lga01.measurement-lab.org", hint: "e.g. " + machine},
		{given: "third-party", hint: "not an M-Lab machine name"},
		{given: "lga01.example.com", hint: "not an M-Lab machine name"},
	}
	for _, tt := range tests {
		t.Run(tt.given, func(t *testing.T) {
			before := f.emu.Requests()
			r := runBinary(t, nil, "-locate-url="+f.emu.URL, "-monitoring-signer-key="+f.keyPath, "-machine="+tt.given, "-service-url=false", "-env-name=MONITORING_URL", "-print")
			if tt.want == "" {
				if r.status != statusFailed || !strings.Contains(r.stderr, tt.hint) {
					t.Errorf("status %d stderr %q; want %d and %q", r.status, r.stderr, statusFailed, tt.hint)
				}
				if f.emu.Requests() != before {
					t.Errorf("a refused name reached locate")
				}
				return
			}
			if r.status != 0 {
				t.Fatalf("status %d stderr %q", r.status, r.stderr)
			}
			if d := token.Describe(jwtPattern.FindString(r.stdout)); !strings.Contains(d, `sub="`+tt.want+`"`) {
				t.Errorf("token %s; want sub %q", d, tt.want)
			}
		})
	}
}

// TestShowOutput: -show-output shows the command's output without the
// debug log; the failure line then does not repeat it.
func TestShowOutput(t *testing.T) {
	f := newFixture(t)
	r := runBinary(t, nil, append(f.flags("-show-output"), "--", "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3")...)
	if r.status != 3 || r.stdout != "to-stdout\n" || r.stderr != "to-stderr\nmonitoring-token: sh exited with status 3\n" {
		t.Errorf("status %d stdout %q stderr %q; want 3, the command's output and the status line", r.status, r.stdout, r.stderr)
	}
}

// TestFlagsWithoutEffect: a flag the chosen mode ignores is a usage error.
func TestFlagsWithoutEffect(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{name: "token variable without locate", args: f.flags("-service-url=false", "-token-env-name=T", "--", "true"), want: "-token-env-name has no effect with -service-url=false"},
		{name: "URL key without locate", args: f.flags("-service-url=false", "-service-url-key-name=x", "--", "true"), want: "-service-url-key-name has no effect with -service-url=false"},
		{name: "export without locate", args: f.flags("-service-url=false", "-export=A=x", "--", "true"), want: "-export has no effect with -service-url=false"},
		{name: "kill-after with print", args: f.flags("-print", "-kill-after=1s"), want: "-kill-after has no effect with -print"},
		{name: "show-output with print", args: f.flags("-print", "-show-output"), want: "-show-output has no effect with -print"},
		{name: "env-name with export", args: f.flags("-export=A=x", "-env-name=B", "--", "true"), want: "-env-name has no effect with -export"},
		{name: "key with export-all", args: f.flags("-export-all=P", "-service-url-key-name=x", "--", "true"), want: "-service-url-key-name has no effect with -export"},
		{name: "export and export-all", args: f.flags("-export=A=x", "-export-all=P", "--", "true"), want: "give -export or -export-all, not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, tt.env, tt.args...)
			if r.status != statusFailed || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("status %d stderr %q; want %d and %q", r.status, r.stderr, statusFailed, tt.want)
			}
		})
	}
	if n := f.emu.Requests(); n != 0 {
		t.Errorf("usage errors reached locate %d times", n)
	}
}

// TestWriteErrors: output that cannot be written is a failure, as in
// coreutils env: 125 and one line.
func TestWriteErrors(t *testing.T) {
	f := newFixture(t)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	full.Close()
	for _, args := range [][]string{f.flags("-print"), {"-h"}, {"-version"}} {
		t.Run(args[len(args)-1], func(t *testing.T) {
			r := runBinaryTo(t, "/dev/full", args...)
			if r.status != statusFailed || !strings.Contains(r.stderr, "no space left on device") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("status %d stderr %q; want %d and one line saying the write failed", r.status, r.stderr, statusFailed)
			}
		})
	}
}
