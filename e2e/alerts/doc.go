// Package alerts checks the alerting rules that the docs give for
// monitoring-token's metrics, with Prometheus's own packages: the rule file
// parser (model/rulefmt), which also parses and type-checks each PromQL
// expression and each annotation's template, and the PromQL engine of
// Prometheus's promql test package, which evaluates the rules on synthetic
// series.
//
// The rules are the YAML block marked <!-- test: alerts --> in README.md
// or in any docs/*.md file.
//
// It also checks that the docs' script_exporter scrape configurations
// label each result the way locate looks it up: it loads them with
// Prometheus' configuration loader, relabels v2 and v3 targets of each job
// with Prometheus' scrape code, and compares each fqdn with the hostname
// m-lab/go's host package makes from the machine and the experiment of
// the job's script; and it evaluates the docs' locate_query block and the
// MonitoringProbeResultsNotSeenByLocate alert on the relabelled series.
// Prometheus' scrape manager then scrapes a stand-in exporter with each
// configuration into a test storage, and script_success, read as locate
// reads it, must find the dead machine's server unhealthy. Run the tests with `make e2e`; the first build
// compiles Prometheus's packages, a few minutes on two cores.
package alerts
