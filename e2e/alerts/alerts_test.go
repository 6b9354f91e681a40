package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"
)

// marker is the HTML comment above the rules' fenced block.
const marker = "<!-- test: alerts -->"

// repo is the repository's root, from this package's directory.
const repo = "../.."

// findRules returns the body of the fenced block that follows marker in
// markdown, or ok false when markdown has no marker.
func findRules(markdown string) (rules string, ok bool, err error) {
	lines := strings.Split(markdown, "\n")
	for i, line := range lines {
		if strings.TrimSpace(line) != marker {
			continue
		}
		if i+1 == len(lines) || !strings.HasPrefix(strings.TrimSpace(lines[i+1]), "```") {
			return "", true, fmt.Errorf("line %d: %s is not followed by a fenced block", i+1, marker)
		}
		var body []string
		for _, l := range lines[i+2:] {
			if strings.TrimSpace(l) == "```" {
				return strings.Join(body, "\n"), true, nil
			}
			body = append(body, l)
		}
		return "", true, fmt.Errorf("line %d: the block does not end", i+2)
	}
	return "", false, nil
}

// docsRules returns the rules block of README.md or docs/*.md; there must
// be exactly one.
func docsRules(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join(repo, "README.md")}, files...)
	var found []string
	var rules string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, ok, err := findRules(string(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if ok {
			found, rules = append(found, f), r
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one block marked %s in README.md and docs/*.md, found %d: %v", marker, len(found), found)
	}
	return rules
}

// parseRules parses and validates rule groups as Prometheus loads a rule
// file: unknown fields are errors, every expression is parsed and
// type-checked, every template parsed.
func parseRules(text string) (*rulefmt.RuleGroups, error) {
	groups, errs := rulefmt.Parse([]byte(text), false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		return nil, fmt.Errorf("%v", errs)
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
			if err != nil {
				return nil, err
			}
			// The rule manager takes a vector (or a scalar) from an
			// expression; alerts are meant to have labels.
			if expr.Type() != parser.ValueTypeVector {
				return nil, fmt.Errorf("rule %s: expression of type %s, want an instant vector", r.Alert, expr.Type())
			}
		}
	}
	return groups, nil
}

// TestRulesParse checks the docs' rules with Prometheus's rule parser.
func TestRulesParse(t *testing.T) {
	groups, err := parseRules(docsRules(t))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule without an alert name", g.Name)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("the rules block holds no rule")
	}
}

// TestParseRulesRefuses checks that the parser is strict: a type error, a
// misspelt field and a broken template are each refused.
func TestParseRulesRefuses(t *testing.T) {
	rule := func(expr, extra string) string {
		return "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: " + expr + "\n" + extra
	}
	tests := []struct {
		name, text string
	}{
		{"range vector", rule("monitoring_probe_success[5m]", "")},
		{"scalar compared with a string", rule(`1 > "a"`, "")},
		{"misspelt field", rule("up == 0", "        four: 10m\n")},
		{"broken template", rule("up == 0", "        annotations:\n          summary: \"{{ $labels.machine \"\n")},
		{"unknown function", rule("rate_of(up)", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseRules(tt.text); err == nil {
				t.Errorf("accepted:\n%s", tt.text)
			}
		})
	}
	if _, err := parseRules(rule("up == 0", "        for: 10m\n")); err != nil {
		t.Errorf("a valid rule refused: %v", err)
	}
}

// series are synthetic metrics, one sample a minute for 90 minutes, in
// the promql test package's load format. Times start at the Unix epoch,
// so a value of 60 per minute is the time of each sample.
//
//   - ndt/ndt7 on "failing": every run fails with the command's status 1;
//     no success ever (last success 0).
//   - ndt/ndt7 on "healthy": every run succeeds.
//   - msak/throughput on "client125": the client itself exits 125 (cannot_run
//     0); its last success was at minute 1.
//   - wehe/replay on "w1" and "w2": the probe cannot run (125), never
//     succeeded; on "w3" it cannot run either, passed by
//     -pass-if-cannot-run (success 1, exit code 125).
//   - two metrics files, one rewritten every minute, one never.
//   - script_success of three jobs: "ndt7" labelled as locate looks it
//     up, "copied" with the machine name as fqdn, "mixed" with both.
const series = `
load 1m
	monitoring_probe_success{machine="failing",service="ndt/ndt7"} 0x90
	monitoring_probe_exit_code{machine="failing",service="ndt/ndt7"} 1x90
	monitoring_probe_cannot_run{machine="failing",service="ndt/ndt7"} 0x90
	monitoring_probe_stale{machine="failing",service="ndt/ndt7"} 0x90
	monitoring_probe_last_success_timestamp_seconds{machine="failing",service="ndt/ndt7"} 0x90
	monitoring_probe_success{machine="healthy",service="ndt/ndt7"} 1x90
	monitoring_probe_exit_code{machine="healthy",service="ndt/ndt7"} 0x90
	monitoring_probe_cannot_run{machine="healthy",service="ndt/ndt7"} 0x90
	monitoring_probe_stale{machine="healthy",service="ndt/ndt7"} 0x90
	monitoring_probe_last_success_timestamp_seconds{machine="healthy",service="ndt/ndt7"} 0+60x90
	monitoring_probe_success{machine="client125",service="msak/throughput"} 0x90
	monitoring_probe_exit_code{machine="client125",service="msak/throughput"} 125x90
	monitoring_probe_cannot_run{machine="client125",service="msak/throughput"} 0x90
	monitoring_probe_stale{machine="client125",service="msak/throughput"} 0x90
	monitoring_probe_last_success_timestamp_seconds{machine="client125",service="msak/throughput"} 60x90
	monitoring_probe_success{machine="w1",service="wehe/replay"} 0x90
	monitoring_probe_exit_code{machine="w1",service="wehe/replay"} 125x90
	monitoring_probe_cannot_run{machine="w1",service="wehe/replay"} 1x90
	monitoring_probe_stale{machine="w1",service="wehe/replay"} 0x90
	monitoring_probe_last_success_timestamp_seconds{machine="w1",service="wehe/replay"} 0x90
	monitoring_probe_success{machine="w2",service="wehe/replay"} 0x90
	monitoring_probe_exit_code{machine="w2",service="wehe/replay"} 125x90
	monitoring_probe_cannot_run{machine="w2",service="wehe/replay"} 1x90
	monitoring_probe_stale{machine="w2",service="wehe/replay"} 0x90
	monitoring_probe_last_success_timestamp_seconds{machine="w2",service="wehe/replay"} 0x90
	monitoring_probe_success{machine="w3",service="wehe/replay"} 1x90
	monitoring_probe_exit_code{machine="w3",service="wehe/replay"} 125x90
	monitoring_probe_cannot_run{machine="w3",service="wehe/replay"} 1x90
	monitoring_probe_stale{machine="w3",service="wehe/replay"} 0x90
	monitoring_probe_last_success_timestamp_seconds{machine="w3",service="wehe/replay"} 0x90
	node_textfile_mtime_seconds{file="/run/probes/fresh.prom"} 0+60x90
	node_textfile_mtime_seconds{file="/run/probes/stopped.prom"} 0x90
	script_success{job="ndt7",fqdn="ndt-mlab1-lga01.mlab-oti.measurement-lab.org"} 0x90
	script_success{job="ndt7",fqdn="ndt-lga3356-c0a80001.rnp.autojoin.measurement-lab.org"} 1x90
	script_success{job="copied",fqdn="mlab1-lga01.mlab-oti.measurement-lab.org"} 0x90
	script_success{job="copied",fqdn="mlab2-lga01.mlab-oti.measurement-lab.org"} 1x90
	script_success{job="mixed",fqdn="mlab1-lga01.mlab-oti.measurement-lab.org"} 0x90
	script_success{job="mixed",fqdn="wehe-mlab1-lga01.mlab-oti.measurement-lab.org"} 0x90
`

// evalMinutes is how long the rules are evaluated, once a minute.
const evalMinutes = 90

// TestRulesFire evaluates the docs' rules on the synthetic series once a
// minute, as Prometheus's rule manager does: an alert becomes pending when
// its expression first returns a series, and fires once it has returned
// it at every evaluation for the rule's "for". For each alert it compares
// the minute at which each series starts firing, keyed by the values of
// its machine, service, file or job label.
func TestRulesFire(t *testing.T) {
	groups, err := parseRules(docsRules(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int{
		// Failing on its own account for 10 minutes, the client's own
		// 125 included; a probe that could not run is not the machine's
		// failure, whatever its status.
		"MonitoringProbeFailing": {"failing ndt/ndt7": 10, "client125 msak/throughput": 10},
		// All of wehe's probes could not run, passed or not, for 5
		// minutes.
		"MonitoringProbesCannotRun": {"wehe/replay": 5},
		// No real success for over 4200 s since the one at 60 s (from
		// minute 72), for 5 minutes; never succeeding is not stale.
		"MonitoringProbeResultsStale": {"client125 msak/throughput": 77},
		// No series of the job labelled as locate looks servers up, for
		// 10 minutes.
		"MonitoringProbeResultsNotSeenByLocate": {"copied": 10},
		// Not rewritten for over 600 s (from minute 11), for 5 minutes.
		"MonitoringProbeFilesNotUpdated": {"/run/probes/stopped.prom": 16},
	}
	store := promqltest.LoadedStorage(t, series)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	got := map[string]map[string]int{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			got[r.Alert] = firing(t, engine, store, r.Expr, time.Duration(r.For))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, ok := got[name]; !ok {
			t.Errorf("the docs have no alert %s", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		w, ok := want[name]
		if !ok {
			t.Errorf("alert %s is not evaluated here: add its synthetic case", name)
			continue
		}
		if !maps.Equal(got[name], w) {
			t.Errorf("alert %s fires for %v (series: minute it starts firing), want %v", name, got[name], w)
		}
	}
}

// firing evaluates expr once a minute and returns, for each series that
// fires, the first minute it fires at: when it has been returned at every
// evaluation since a time at least hold earlier.
func firing(t *testing.T, engine *promql.Engine, store storage.Queryable, expr string, hold time.Duration) map[string]int {
	t.Helper()
	activeAt := map[string]time.Time{}
	fired := map[string]int{}
	for m := 0; m <= evalMinutes; m++ {
		ts := time.Unix(0, 0).Add(time.Duration(m) * time.Minute)
		q, err := engine.NewInstantQuery(context.Background(), store, nil, expr, ts)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		vec, err := q.Exec(context.Background()).Vector()
		q.Close()
		if err != nil {
			t.Fatalf("%s at minute %d: %v", expr, m, err)
		}
		now := map[string]bool{}
		for _, s := range vec {
			key := strings.TrimSpace(strings.Join([]string{s.Metric.Get("machine"), s.Metric.Get("service"), s.Metric.Get("file"), s.Metric.Get("job")}, " "))
			now[key] = true
			if _, ok := activeAt[key]; !ok {
				activeAt[key] = ts
			}
			if _, ok := fired[key]; !ok && ts.Sub(activeAt[key]) >= hold {
				fired[key] = m
			}
		}
		// A series that is not returned resets its alert.
		for key := range activeAt {
			if !now[key] {
				delete(activeAt, key)
			}
		}
	}
	return fired
}
