package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/m-lab/go/host"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/scrape"
	"go.yaml.in/yaml/v3"
)

// What locate finds: the docs' scrape configurations are loaded with
// Prometheus' configuration loader and their targets relabelled by
// Prometheus' scrape code; each fqdn must be the hostname locate registers
// the server under, which m-lab/go's host package makes from the machine
// and the experiment (m-lab/locate heartbeat.constructPrometheusMessage
// looks up script_success by that hostname).

// block is a fenced block of README.md or docs/*.md marked
// <!-- test: NAME --> or <!-- e2e: NAME -->.
type block struct {
	file, name, lang, text string
}

var blockMarker = regexp.MustCompile(`^\s*<!--\s*(?:test|e2e):\s*(\S+)\s*-->\s*$`)

// docsBlocks returns the marked blocks of README.md and docs/*.md.
func docsBlocks(t *testing.T) []block {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []block
	for _, f := range append([]string{filepath.Join(repo, "README.md")}, files...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i+1 < len(lines); i++ {
			m := blockMarker.FindStringSubmatch(lines[i])
			fence := strings.TrimSpace(lines[i+1])
			if m == nil || !strings.HasPrefix(fence, "```") {
				continue
			}
			var body []string
			for _, l := range lines[i+2:] {
				if strings.TrimSpace(l) == "```" {
					break
				}
				body = append(body, l)
			}
			blocks = append(blocks, block{file: filepath.Base(f), name: m[1], lang: strings.TrimPrefix(fence, "```"), text: strings.Join(body, "\n") + "\n"})
		}
	}
	return blocks
}

// exporterScripts are the scripts of the docs' exporter configurations:
// for v3 (command: and args:) by "script NAME", for M-Lab's fork
// (script:) by "name NAME", as a scrape's params pick them.
func exporterScripts(t *testing.T, blocks []block) map[string]string {
	t.Helper()
	scripts := map[string]string{}
	for _, b := range blocks {
		if b.lang != "yaml" || !strings.HasPrefix(b.text, "scripts:") {
			continue
		}
		var c struct {
			Scripts []struct {
				Name    string   `yaml:"name"`
				Command []string `yaml:"command"`
				Args    []string `yaml:"args"`
				Script  string   `yaml:"script"`
			} `yaml:"scripts"`
		}
		if err := yaml.Unmarshal([]byte(b.text), &c); err != nil {
			t.Fatalf("%s %s: %v", b.file, b.name, err)
		}
		for _, s := range c.Scripts {
			key, text := "script "+s.Name, strings.Join(append(s.Command, s.Args...), " ")
			if s.Script != "" {
				key, text = "name "+s.Name, s.Script
			}
			if _, dup := scripts[key]; dup {
				t.Fatalf("%s %s: a second script %q", b.file, b.name, key)
			}
			scripts[key] = text
		}
	}
	return scripts
}

// serviceFlag is -service in monitoring-token's part of a script's line.
var serviceFlag = regexp.MustCompile(`(?:^|\s)--?service[= ]([a-z0-9]+/[a-z0-9]+)`)

// scriptService returns the service a script's monitoring-token probes.
func scriptService(script string) string {
	flags, _, _ := strings.Cut(script, " -- ")
	if m := serviceFlag.FindStringSubmatch(flags); m != nil {
		return m[1]
	}
	return "ndt/ndt7" // monitoring-token's default
}

// locateHostname is the hostname locate registers the experiment of
// service on machine under, as m-lab/go's host package writes it: the
// experiment before the v2 machine name; a v3 name with its service.
func locateHostname(machine, service string) (string, error) {
	n, err := host.Parse(machine)
	if err != nil {
		return "", err
	}
	n.Service, _, _ = strings.Cut(service, "/")
	return n.StringWithService(), nil
}

// testMachines are targets given to every job besides its own: a v2
// machine name and a v3 (autojoin) name, which carries the experiment.
func testMachines(experiment string) []string {
	return []string{
		"mlab1-lga01.mlab-oti.measurement-lab.org",
		"mlab4-syd0t.mlab-sandbox.measurement-lab.org",
		experiment + "-lga3356-c0a80001.rnp.autojoin.measurement-lab.org",
	}
}

// relabelled is one target of a job after Prometheus' relabelling.
type relabelled struct {
	job, service, machine string
	form                  string // "v3" or "fork", the exporter's
	fqdn                  string // the fqdn label of its series
	hostname              string // what locate looks up
	target                string // ?target= of the scrape: the script's
	address               string // where the scrape goes
	labels                labels.Labels
}

// relabel loads a scrape configuration with Prometheus' loader and
// relabels each job's own targets and testMachines with Prometheus'
// scrape code. Each job's service is its script's, from scripts.
func relabel(text string, scripts map[string]string) ([]relabelled, error) {
	cfg, err := config.Load(text, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	var out []relabelled
	for _, sc := range cfg.ScrapeConfigs {
		key, form := "script "+sc.Params.Get("script"), "v3"
		if sc.Params.Get("name") != "" {
			key, form = "name "+sc.Params.Get("name"), "fork"
		}
		script, ok := scripts[key]
		if !ok {
			return nil, fmt.Errorf("job %s: no exporter script %q in the docs", sc.JobName, key)
		}
		service := scriptService(script)
		experiment, _, _ := strings.Cut(service, "/")
		var machines []string
		for _, d := range sc.ServiceDiscoveryConfigs {
			static, ok := d.(discovery.StaticConfig)
			if !ok {
				return nil, fmt.Errorf("job %s: %s discovery; the docs use static_configs", sc.JobName, d.Name())
			}
			for _, g := range static {
				for _, ls := range g.Targets {
					machines = append(machines, string(ls[model.AddressLabel]))
				}
			}
		}
		for _, m := range testMachines(experiment) {
			if !slices.Contains(machines, m) {
				machines = append(machines, m)
			}
		}
		group := &targetgroup.Group{Source: "docs"}
		for _, m := range machines {
			group.Targets = append(group.Targets, model.LabelSet{model.AddressLabel: model.LabelValue(m)})
		}
		lb := labels.NewBuilder(labels.EmptyLabels())
		targets, errs := scrape.TargetsFromGroup(group, sc, nil, lb)
		if len(errs) > 0 {
			return nil, fmt.Errorf("job %s: %v", sc.JobName, errs)
		}
		if len(targets) != len(machines) {
			return nil, fmt.Errorf("job %s: %d targets of %d machines", sc.JobName, len(targets), len(machines))
		}
		for i, tg := range targets {
			hostname, err := locateHostname(machines[i], service)
			if err != nil {
				return nil, fmt.Errorf("job %s: %w", sc.JobName, err)
			}
			ls := tg.Labels(lb)
			out = append(out, relabelled{
				job: sc.JobName, service: service, machine: machines[i], form: form,
				fqdn: ls.Get("fqdn"), hostname: hostname,
				target: tg.URL().Query().Get("target"), address: tg.URL().Host,
				labels: ls,
			})
		}
	}
	return out, nil
}

// unmatched returns what locate would not find: each target whose fqdn is
// not its server's hostname, or whose script does not get the machine.
func unmatched(targets []relabelled) []string {
	var bad []string
	for _, r := range targets {
		if r.fqdn != r.hostname {
			bad = append(bad, fmt.Sprintf("job %s (%s), target %s: fqdn %q, locate looks up %q", r.job, r.service, r.machine, r.fqdn, r.hostname))
		}
		if r.target != r.machine || r.address == r.machine {
			bad = append(bad, fmt.Sprintf("job %s, target %s: the scrape goes to %s with ?target=%q; want the exporter, with the machine", r.job, r.machine, r.address, r.target))
		}
	}
	return bad
}

// docsScrapeConfigs returns the scrape configuration blocks of the docs.
func docsScrapeConfigs(blocks []block) []block {
	var scrapes []block
	for _, b := range blocks {
		if b.lang == "yaml" && strings.HasPrefix(b.text, "scrape_configs:") {
			scrapes = append(scrapes, b)
		}
	}
	return scrapes
}

// TestDocsScrapeConfigsReachLocate: every target of every documented
// scrape job, v2 and v3 names for ndt and wehe, is labelled with the
// hostname locate looks its server up by, and its script gets the machine.
func TestDocsScrapeConfigsReachLocate(t *testing.T) {
	blocks := docsBlocks(t)
	scripts := exporterScripts(t, blocks)
	services := map[string]bool{}
	forms := map[string]bool{}
	for _, b := range docsScrapeConfigs(blocks) {
		targets, err := relabel(b.text, scripts)
		if err != nil {
			t.Fatalf("%s %s: %v", b.file, b.name, err)
		}
		for _, bad := range unmatched(targets) {
			t.Errorf("%s %s: %s", b.file, b.name, bad)
		}
		for _, r := range targets {
			services[r.service] = true
			forms[r.form] = true
		}
	}
	if !services["ndt/ndt7"] || !services["wehe/replay"] || !forms["v3"] || !forms["fork"] {
		t.Errorf("the docs' scrape jobs probe %v in forms %v; want ndt/ndt7 and wehe/replay, v3 and the fork", services, forms)
	}
}

// mutations are relabellings that lose the verdict, each applied to the
// docs' text: the check must find every one.
var mutations = []struct {
	name string
	old  *regexp.Regexp
	new  string
	// alert says that MonitoringProbeResultsNotSeenByLocate fires for
	// every job of a fleet of v2 machines: none of its series is
	// labelled as a server's hostname.
	alert bool
}{
	// The docs before: fqdn is the machine name, which locate never
	// looks up.
	{"fqdn copied from the target", regexp.MustCompile(`(?m)^ +- source_labels: \[__param_target\]\n +regex: \(mlab\[0-9\]-\.\+\)\n +target_label: fqdn\n +replacement: .*\n`), "", true},
	// The experiment added to every name, v3 ones too.
	{"experiment doubled on a v3 name", regexp.MustCompile(`regex: \(mlab\[0-9\]-\.\+\)`), "regex: (.+)", false},
	// The ndt job's relabelling copied into the wehe job.
	{"wehe results under ndt", regexp.MustCompile(`replacement: wehe-\$1`), "replacement: ndt-$$1", false},
}

// mutate applies mutation m to text.
func mutate(text string, i int) string {
	m := mutations[i]
	return m.old.ReplaceAllString(text, m.new)
}

// TestRelabellingMutationsAreCaught: each mutation of the docs' scrape
// configurations leaves some target with an fqdn locate does not look up.
func TestRelabellingMutationsAreCaught(t *testing.T) {
	blocks := docsBlocks(t)
	scripts := exporterScripts(t, blocks)
	for i, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			applied, caught := false, false
			for _, b := range docsScrapeConfigs(blocks) {
				text := mutate(b.text, i)
				if text == b.text {
					continue
				}
				applied = true
				targets, err := relabel(text, scripts)
				if err != nil {
					t.Fatalf("%s %s: %v", b.file, b.name, err)
				}
				caught = caught || len(unmatched(targets)) > 0
			}
			if !applied || !caught {
				t.Errorf("mutation applied %v, caught %v", applied, caught)
			}
		})
	}
}

// successSeries writes relabelled targets as script_success series in the
// promql test package's load format, each failing (0) for ten minutes.
func successSeries(targets []relabelled) string {
	var b strings.Builder
	b.WriteString("load 1m\n")
	for _, r := range targets {
		var ls []string
		r.labels.Range(func(l labels.Label) {
			ls = append(ls, fmt.Sprintf("%s=%q", l.Name, l.Value))
		})
		fmt.Fprintf(&b, "\tscript_success{%s} 0x15\n", strings.Join(ls, ","))
	}
	return b.String()
}

// instant evaluates a PromQL query on store at minute 15.
func instant(t *testing.T, text, query string) []labels.Labels {
	t.Helper()
	store := promqltest.LoadedStorage(t, text)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q, err := engine.NewInstantQuery(context.Background(), store, nil, query, time.Unix(15*60, 0))
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer q.Close()
	vec, err := q.Exec(context.Background()).Vector()
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	var out []labels.Labels
	for _, s := range vec {
		out = append(out, s.Metric)
	}
	return out
}

// TestLocateQueryInDocs: on the series of the docs' relabelled targets, the
// docs' lookup returns that server's failing series, one per job probing
// it with its experiment, and the check for labels locate cannot match
// returns nothing, as does the alert; on the series of each mutation the
// check and the alert name the job.
func TestLocateQueryInDocs(t *testing.T) {
	blocks := docsBlocks(t)
	scripts := exporterScripts(t, blocks)
	var queries []string
	for _, b := range blocks {
		if b.name == "locate_query" {
			queries = strings.Split(strings.TrimSpace(b.text), "\n")
		}
	}
	if len(queries) != 2 {
		t.Fatalf("want two queries in the block marked locate_query, got %q", queries)
	}
	lookup, check := queries[0], queries[1]
	groups, err := parseRules(docsRules(t))
	if err != nil {
		t.Fatal(err)
	}
	var alert string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "MonitoringProbeResultsNotSeenByLocate" {
				alert = r.Expr
			}
		}
	}
	if alert == "" {
		t.Fatal("no alert MonitoringProbeResultsNotSeenByLocate in the docs")
	}
	jobsOf := func(got []labels.Labels) []string {
		var jobs []string
		for _, ls := range got {
			jobs = append(jobs, ls.Get("job"))
		}
		slices.Sort(jobs)
		return jobs
	}

	var all []relabelled
	for _, b := range docsScrapeConfigs(blocks) {
		targets, err := relabel(b.text, scripts)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, targets...)
	}
	var wantJobs []string
	wanted := regexp.MustCompile(`fqdn="([^"]+)"`).FindStringSubmatch(lookup)
	if wanted == nil {
		t.Fatalf("the lookup %q names no fqdn", lookup)
	}
	for _, r := range all {
		if r.hostname == wanted[1] {
			wantJobs = append(wantJobs, r.job)
		}
	}
	slices.Sort(wantJobs)
	text := successSeries(all)
	if got := jobsOf(instant(t, text, lookup)); len(wantJobs) == 0 || !slices.Equal(got, wantJobs) {
		t.Errorf("%s returns the series of jobs %v, want %v", lookup, got, wantJobs)
	}
	for _, q := range []string{check, alert} {
		if got := instant(t, text, q); len(got) != 0 {
			t.Errorf("%s on the docs' configurations returns %v, want nothing", q, got)
		}
	}

	var allJobs []string
	for _, r := range all {
		if !slices.Contains(allJobs, r.job) {
			allJobs = append(allJobs, r.job)
		}
	}
	slices.Sort(allJobs)
	for i, m := range mutations {
		var mutated []relabelled
		for _, b := range docsScrapeConfigs(blocks) {
			targets, err := relabel(mutate(b.text, i), scripts)
			if err != nil {
				t.Fatal(err)
			}
			mutated = append(mutated, targets...)
		}
		text := successSeries(mutated)
		// A label of the wrong form shows in the check; the right form
		// for another server (wehe's result as ndt's) in the lookup.
		looked, checked := jobsOf(instant(t, text, lookup)), jobsOf(instant(t, text, check))
		if slices.Equal(looked, wantJobs) && len(checked) == 0 {
			t.Errorf("%s: neither query notices: the lookup returns jobs %v, the check %v", m.name, looked, checked)
		}
		var want []string
		if m.alert {
			want = allJobs
		}
		v2 := slices.DeleteFunc(slices.Clone(mutated), func(r relabelled) bool {
			n, err := host.Parse(r.machine)
			return err != nil || n.Version != "v2"
		})
		if got := jobsOf(instant(t, successSeries(v2), alert)); !slices.Equal(got, want) {
			t.Errorf("%s: on v2 machines, the alert fires for jobs %v, want %v", m.name, got, want)
		}
	}
}
