// Package alerts checks the alerting rules that the docs give for
// monitoring-token's metrics, with Prometheus's own packages: the rule file
// parser (model/rulefmt), which also parses and type-checks each PromQL
// expression and each annotation's template, and the PromQL engine of
// Prometheus's promql test package, which evaluates the rules on synthetic
// series.
//
// The rules are the YAML block marked <!-- test: alerts --> in README.md
// or in any docs/*.md file. Run the tests with `make e2e`; the first build
// compiles Prometheus's packages, a few minutes on two cores.
package alerts
