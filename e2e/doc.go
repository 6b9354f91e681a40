// Package e2e holds the end-to-end tests of monitoring-token: the bundled
// locate emulator, monitoring-token, the real ndt7-client and the real
// ndt-server, all as separate processes on loopback. The tests judge a probe
// by what the server says it did, from its own Prometheus metrics. The
// metrics files monitoring-token writes are read by the real node_exporter's
// textfile collector.
//
// It is a module of its own so that the main module's dependencies stay
// lean. ndt-server, ndt7-client and node_exporter are built from the
// modules under tools/, each pinned to one release; monitoring-token and
// locate-emulator are built from the parent module as its release build
// does. The docs' alerting rules are checked in alerts/, a module of its
// own for Prometheus's build list.
//
// Run the tests with `make e2e`. It first runs ./prerequisites, which says
// what ndt-server's cgo build lacks (gcc, the C library's and Linux's
// headers) and installs nothing. The first run downloads the modules and
// builds ndt-server with cgo and Prometheus's packages, a few minutes;
// later runs take about a minute.
package e2e
