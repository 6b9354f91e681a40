module github.com/monitoring-token/monitoring-token/e2e

go 1.26.0

require (
	github.com/monitoring-token/monitoring-token v0.0.0
	github.com/prometheus/client_model v0.6.2
	github.com/prometheus/common v0.67.5
	go.yaml.in/yaml/v3 v3.0.4
)

require (
	github.com/BurntSushi/toml v1.4.1-0.20240526193622-a339e1f7089c // indirect
	github.com/kr/pretty v0.3.1 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/yuin/goldmark v1.8.7 // indirect
	go.yaml.in/yaml/v2 v2.4.3 // indirect
	golang.org/x/exp/typeparams v0.0.0-20231108232855-2478ac86f678 // indirect
	golang.org/x/mod v0.41.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/tools v0.51.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
	honnef.co/go/tools v0.8.2 // indirect
)

tool honnef.co/go/tools/cmd/staticcheck

// The main module, for its internal test helpers (internal/docblock,
// internal/metrics/metricstest).
replace github.com/monitoring-token/monitoring-token => ../
