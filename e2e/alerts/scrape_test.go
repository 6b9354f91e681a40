package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/util/teststorage"
)

// deadMachine is the machine whose server is down: the stand-in exporter
// answers its probe with script_success 0.
const deadMachine = "mlab1-lga01.mlab-oti.measurement-lab.org"

// standInExporter answers /probe?target=M (and ?script= or ?name=) as
// script_exporter does, with the script's result: a failure for
// deadMachine, a success for any other.
func standInExporter(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		script := q.Get("script") + q.Get("name")
		if req.URL.Path != "/probe" || q.Get("target") == "" || script == "" {
			http.Error(rw, "want /probe?target=M and a script", http.StatusBadRequest)
			return
		}
		success := 1
		if q.Get("target") == deadMachine {
			success = 0
		}
		rw.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(rw, "# TYPE script_success gauge\nscript_success{script=%q} %d\n", script, success)
	}))
	t.Cleanup(s.Close)
	return s
}

// health is what locate's Prometheus handler makes of script_success:
// the value of each series by its fqdn, healthy when not 0
// (m-lab/locate handler/prometheus.go getMetrics).
func health(t *testing.T, store *teststorage.TestStorage) map[string]bool {
	t.Helper()
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q, err := engine.NewInstantQuery(context.Background(), store, nil, "script_success", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	vec, err := q.Exec(context.Background()).Vector()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range vec {
		got[s.Metric.Get("fqdn")] = s.F != 0
	}
	return got
}

// scrapeDocsConfig scrapes the stand-in exporter with the scrape
// configuration text, as Prometheus' scrape manager does, until every
// target has a sample, and returns locate's view of the result. Only the
// exporter's address and the scrape interval are changed, so that the
// scrapes reach the stand-in within a second.
func scrapeDocsConfig(t *testing.T, text string, scripts map[string]string) (map[string]bool, []relabelled) {
	t.Helper()
	targets, err := relabel(text, scripts)
	if err != nil {
		t.Fatal(err)
	}
	exporter := standInExporter(t)
	address := exporter.Listener.Addr().String()
	cfg, err := config.Load(text, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string][]*targetgroup.Group{}
	for _, sc := range cfg.ScrapeConfigs {
		sc.ScrapeInterval = model.Duration(time.Second)
		sc.ScrapeTimeout = model.Duration(time.Second)
		for _, rc := range sc.RelabelConfigs {
			if rc.TargetLabel == model.AddressLabel && len(rc.SourceLabels) == 0 {
				rc.Replacement = address
			}
		}
		g := &targetgroup.Group{Source: "docs"}
		for _, r := range targets {
			if r.job == sc.JobName {
				g.Targets = append(g.Targets, model.LabelSet{model.AddressLabel: model.LabelValue(r.machine)})
			}
		}
		groups[sc.JobName] = []*targetgroup.Group{g}
	}
	store := teststorage.New(t)
	m, err := scrape.NewManager(&scrape.Options{DiscoveryReloadInterval: model.Duration(100 * time.Millisecond)}, nil, nil, store, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	sets := make(chan map[string][]*targetgroup.Group, 1)
	sets <- groups
	done := make(chan error, 1)
	go func() { done <- m.Run(sets) }()
	defer func() { m.Stop(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := health(t, store)
		if len(got) == len(distinctFQDNs(targets)) {
			return got, targets
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s Prometheus holds script_success for %d fqdns, want %d: %v", len(got), len(distinctFQDNs(targets)), got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// distinctFQDNs are the fqdn labels of targets, each once.
func distinctFQDNs(targets []relabelled) []string {
	var fqdns []string
	for _, r := range targets {
		if !slices.Contains(fqdns, r.fqdn) {
			fqdns = append(fqdns, r.fqdn)
		}
	}
	return fqdns
}

// TestLocateSeesTheDeadServer scrapes a stand-in exporter with each of the
// docs' scrape configurations through Prometheus' scrape manager and
// storage, queries script_success as locate does, and looks up each
// server's hostname as locate's heartbeat does: the dead machine's server
// is found unhealthy, every other healthy. With today's relabelling
// (fqdn copied from the target) the dead server is not found at all,
// which locate counts as healthy.
func TestLocateSeesTheDeadServer(t *testing.T) {
	blocks := docsBlocks(t)
	scripts := exporterScripts(t, blocks)
	for _, b := range docsScrapeConfigs(blocks) {
		t.Run(b.name, func(t *testing.T) {
			got, targets := scrapeDocsConfig(t, b.text, scripts)
			for _, r := range targets {
				healthy, found := got[r.hostname]
				if want := r.machine != deadMachine; !found || healthy != want {
					t.Errorf("job %s, %s: locate finds %s healthy %v (found %v), want %v", r.job, r.machine, r.hostname, healthy, found, want)
				}
			}
		})
	}
	t.Run("today's relabelling", func(t *testing.T) {
		b := docsScrapeConfigs(blocks)[0]
		got, targets := scrapeDocsConfig(t, mutate(b.text, 0), scripts)
		for _, r := range targets {
			if _, found := got[r.hostname]; r.machine == deadMachine && found {
				t.Errorf("job %s: with fqdn copied from the target, locate found %s; the check proves nothing", r.job, r.hostname)
			}
		}
	})
}

// The exporter's query parameters are the scrape's: check that the
// stand-in refuses a scrape without them, so that a relabelling that
// loses ?target= fails the test rather than passing.
func TestStandInExporterWantsATarget(t *testing.T) {
	s := standInExporter(t)
	resp, err := http.Get(s.URL + "/probe?" + url.Values{"script": {"ndt7"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a scrape without target: HTTP %d, want 400", resp.StatusCode)
	}
}
