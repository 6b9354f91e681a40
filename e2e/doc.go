// Package e2e holds the end-to-end tests of monitoring-token: the bundled
// locate emulator, monitoring-token, the real ndt7-client and the real
// ndt-server, all as separate processes on loopback. The tests judge a probe
// by what the server says it did, from its own Prometheus metrics.
//
// It is a module of its own so that the main module's dependencies stay
// lean. ndt-server and ndt7-client are built from the modules under tools/,
// each pinned to one release; monitoring-token and locate-emulator are built
// from the parent module as its release build does.
//
// Run the tests with `make e2e`. The first run downloads the modules and
// builds ndt-server with cgo (gcc, the C library's and Linux's headers),
// a minute or two; later runs take about half a minute.
package e2e
