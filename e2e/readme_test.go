package e2e

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/monitoring-token/monitoring-token/internal/docblock"
)

// The docs' examples (README.md and docs/*.md) are tested as written. A
// fenced code block that follows a line
//
//	<!-- e2e: NAME -->
//
// holds examples; what counts as one depends on the block's language:
//
//   - cron: each crontab line; the command is what follows the five
//     schedule fields, up to "||" (what the line does on failure); lines
//     NAME=VALUE set the environment, except PATH: the test's PATH holds
//     the commands wherever the example installed them.
//   - yaml: each script of a script_exporter configuration: v3's command
//     and args, where /bin/sh -c TEXT counts as the shell line TEXT, or
//     the fork's script text.
//   - sh: each shell line (continuation lines joined, a leading exec
//     dropped) whose command is monitoring-token.
//
// The test runs each with its own key, machine and locate, and changes
// nothing else: it replaces the values of -machine, -monitoring-signer-key,
// -locate-url and -cache-dir given to monitoring-token, runs
// monitoring-token from the test's build wherever the example installed
// it, and sets LOCATE_URL and MONITORING_SIGNER_KEY in the environment
// (also when the example sets them). Shell lines run under sh -c, as cron
// and script_exporter run them. Blocks in elsewhere are run by other
// tests.

// readmeExamples are the marked blocks the README must have.
var readmeExamples = []string{"cron", "script_exporter", "script_exporter_full", "full-probe"}

// elsewhere are the marked blocks that other tests run: the blocks of
// "Probing a local server", pasted into two shells by
// TestProbingALocalServerAsDocumented; the ndt-server block, a server's
// command and not an example, is also TestLocalServerCommand's
// (TestLocalServerCommandInDocs).
// TestNodeExporterCommandAsDocumented runs the node_exporter command.
var elsewhere = map[string]bool{localSetupBlock: true, localServerBlock: true, localProbeBlock: true, nodeExporterBlock: true}

// example is one command taken from the README, before substitution.
type example struct {
	block string   // the marker's NAME
	shell string   // a shell command line, run with sh -c; or
	argv  []string // a command and its arguments, run directly
	env   []string // NAME=VALUE lines of a crontab
}

// markedBlock is a fenced code block that follows a marker.
type markedBlock struct {
	name string   // the marker's NAME
	lang string   // the fence's language
	line int      // of the fence that opens the block
	body []string // the lines between the fences
}

// markedBlocks returns the blocks marked <!-- e2e: NAME --> of a Markdown
// text; a name may mark one block only.
func markedBlocks(markdown string) ([]markedBlock, error) {
	all, err := docblock.Parse([]byte(markdown))
	if err != nil {
		return nil, err
	}
	var blocks []markedBlock
	seen := map[string]bool{}
	for _, b := range all {
		kind, name := b.Named()
		if kind != "e2e" {
			continue
		}
		if seen[name] {
			return nil, fmt.Errorf("line %d: a second block marked %q", b.Line, name)
		}
		seen[name] = true
		var body []string
		if b.Text != "" {
			body = strings.Split(strings.TrimSuffix(b.Text, "\n"), "\n")
		}
		blocks = append(blocks, markedBlock{name: name, lang: b.Lang, line: b.Line, body: body})
	}
	return blocks, nil
}

// extractExamples returns the examples of every marked block in a
// Markdown text, by marker name; the blocks run elsewhere have none.
func extractExamples(markdown string) (map[string][]example, error) {
	blocks, err := markedBlocks(markdown)
	if err != nil {
		return nil, err
	}
	found := map[string][]example{}
	for _, b := range blocks {
		if elsewhere[b.name] {
			found[b.name] = nil
			continue
		}
		examples, err := blockExamples(b.name, b.lang, b.body)
		if err != nil {
			return nil, fmt.Errorf("block %q (line %d): %w", b.name, b.line, err)
		}
		if len(examples) == 0 {
			return nil, fmt.Errorf("block %q (line %d) holds no monitoring-token command", b.name, b.line)
		}
		found[b.name] = examples
	}
	return found, nil
}

// blockExamples reads the examples of one block.
func blockExamples(name, lang string, body []string) ([]example, error) {
	switch lang {
	case "cron":
		return cronExamples(name, body)
	case "yaml":
		return scriptExporterExamples(name, body)
	}
	var examples []example
	for _, line := range joinContinuations(body) {
		line = strings.TrimPrefix(line, "exec ")
		if isMonitoringToken(firstWord(line)) {
			examples = append(examples, example{block: name, shell: line})
		}
	}
	return examples, nil
}

// envLine matches a crontab environment setting.
var envLine = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func cronExamples(name string, body []string) ([]example, error) {
	var env []string
	var examples []example
	for _, line := range body {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "PATH="):
			continue
		case envLine.MatchString(line):
			env = append(env, line)
			continue
		}
		// Five schedule fields, or one @-word, then the command.
		n := 5
		if strings.HasPrefix(line, "@") {
			n = 1
		}
		fields := strings.Fields(line)
		if len(fields) <= n {
			return nil, fmt.Errorf("crontab line %q has no command", line)
		}
		rest := line
		for range n {
			rest = strings.TrimLeft(rest, " \t")
			rest = rest[strings.IndexAny(rest, " \t"):]
		}
		command, _, _ := strings.Cut(rest, "||")
		examples = append(examples, example{block: name, shell: strings.TrimSpace(command)})
	}
	for i := range examples {
		examples[i].env = env
	}
	return examples, nil
}

func scriptExporterExamples(name string, body []string) ([]example, error) {
	var config struct {
		Scripts []struct {
			Name    string   `yaml:"name"`
			Command []string `yaml:"command"` // v3
			Args    []string `yaml:"args"`
			Script  string   `yaml:"script"` // M-Lab's fork
		} `yaml:"scripts"`
	}
	if err := yaml.Unmarshal([]byte(strings.Join(body, "\n")), &config); err != nil {
		return nil, err
	}
	var examples []example
	for _, s := range config.Scripts {
		argv := append(append([]string{}, s.Command...), s.Args...)
		switch {
		case s.Script != "":
			examples = append(examples, example{block: name, shell: s.Script})
		case len(argv) == 3 && path.Base(argv[0]) == "sh" && argv[1] == "-c":
			examples = append(examples, example{block: name, shell: strings.TrimPrefix(strings.TrimSpace(argv[2]), "exec ")})
		case len(argv) > 0:
			examples = append(examples, example{block: name, argv: argv})
		default:
			return nil, fmt.Errorf("script %q has no command", s.Name)
		}
	}
	return examples, nil
}

// joinContinuations returns the shell lines of a block: comments and blank
// lines dropped, lines ending in a backslash joined with the next.
func joinContinuations(body []string) []string {
	var lines []string
	var cur strings.Builder
	for _, line := range body {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(strings.TrimSpace(s) + " ")
			continue
		}
		cur.WriteString(trimmed)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		lines = append(lines, strings.TrimSpace(cur.String()))
	}
	return lines
}

// firstWord returns the first word of a shell line.
func firstWord(line string) string {
	w, _, _ := strings.Cut(strings.TrimSpace(line), " ")
	return w
}

// isMonitoringToken reports whether a command word runs monitoring-token.
func isMonitoringToken(word string) bool {
	return path.Base(word) == "monitoring-token"
}

// settings are what the test puts in place of the example's own.
type settings struct {
	machine   string
	signerKey string
	locateURL string
	cacheDir  string
}

// flagValue matches a monitoring-token flag whose value the test replaces,
// with its value, as a shell word or a list element.
var flagValue = regexp.MustCompile(`(^|\s)(--?)(machine|monitoring-signer-key|locate-url|cache-dir)(=|\s+)('[^']*'|"[^"]*"|[^\s'"]+)`)

// probe returns the command to run for the example with s in place of the
// example's machine, key and locate.
func (e example) probe(s settings) (probe, error) {
	values := map[string]string{"machine": s.machine, "monitoring-signer-key": s.signerKey, "locate-url": s.locateURL, "cache-dir": s.cacheDir}
	replace := func(words string) string {
		return flagValue.ReplaceAllStringFunc(words, func(m string) string {
			sub := flagValue.FindStringSubmatch(m)
			return sub[1] + sub[2] + sub[3] + sub[4] + shellQuote(values[sub[3]])
		})
	}
	env := []string{}
	for _, kv := range e.env {
		if k, _, _ := strings.Cut(kv, "="); k != "LOCATE_URL" && k != "MONITORING_SIGNER_KEY" {
			env = append(env, kv)
		}
	}
	if e.shell != "" {
		word := firstWord(e.shell)
		if !isMonitoringToken(word) {
			return probe{}, fmt.Errorf("%q does not start with monitoring-token", e.shell)
		}
		// Only monitoring-token's own flags change: what follows "--"
		// is the command's.
		own, command, hasCommand := strings.Cut(strings.TrimPrefix(e.shell, word), " -- ")
		line := "monitoring-token" + replace(own)
		if hasCommand {
			// The clients installed in /usr/local/bin are the chain's,
			// on its PATH.
			line += " -- " + strings.ReplaceAll(command, "/usr/local/bin/", "")
		}
		return probe{name: e.block, argv: []string{"sh", "-c", line}, env: env}, nil
	}
	if !isMonitoringToken(e.argv[0]) {
		return probe{}, fmt.Errorf("command %q is not monitoring-token", e.argv[0])
	}
	// The exporter runs the installed binary by its path; here that is
	// the test's build.
	argv := []string{binDir + "/monitoring-token"}
	args := e.argv[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			argv = append(argv, args[i:]...)
			break
		}
		if name := strings.TrimLeft(a, "-"); values[name] != "" && strings.HasPrefix(a, "-") && i+1 < len(args) {
			// A flag and its value as two elements.
			argv = append(argv, a, values[name])
			i++
			continue
		}
		argv = append(argv, strings.TrimPrefix(replace(" "+a), " "))
	}
	return probe{name: e.block, argv: argv, env: env}, nil
}

// shellQuote quotes s for a POSIX shell if it needs quoting.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fixture has the docs' examples in the forms the docs use, so that the
// extractor is tested on its own and the chain's checks are tested on
// examples known to be right or wrong.
const fixture = "# Real usage\n\n" +
	"<!-- e2e: cron -->\n" +
	"```cron\n" +
	"PATH=/usr/local/bin:/usr/bin:/bin\n" +
	"MONITORING_SIGNER_KEY=/etc/monitoring/monitoring.jwk\n" +
	"*/5 * * * * monitoring-token -machine=mlab1-lga01.mlab-oti.measurement-lab.org -timeout=90s -- ndt7-client -quiet || logger -t ndt7-probe \"failed with $?\"\n" +
	"```\n\n" +
	"Some text.\n\n" +
	"<!-- e2e: script_exporter -->\n" +
	"```yaml\n" +
	"scripts:\n" +
	"  - name: ndt7\n" +
	"    command: [/bin/sh]\n" +
	"    args:\n" +
	"      - -c\n" +
	"      - >-\n" +
	"        exec /usr/local/bin/monitoring-token -read-env=false\n" +
	"        -locate-url=https://locate.measurementlab.net/v2/platform/monitoring/\n" +
	"        -monitoring-signer-key=/etc/monitoring/monitoring.jwk\n" +
	"        -timeout=40s -machine=\"$target\" -- ndt7-client -quiet\n" +
	"  - name: direct\n" +
	"    command: [/usr/local/bin/monitoring-token]\n" +
	"    args: [-monitoring-signer-key=/etc/monitoring/monitoring.jwk, -machine=mlab1-lga01.mlab-oti.measurement-lab.org, -timeout=45s, --, ndt7-client, -quiet]\n" +
	"```\n\n" +
	"<!-- e2e: full-probe -->\n" +
	"```sh\n" +
	"monitoring-token -machine=mlab1-lga01.mlab-oti.measurement-lab.org -export DL=wss:///ndt/v7/download -export UL=wss:///ndt/v7/upload -- sh -c 'ndt7-client -service-url=\"$DL\" && ndt7-client -service-url=\"$UL\"'\n" +
	"```\n\n" +
	"<!-- e2e: ci -->\n" +
	"```sh\n" +
	"# Comments and other commands are not examples.\n" +
	"bin/locate-emulator -generate-key \"$tmp/key.jwk\" -url-file \"$tmp/url\" &\n" +
	"exec bin/monitoring-token -machine=mlab1-lga01.mlab-oti.measurement-lab.org \\\n" +
	"  -cache-dir=/var/cache/monitoring-token -- ndt7-client -quiet\n" +
	"```\n\n" +
	"<!-- e2e: ndt-server -->\n" +
	"```sh\n" +
	"ndt-server -ndt7.token.required\n" +
	"```\n"

func TestExtractExamples(t *testing.T) {
	got, err := extractExamples(fixture)
	if err != nil {
		t.Fatalf("extractExamples = %v", err)
	}
	v3Line := `/usr/local/bin/monitoring-token -read-env=false -locate-url=https://locate.measurementlab.net/v2/platform/monitoring/ -monitoring-signer-key=/etc/monitoring/monitoring.jwk -timeout=40s -machine="$target" -- ndt7-client -quiet`
	want := map[string][]example{
		"cron": {{
			block: "cron",
			shell: "monitoring-token -machine=mlab1-lga01.mlab-oti.measurement-lab.org -timeout=90s -- ndt7-client -quiet",
			env:   []string{"MONITORING_SIGNER_KEY=/etc/monitoring/monitoring.jwk"},
		}},
		"script_exporter": {
			{block: "script_exporter", shell: v3Line},
			{block: "script_exporter", argv: []string{"/usr/local/bin/monitoring-token", "-monitoring-signer-key=/etc/monitoring/monitoring.jwk", "-machine=mlab1-lga01.mlab-oti.measurement-lab.org", "-timeout=45s", "--", "ndt7-client", "-quiet"}},
		},
		"full-probe": {{
			block: "full-probe",
			shell: `monitoring-token -machine=mlab1-lga01.mlab-oti.measurement-lab.org -export DL=wss:///ndt/v7/download -export UL=wss:///ndt/v7/upload -- sh -c 'ndt7-client -service-url="$DL" && ndt7-client -service-url="$UL"'`,
		}},
		"ci": {{
			block: "ci",
			shell: "bin/monitoring-token -machine=mlab1-lga01.mlab-oti.measurement-lab.org -cache-dir=/var/cache/monitoring-token -- ndt7-client -quiet",
		}},
		"ndt-server": nil,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("extractExamples =\n%#v\nwant\n%#v", got, want)
	}

	s := settings{machine: machine, signerKey: "/tmp/e2e/key.jwk", locateURL: "http://127.0.0.1:1/v2/platform/monitoring/?early_exit=250", cacheDir: "/tmp/e2e/cache"}
	probes := map[string]probe{
		"cron":            {name: "cron", argv: []string{"sh", "-c", "monitoring-token -machine=" + machine + " -timeout=90s -- ndt7-client -quiet"}, env: []string{}},
		"script_exporter": {name: "script_exporter", argv: []string{"sh", "-c", "monitoring-token -read-env=false -locate-url='http://127.0.0.1:1/v2/platform/monitoring/?early_exit=250' -monitoring-signer-key=/tmp/e2e/key.jwk -timeout=40s -machine=" + machine + " -- ndt7-client -quiet"}, env: []string{}},
		"full-probe":      {name: "full-probe", argv: []string{"sh", "-c", "monitoring-token -machine=" + machine + ` -export DL=wss:///ndt/v7/download -export UL=wss:///ndt/v7/upload -- sh -c 'ndt7-client -service-url="$DL" && ndt7-client -service-url="$UL"'`}, env: []string{}},
		"ci":              {name: "ci", argv: []string{"sh", "-c", "monitoring-token -machine=" + machine + " -cache-dir=/tmp/e2e/cache -- ndt7-client -quiet"}, env: []string{}},
	}
	for name, want := range probes {
		p, err := got[name][0].probe(s)
		if err != nil || !reflect.DeepEqual(p, want) {
			t.Errorf("%s: probe = %#v, %v; want %#v", name, p, err, want)
		}
	}
	direct, err := got["script_exporter"][1].probe(s)
	if wantArgv := []string{binDir + "/monitoring-token", "-monitoring-signer-key=/tmp/e2e/key.jwk", "-machine=" + machine, "-timeout=45s", "--", "ndt7-client", "-quiet"}; err != nil || !reflect.DeepEqual(direct.argv, wantArgv) {
		t.Errorf("direct script: probe argv = %q, %v; want %q", direct.argv, err, wantArgv)
	}

	// Flags and values as separate words or list elements; the command's
	// own arguments stay as they are.
	separate := []struct {
		name string
		ex   example
		want []string
	}{
		{
			name: "shell words",
			ex:   example{block: "sh", shell: `/opt/bin/monitoring-token --machine "mlab1-lga01.mlab-oti.measurement-lab.org" -locate-url=https://locate.example/ -- sh -c 'echo -machine=x'`},
			want: []string{"sh", "-c", "monitoring-token --machine " + machine + " -locate-url='http://127.0.0.1:1/v2/platform/monitoring/?early_exit=250' -- sh -c 'echo -machine=x'"},
		},
		{
			name: "list elements",
			ex:   example{block: "yaml", argv: []string{"monitoring-token", "-machine", "mlab1-lga01.mlab-oti.measurement-lab.org", "--monitoring-signer-key", "/etc/k.jwk", "--", "client", "-machine", "x"}},
			want: []string{binDir + "/monitoring-token", "-machine", machine, "--monitoring-signer-key", "/tmp/e2e/key.jwk", "--", "client", "-machine", "x"},
		},
	}
	for _, tt := range separate {
		p, err := tt.ex.probe(s)
		if err != nil || !reflect.DeepEqual(p.argv, tt.want) {
			t.Errorf("%s: probe argv = %q, %v; want %q", tt.name, p.argv, err, tt.want)
		}
	}
}

func TestExtractExamplesRefuses(t *testing.T) {
	tests := []struct {
		name     string
		markdown string
		want     string // a fragment of the error
	}{
		{name: "marker without block", markdown: "<!-- e2e: cron -->\n\ntext\n", want: "not followed by a fenced code block"},
		{name: "block without end", markdown: "<!-- e2e: cron -->\n```cron\n* * * * * monitoring-token -machine=x -- true\n", want: "does not end"},
		{name: "no monitoring-token", markdown: "<!-- e2e: full-probe -->\n```sh\nndt7-client -quiet\n```\n", want: "holds no monitoring-token command"},
		{name: "crontab line without command", markdown: "<!-- e2e: cron -->\n```cron\n*/5 * * * *\n```\n", want: "has no command"},
		{name: "bad YAML", markdown: "<!-- e2e: script_exporter -->\n```yaml\nscripts: [\n```\n", want: "script_exporter"},
		{name: "two blocks, one name", markdown: "<!-- e2e: ci -->\n```sh\nmonitoring-token -- true\n```\n<!-- e2e: ci -->\n```sh\nmonitoring-token -- true\n```\n", want: "a second block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extractExamples(tt.markdown)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("extractExamples = %v, %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
}

// fixtureProbes returns the fixture's examples as probes for the chain.
func fixtureProbes(t *testing.T, c *chain) map[string]probe {
	t.Helper()
	examples, err := extractExamples(fixture)
	if err != nil {
		t.Fatal(err)
	}
	probes := map[string]probe{}
	for name, ex := range examples {
		if len(ex) == 0 {
			continue // run elsewhere
		}
		p, err := ex[0].probe(c.settings())
		if err != nil {
			t.Fatal(err)
		}
		probes[name] = p
	}
	return probes
}

// settings are the chain's machine, key, locate and a cache directory for
// the examples.
func (c *chain) settings() settings {
	s := settings{machine: machine, cacheDir: filepath.Join(c.dir, "cache")}
	for _, kv := range c.env {
		if v, ok := strings.CutPrefix(kv, "LOCATE_URL="); ok {
			s.locateURL = v
		}
		if v, ok := strings.CutPrefix(kv, "MONITORING_SIGNER_KEY="); ok {
			s.signerKey = v
		}
	}
	return s
}

// TestExamplesThatHandOverTheURL runs the fixture's cron and
// script_exporter examples, and the cron line with -env-name=MONITORING_URL,
// which sets that variable alone and leaves ndt7-client to find a server
// of its own: the check must fail for it, because the server under test
// counts nothing.
func TestExamplesThatHandOverTheURL(t *testing.T) {
	c := startChain(t)
	probes := fixtureProbes(t, c)
	downloaded := want{exit: 0, locate: true, server: counts([]string{"download"})}
	for _, name := range []string{"cron", "script_exporter"} {
		c.expect(t, probes[name], downloaded)
	}

	withoutURL := probes["cron"]
	withoutURL.name = "cron with -env-name=MONITORING_URL"
	line := withoutURL.argv[2]
	withoutURL.argv = []string{"sh", "-c", strings.Replace(line, " -- ", " -env-name=MONITORING_URL -- ", 1)}
	if withoutURL.argv[2] == line {
		t.Fatalf("the cron fixture has no command to add -env-name before: %q", line)
	}
	trapped := c.trapHits.Load()
	o := c.run(t, withoutURL, downloaded)
	if err := o.check(downloaded); err == nil {
		t.Errorf("%s passes the check of a probe that tested the server; output:\n%s", withoutURL.name, o.output)
	} else if !o.server.equal(counts(nil)) {
		t.Errorf("%s: ndt-server counted %v, want nothing", withoutURL.name, o.server)
	}
	t.Logf("%s: exit %d, %d connections to the stand-in for public locate", withoutURL.name, o.exit, c.trapHits.Load()-trapped)
}

// docExamples returns the examples of README.md and docs/*.md by block
// name; a name may be used once across the files.
func docExamples() (map[string][]example, error) {
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		return nil, err
	}
	all := map[string][]example{}
	where := map[string]string{}
	for _, path := range append([]string{"../README.md"}, files...) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(path, "../")
		examples, err := extractExamples(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for block, ex := range examples {
			if first, dup := where[block]; dup {
				return nil, fmt.Errorf("%s and %s both have a block marked %q", first, name, block)
			}
			where[block] = name
			all[block] = ex
		}
	}
	return all, nil
}

// TestREADMEExamples runs the examples the docs mark, as written.
func TestREADMEExamples(t *testing.T) {
	examples, err := docExamples()
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, name := range readmeExamples {
		if len(examples[name]) == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the docs have no block marked <!-- e2e: NAME --> for %s", strings.Join(missing, ", "))
	}
	c := startChain(t)
	for _, name := range slices.Sorted(maps.Keys(examples)) {
		for i, ex := range examples[name] {
			t.Run(fmt.Sprintf("%s %d", name, i+1), func(t *testing.T) {
				p, err := ex.probe(c.settings())
				if err != nil {
					t.Fatalf("block %q, example %d: %v", name, i+1, err)
				}
				p.name = fmt.Sprintf("docs' %s example %d", name, i+1)
				directions := []string{"download"}
				if usesUpload(ex) {
					directions = append(directions, "upload")
				}
				c.expect(t, p, want{exit: 0, locate: true, server: counts(directions)})
			})
		}
	}
}

// usesUpload reports whether an example probes the upload too.
func usesUpload(e example) bool {
	return strings.Contains(e.shell+strings.Join(e.argv, " "), "/ndt/v7/upload")
}

// TestDocExamplesParse checks, without the chain, that every marked block
// of the docs yields examples and that the blocks the e2e run needs are
// there.
func TestDocExamplesParse(t *testing.T) {
	examples, err := docExamples()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range readmeExamples {
		if len(examples[name]) == 0 {
			t.Errorf("no examples in the block marked %q", name)
		}
	}
	for name, ex := range examples {
		for i, e := range ex {
			if _, err := e.probe(settings{machine: machine, signerKey: "/k.jwk", locateURL: "http://127.0.0.1:1/", cacheDir: "/c"}); err != nil {
				t.Errorf("%s example %d: %v", name, i+1, err)
			}
		}
	}
}
