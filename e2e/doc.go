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
// Run the tests with `make e2e`. The first run builds ndt-server with cgo
// (gcc and the C library and Linux headers), which takes a few minutes.
package e2e
