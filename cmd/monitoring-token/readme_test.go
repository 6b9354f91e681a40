package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"context"

	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/token"
)

// The README's examples are run here with the built binaries, the locate
// emulator and stand-ins for the clients (this test binary, by another
// name) that check they were handed a usable URL for the machine. Each
// fenced sh, cron or yaml block carries a marker in an HTML comment above
// it: "test: NAME" (run here), "e2e: NAME" (run here and, with the real
// client and server, by the e2e module) or "not run: WHY".

// readmeBlock is one fenced block of README.md.
type readmeBlock struct {
	lang, text string
	markers    []string // the HTML comments right above it
	line       int
}

var markerRE = regexp.MustCompile(`^\s*<!--\s*(.*?)\s*-->\s*$`)

// readmeBlocks returns the fenced blocks of README.md.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks  []readmeBlock
		markers []string
		cur     *readmeBlock
		body    strings.Builder
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur != nil && trimmed == "```":
			cur.text = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			// Blocks inside list items are indented.
			body.WriteString(strings.TrimPrefix(line, "   ") + "\n")
		case strings.HasPrefix(trimmed, "```"):
			cur = &readmeBlock{lang: strings.TrimPrefix(trimmed, "```"), markers: markers, line: n}
			body.Reset()
			markers = nil
		case markerRE.MatchString(line):
			markers = append(markers, markerRE.FindStringSubmatch(line)[1])
		case trimmed != "":
			markers = nil
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// testName returns the block's test or e2e name, or "" when it is not run.
func (b readmeBlock) testName() string {
	for _, m := range b.markers {
		for _, prefix := range []string{"test:", "e2e:"} {
			if name, ok := strings.CutPrefix(m, prefix); ok {
				return strings.TrimSpace(name)
			}
		}
	}
	return ""
}

func TestREADMEBlocksAreMarked(t *testing.T) {
	blocks := readmeBlocks(t)
	if len(blocks) < 10 {
		t.Fatalf("found %d blocks in README.md; the parser is broken", len(blocks))
	}
	for _, b := range blocks {
		if b.lang != "sh" && b.lang != "cron" && b.lang != "yaml" {
			continue
		}
		notRun := false
		for _, m := range b.markers {
			notRun = notRun || strings.HasPrefix(m, "not run")
		}
		if b.testName() == "" && !notRun {
			t.Errorf("README.md:%d: %s block has no test, e2e or not-run marker", b.line, b.lang)
		}
	}
}

// readmeRun is the set-up the README's examples run in.
type readmeRun struct {
	f        *fixture
	dir      string // the working directory and $tmp
	log      string // where the client stand-ins write what they saw
	env      []string
	replacer *strings.Replacer
}

func newReadmeRun(t *testing.T) *readmeRun {
	t.Helper()
	f := newFixture(t)
	dir := t.TempDir()
	stubs := filepath.Join(dir, "stubs")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(stubs, 0o755); err != nil {
		t.Fatal(err)
	}
	for name := range clientStubs {
		if err := os.Symlink(self, filepath.Join(stubs, name)); err != nil {
			t.Fatal(err)
		}
	}
	// M-Lab's wrapper as far as the exit status goes: any failure is 2.
	wrapper := "#!/bin/sh\nshift\n\"$@\" || exit 2\n"
	if err := os.WriteFile(filepath.Join(stubs, "cache_exit_code.sh"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &readmeRun{f: f, dir: dir, log: filepath.Join(dir, "clients.log")}
	r.env = []string{
		"PATH=" + stubs + ":" + binDir + ":" + os.Getenv("PATH"),
		"HOME=" + dir,
		"LOCATE_URL=" + f.emu.URL,
		"MONITORING_SIGNER_KEY=" + f.keyPath,
		"STUB_LOG=" + r.log,
		"TARGET=" + machine,
		"tmp=" + dir,
		// The go command in the examples shares the test's caches.
		"GOCACHE=" + goEnv(t, "GOCACHE"),
		"GOMODCACHE=" + goEnv(t, "GOMODCACHE"),
		"GOFLAGS=-buildvcs=false",
	}
	r.replacer = strings.NewReplacer(
		"/secrets/monitoring.jwk", f.keyPath,
		"/etc/monitoring/monitoring.jwk", f.keyPath,
		"-monitoring-signer-key=key.jwk", "-monitoring-signer-key="+f.keyPath,
		"/var/cache/monitoring-token", filepath.Join(dir, "cache"),
		"/var/lib/node_exporter/textfile/", dir+"/",
		"/usr/local/bin/monitoring-token", binary,
	)
	return r
}

// run runs a command line (sh syntax) in the run's directory, or in dir.
func (r *readmeRun) run(t *testing.T, dir, line string, extraEnv ...string) result {
	t.Helper()
	if dir == "" {
		dir = r.dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := osexec.CommandContext(ctx, "bash", "-ec", r.replacer.Replace(line))
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, r.env...), extraEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil && !errors.As(err, new(*osexec.ExitError)) {
		t.Fatalf("%s: %v", line, err)
	}
	status, sig := statusOf(cmd.ProcessState)
	return result{status: status, signal: sig, stdout: string(out)}
}

// clients returns what the client stand-ins saw, one line per run.
func (r *readmeRun) clients(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(r.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
}

// wantClients checks the stand-ins' log against want, e.g.
// "ndt7-client:ok:/ndt/v7/download".
func (r *readmeRun) wantClients(t *testing.T, want ...string) {
	t.Helper()
	got := r.clients(t)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("clients saw %q, want %q", got, want)
	}
}

// cronCommand returns the environment and the command of a crontab: the
// job's command without its five schedule fields and without what follows
// "||" (what cron does with a failure).
func cronCommand(text string) (env []string, line string) {
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		fields := strings.Fields(l)
		if len(fields) == 1 && strings.Contains(l, "=") {
			env = append(env, l)
			continue
		}
		line = strings.Join(fields[5:], " ")
		line, _, _ = strings.Cut(line, " || ")
	}
	return env, line
}

// yamlCommand returns the command line of a script_exporter script.
func yamlCommand(text string) string {
	var words []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if c, ok := strings.CutPrefix(l, "command: "); ok {
			words = append(words, c)
		} else if a, ok := strings.CutPrefix(l, "- "); ok && len(words) > 0 {
			words = append(words, shellQuote(a))
		}
	}
	return strings.Join(words, " ")
}

func TestREADMEExamples(t *testing.T) {
	download, upload := "ndt7-client:ok:/ndt/v7/download", "ndt7-client:ok:/ndt/v7/upload"
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]func(t *testing.T, r *readmeRun, b readmeBlock){
		"install": func(t *testing.T, r *readmeRun, b readmeBlock) {
			gobin := filepath.Join(r.dir, "gobin")
			res := r.run(t, repo, b.text, "GOBIN="+gobin)
			for _, cmd := range []string{"monitoring-token", "monitoring-keygen", "locate-emulator"} {
				if _, err := os.Stat(filepath.Join(gobin, cmd)); err != nil || res.status != 0 {
					t.Errorf("status %d, %s not installed (%v): %s", res.status, cmd, err, res.stdout)
				}
			}
		},
		"keygen": func(t *testing.T, r *readmeRun, b readmeBlock) {
			res := r.run(t, "", b.text)
			fi, err := os.Stat(filepath.Join(r.dir, "monitoring.jwk"))
			if res.status != 0 || err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("status %d, private key %v (%v): %s", res.status, fi, err, res.stdout)
			}
			if _, err := os.Stat(filepath.Join(r.dir, "monitoring.pub.jwk")); err != nil {
				t.Error(err)
			}
		},
		"first-probe":     runsClients(download),
		"print":           runsClients(download),
		"cron":            runsClients(download),
		"script_exporter": runsClients(download),
		"full-probe":      runsClients(download, upload),
		"production":      runsClients("wehe-client.sh:ok", download),
		"development":     nil,
		"ci-steps":        nil,
		"ci":              nil,
		"script_exporter_cache": func(t *testing.T, r *readmeRun, b readmeBlock) {
			line := yamlCommand(b.text)
			for i := 0; i < 2; i++ {
				if res := r.run(t, "", line); res.status != 0 {
					t.Fatalf("run %d: status %d: %s", i+1, res.status, res.stdout)
				}
			}
			// The second scrape is a cache hit: the client ran once.
			r.wantClients(t, download)
		},
		"production-original": func(t *testing.T, r *readmeRun, b readmeBlock) {
			lines := strings.Split(strings.TrimSpace(b.text), "\n")
			// The wehe line as it was works: wehe/replay's default is
			// the locate request URL that wehe-cmdline fetches.
			if res := r.run(t, "", lines[0]); res.status != 0 {
				t.Errorf("original wehe line: status %d: %s", res.status, res.stdout)
			}
			if res := r.run(t, "", lines[1]); res.status != 0 {
				t.Errorf("original ndt7 line: status %d: %s", res.status, res.stdout)
			}
			r.wantClients(t, "wehe-client.sh:ok", download)
		},
	}
	checks["alerts"] = func(t *testing.T, r *readmeRun, b readmeBlock) {
		path := filepath.Join(r.dir, "probe.prom")
		if res := r.run(t, "", "monitoring-token -machine="+machine+" -metrics-file="+path+" -- true"); res.status != 0 {
			t.Fatalf("status %d: %s", res.status, res.stdout)
		}
		written := probeMetrics(t, path)
		for _, name := range regexp.MustCompile(`monitoring_probe_\w+`).FindAllString(b.text, -1) {
			if _, ok := written[name]; !ok {
				t.Errorf("the rules use %s, which monitoring-token does not write", name)
			}
		}
	}
	checks["ci"] = func(t *testing.T, r *readmeRun, b readmeBlock) {
		probe := filepath.Join(r.dir, "my-probe.sh")
		if err := os.WriteFile(probe, []byte("#!/bin/sh\nexec ndt7-client -service-url=\"$MONITORING_URL\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(r.dir, "bin") + "/"
		text := strings.NewReplacer("bin/", bin, "./my-probe.sh", probe).Replace(b.text)
		if res := r.run(t, repo, text); res.status != 0 {
			t.Fatalf("status %d: %s", res.status, res.stdout)
		}
		r.wantClients(t, download)
	}
	checks["ci-local-server"] = func(t *testing.T, r *readmeRun, b readmeBlock) {
		text := strings.ReplaceAll(b.text, "bin/", binDir+"/")
		res := r.run(t, "", text, "LOCATE_URL=", "MONITORING_SIGNER_KEY=")
		_, quoted, _ := strings.Cut(res.stdout, "export MONITORING_URL=")
		quoted, _, _ = strings.Cut(quoted, "\n") // ndt7's SERVICE_URL follows
		u, err := url.Parse(strings.Trim(strings.TrimSpace(quoted), "'"))
		if res.status != 0 || err != nil || u.Host != "127.0.0.1:4443" || u.Path != "/ndt/v7/download" || u.Query().Get("early_exit") != "250" {
			t.Fatalf("status %d, output %q", res.status, token.Redact(res.stdout))
		}
		if err := checkLocateToken(u.Query().Get(locate.AccessTokenParam)); err != nil {
			t.Error(err)
		}
	}
	checks["ci-steps"] = func(t *testing.T, r *readmeRun, b readmeBlock) {
		text := strings.ReplaceAll(b.text, "bin/", binDir+"/")
		res := r.run(t, "", text, "LOCATE_URL=", "MONITORING_SIGNER_KEY=")
		if res.status != 0 || !strings.Contains(res.stdout, "export MONITORING_URL='wss://ndt-"+machine+"/ndt/v7/download?access_token=") {
			t.Errorf("status %d, output %q", res.status, token.Redact(res.stdout))
		}
	}
	for _, b := range readmeBlocks(t) {
		name := b.testName()
		if name == "" {
			continue
		}
		check, known := checks[name]
		if !known {
			t.Errorf("README.md:%d: no test knows the block %q", b.line, name)
			continue
		}
		if check == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			check(t, newReadmeRun(t), b)
		})
	}
}

// runsClients is a check that runs each command line of a block (a
// crontab's job, a script_exporter script, or sh lines) and wants the
// clients to have seen exactly want.
func runsClients(want ...string) func(t *testing.T, r *readmeRun, b readmeBlock) {
	return func(t *testing.T, r *readmeRun, b readmeBlock) {
		var env []string
		line := b.text
		switch b.lang {
		case "cron":
			env, line = cronCommand(b.text)
			for i := range env {
				env[i] = r.replacer.Replace(env[i])
			}
		case "yaml":
			line = yamlCommand(b.text)
		}
		if res := r.run(t, "", line, env...); res.status != 0 {
			t.Fatalf("status %d: %s", res.status, token.Redact(res.stdout))
		}
		r.wantClients(t, want...)
	}
}

// goEnv returns a go env setting.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	goEnvOnce.Do(func() {
		out, err := osexec.Command("go", "env", "GOCACHE", "GOMODCACHE").Output()
		if err == nil {
			lines := strings.Split(string(out), "\n")
			goEnvs = map[string]string{"GOCACHE": lines[0], "GOMODCACHE": lines[1]}
		}
	})
	if goEnvs[name] == "" {
		t.Fatalf("go env %s is not known", name)
	}
	return goEnvs[name]
}

var (
	goEnvOnce sync.Once
	goEnvs    map[string]string
)

// clientStubs stand in for the clients in the README's examples: each
// checks the URL it was given as the real client would use it, appends
// "NAME:ok:PATH" or "NAME:bad" to $STUB_LOG and exits 0 or 1.
var clientStubs = map[string]func() int{
	"ndt7-client":    ndt7Stub,
	"wehe-client.sh": weheStub,
}

// ndt7Stub takes its URL as ndt7-client does: -service-url, else
// SERVICE_URL. Without one the real client would test a server of public
// locate's choosing.
func ndt7Stub() int {
	raw := os.Getenv("SERVICE_URL")
	for _, a := range os.Args[1:] {
		if v, ok := strings.CutPrefix(a, "-service-url="); ok {
			raw = v
		}
	}
	u, err := url.Parse(raw)
	if err == nil && (u.Scheme != "wss" || u.Host != "ndt-"+machine) {
		err = fmt.Errorf("URL %q is not for ndt on %s", u.Redacted(), machine)
	}
	if err == nil {
		err = checkLocateToken(u.Query().Get(locate.AccessTokenParam))
	}
	if err != nil {
		return stubResult("ndt7-client", "", err)
	}
	return stubResult("ndt7-client", u.Path, nil)
}

// weheStub fetches MONITORING_URL as wehe-cmdline does and reads the
// envelope URL from the answer's results.
func weheStub() int {
	resp, err := http.Get(os.Getenv("MONITORING_URL"))
	if err != nil {
		return stubResult("wehe-client.sh", "", errors.New("fetch failed"))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a, err := locate.ParseAnswer(resp.StatusCode, resp.Header.Get("Content-Type"), body)
	if err == nil && (len(a.Results) == 0 || a.Results[0].URLs["wss://:4443/v0/envelope/access"] == "") {
		err = errors.New("no envelope URL in results")
	}
	return stubResult("wehe-client.sh", "", err)
}

// checkLocateToken checks that tok is locate's token for the machine.
func checkLocateToken(tok string) error {
	d := token.Describe(tok)
	if !strings.Contains(d, `iss="locate"`) || !strings.Contains(d, `"`+machine+`"`) {
		return fmt.Errorf("not locate's token for %s: %s", machine, d)
	}
	return nil
}

func stubResult(name, path string, err error) int {
	line := name + ":ok"
	if path != "" {
		line += ":" + path
	}
	if err != nil {
		line = name + ":bad"
		fmt.Fprintf(os.Stderr, "%s stand-in: %v\n", name, err)
	}
	if f, ferr := os.OpenFile(os.Getenv("STUB_LOG"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); ferr == nil {
		fmt.Fprintln(f, line)
		f.Close()
	}
	if err != nil {
		return 1
	}
	return 0
}
