package main

import (
	"net/http"
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monitoring-token/monitoring-token/token"
)

// envOf runs the binary with env and a command that saves its environment, and
// returns the variables whose names start with prefix.
func envOf(t *testing.T, f *fixture, env []string, prefix string, args ...string) (map[string]string, result) {
	t.Helper()
	path := filepath.Join(f.dir, "env")
	os.Remove(path)
	r := runBinary(t, env, append(args, "--", "sh", "-c", "env > "+path)...)
	vars := map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, value, ok := strings.Cut(line, "="); ok && strings.HasPrefix(name, prefix) {
				vars[name] = value
			}
		}
	}
	return vars, r
}

// pathOf returns the path of a URL, failing the test when it is not one.
func pathOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Query().Get("access_token") == "" {
		t.Fatalf("%q is not a service URL with a token", token.Redact(raw))
	}
	return u.Scheme + "://" + u.Path
}

func TestExport(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		flags []string
		want  map[string]string // variable → scheme://path of its URL
	}{
		{
			name:  "download and upload",
			flags: []string{"-export", "DL=wss:///ndt/v7/download", "-export", "UL=wss:///ndt/v7/upload"},
			want:  map[string]string{"DL": "wss:///ndt/v7/download", "UL": "wss:///ndt/v7/upload"},
		},
		{
			name:  "several in one variable",
			flags: []string{"-export=DL=ws:///ndt/v7/download UL=ws:///ndt/v7/upload"},
			want:  map[string]string{"DL": "ws:///ndt/v7/download", "UL": "ws:///ndt/v7/upload"},
		},
		{
			name:  "export all",
			flags: []string{"-export-all=NDT"},
			want: map[string]string{
				"NDT_WSS_NDT_V7_DOWNLOAD": "wss:///ndt/v7/download", "NDT_WSS_NDT_V7_UPLOAD": "wss:///ndt/v7/upload",
				"NDT_WS_NDT_V7_DOWNLOAD": "ws:///ndt/v7/download", "NDT_WS_NDT_V7_UPLOAD": "ws:///ndt/v7/upload",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars, r := envOf(t, f, nil, "", f.flags(tt.flags...)...)
			if r.status != 0 {
				t.Fatalf("status %d stderr %q", r.status, r.stderr)
			}
			for name, want := range tt.want {
				if got := pathOf(t, vars[name]); got != want {
					t.Errorf("%s is a URL for %s, want %s", name, got, want)
				}
			}
			if _, ok := vars["MONITORING_URL"]; ok {
				t.Errorf("MONITORING_URL is set too; with -export only the exports are")
			}
		})
	}
}

func TestExportErrors(t *testing.T) {
	tests := []struct {
		name   string
		flags  []string
		answer string // injected as locate's answer, when set
		want   string
		asked  bool // whether locate was asked before the refusal
	}{
		{name: "key not in the answer", flags: []string{"-export=DL=wss:///ndt/v7/download", "-export=X=wss:///nope"}, want: `"wss:///nope"; keys present: "ws:///ndt/v7/download", "ws:///ndt/v7/upload", "wss:///ndt/v7/download", "wss:///ndt/v7/upload"`, asked: true},
		{name: "one name twice", flags: []string{"-export=DL=wss:///ndt/v7/download", "-export=DL=wss:///ndt/v7/upload"}, want: "DL is exported twice"},
		{name: "bad name", flags: []string{"-export=1DL=wss:///ndt/v7/download"}, want: `"1DL" is not a valid environment variable name`},
		{name: "no key", flags: []string{"-export=DL"}, want: `"DL" is not NAME=KEY`},
		{name: "same name as the token", flags: []string{"-export=T=wss:///ndt/v7/download", "-token-env-name=T"}, want: "-export and -token-env-name both name T"},
		{name: "bad prefix", flags: []string{"-export-all=9P"}, want: `-export-all "9P" is not a valid environment variable name`},
		{
			name:   "keys that make one name",
			flags:  []string{"-export-all=P"},
			answer: `{"access_token":"x","results":[{"machine":"m","urls":{"wss:///a-b":"wss://h/a-b?access_token=x","wss:///a_b":"wss://h/a_b?access_token=x"}}]}`,
			want:   `keys "wss:///a-b" and "wss:///a_b" both make the name P_WSS_A_B`,
			asked:  true,
		},
		{
			name:   "key without letters",
			flags:  []string{"-export-all=P"},
			answer: `{"access_token":"x","results":[{"machine":"m","urls":{":///":"wss://h/?access_token=x"}}]}`,
			want:   `a key ":///" from which no variable name can be made`,
			asked:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.answer != "" {
				f.emu.Inject(status(http.StatusOK, "application/json", tt.answer))
			}
			ran := filepath.Join(f.dir, "ran")
			r := runBinary(t, nil, append(f.flags(tt.flags...), "--", "touch", ran)...)
			if r.status != statusFailed || !strings.Contains(r.stderr, tt.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("status %d stderr %q; want %d and one line with %q", r.status, r.stderr, statusFailed, tt.want)
			}
			if _, err := os.Stat(ran); err == nil {
				t.Errorf("the command ran")
			}
			if asked := f.emu.Requests() > 0; asked != tt.asked {
				t.Errorf("locate asked: %v, want %v", asked, tt.asked)
			}
		})
	}
}

// TestPrintExports: -print prints every exported variable, and a shell
// that evaluates the lines gets them.
func TestPrintExports(t *testing.T) {
	f := newFixture(t)
	r := runBinary(t, nil, f.flags("-print", "-export=DL=wss:///ndt/v7/download", "-export=UL=wss:///ndt/v7/upload", "-token-env-name=T")...)
	if r.status != 0 {
		t.Fatalf("status %d stderr %q", r.status, r.stderr)
	}
	got, err := osexec.Command("sh", "-c", r.stdout+`printf '%s\n%s\n%s' "$DL" "$UL" "$T"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(got), "\n")
	if len(lines) != 3 || pathOf(t, lines[0]) != "wss:///ndt/v7/download" || pathOf(t, lines[1]) != "wss:///ndt/v7/upload" || lines[2] == "" {
		t.Errorf("after eval: %q", token.Redact(string(got)))
	}
	if n := strings.Count(r.stdout, "export "); n != 3 {
		t.Errorf("%d export lines, want 3:\n%s", n, token.Redact(r.stdout))
	}
}

func TestDerivedName(t *testing.T) {
	tests := []struct{ key, want string }{
		{"wss:///ndt/v7/upload", "P_WSS_NDT_V7_UPLOAD"},
		{"wss://:4443/v0/envelope/access", "P_WSS_4443_V0_ENVELOPE_ACCESS"},
		{"https:///negotiate/dash", "P_HTTPS_NEGOTIATE_DASH"},
		{"--A--b--", "P_A_B"},
		{"é", ""},
	}
	for _, tt := range tests {
		got, ok := derivedName("P", tt.key)
		if tt.want == "" && ok || tt.want != "" && got != tt.want {
			t.Errorf("derivedName(P, %q) = %q, %v; want %q", tt.key, got, ok, tt.want)
		}
		if ok && !validEnvName(got) {
			t.Errorf("derivedName(P, %q) = %q is not a valid name", tt.key, got)
		}
	}
}
