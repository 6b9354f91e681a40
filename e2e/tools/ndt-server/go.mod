// ndt-server as M-Lab releases it, pinned for the end-to-end tests. A module
// of its own, because ndt7-client v0.10.1 requires a later ndt-server and one
// module graph would build that one instead; here the build list is
// ndt-server v0.22.0's own. The tests build it with
// `go build github.com/m-lab/ndt-server` in this directory.
module github.com/monitoring-token/monitoring-token/e2e/tools/ndt-server

go 1.26.0

tool github.com/m-lab/ndt-server

require (
	github.com/apex/log v1.9.0 // indirect
	github.com/araddon/dateparse v0.0.0-20200409225146-d820a6159ab1 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.2.0 // indirect
	github.com/felixge/httpsnoop v1.0.1 // indirect
	github.com/golang/protobuf v1.5.3 // indirect
	github.com/google/uuid v1.3.0 // indirect
	github.com/gorilla/handlers v1.5.1 // indirect
	github.com/gorilla/websocket v1.5.0 // indirect
	github.com/justinas/alice v1.2.0 // indirect
	github.com/m-lab/access v0.0.11 // indirect
	github.com/m-lab/go v0.1.66 // indirect
	github.com/m-lab/ndt-server v0.22.0 // indirect
	github.com/m-lab/tcp-info v1.5.3 // indirect
	github.com/m-lab/uuid v1.0.1 // indirect
	github.com/matttproud/golang_protobuf_extensions v1.0.1 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/prometheus/client_golang v1.13.0 // indirect
	github.com/prometheus/client_model v0.2.0 // indirect
	github.com/prometheus/common v0.37.0 // indirect
	github.com/prometheus/procfs v0.8.0 // indirect
	golang.org/x/crypto v0.7.0 // indirect
	golang.org/x/exp v0.0.0-20230522175609-2e198f4a06a1 // indirect
	golang.org/x/net v0.8.0 // indirect
	golang.org/x/sys v0.7.0 // indirect
	golang.org/x/text v0.8.0 // indirect
	google.golang.org/protobuf v1.30.0 // indirect
	gopkg.in/square/go-jose.v2 v2.6.0 // indirect
)
