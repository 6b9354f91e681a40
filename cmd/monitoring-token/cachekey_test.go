package main

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/m-lab/go/logx"
)

// TestCacheKeyClassifiesEveryFlag: every flag is either part of a probe's
// identity or on the list of those that are not; a flag added without that
// decision fails here.
func TestCacheKeyClassifiesEveryFlag(t *testing.T) {
	fs := newFlagSet(&config{}, new(string))
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := inCacheKey[f.Name]; !ok {
			t.Errorf("-%s is not in inCacheKey: decide whether its value makes a probe another probe (cached.go)", f.Name)
		}
	})
	for name := range inCacheKey {
		if fs.Lookup(name) == nil {
			t.Errorf("inCacheKey names -%s, which is not a flag", name)
		}
	}
}

// TestCacheKey: runs that differ in what they probe, or in what the
// command gets, have different keys; runs that differ only in how they
// run, report or cache, or in how the same settings are spelled, share
// one.
func TestCacheKey(t *testing.T) {
	t.Cleanup(func() { logx.LogxDebug.Set("false") }) // -logx.debug sets it
	const locateURL = "https://locate.example/v2/platform/monitoring/"
	base := []string{"-locate-url=" + locateURL, "-monitoring-signer-key=/keys/monitoring.jwk", "-machine=" + machine, "-cache-dir=/cache"}
	ndt7 := []string{"--", "ndt7-client", "-quiet"}
	tests := []struct {
		name string
		a, b []string // flags after base, then the command
		env  []string // for b
		same bool
	}{
		// The same probe.
		{name: "-machine spelled otherwise", a: ndt7, b: append([]string{"-machine=NDT-MLAB1-LGA01.mlab-oti.measurement-lab.org."}, ndt7...), same: true},
		{name: "-locate-url spelled otherwise", a: ndt7, b: append([]string{"-locate-url=HTTPS://locate.example/v2/platform/monitoring/"}, ndt7...), same: true},
		{name: "-env-name the service's default", a: append([]string{"-service=ndt/ndt5"}, ndt7...), b: append([]string{"-service=ndt/ndt5", "-env-name=MONITORING_URL"}, ndt7...), same: true},
		{name: "-service-url the service's default", a: append([]string{"-service=wehe/replay"}, ndt7...), b: append([]string{"-service=wehe/replay", "-service-url=false"}, ndt7...), same: true},
		{name: "-service-url-key-name the service's default", a: ndt7, b: append([]string{"-service-url-key-name=wss:///ndt/v7/download"}, ndt7...), same: true},
		{name: "a flag from the environment", a: append([]string{"-service=ndt/ndt5"}, ndt7...), b: ndt7, env: []string{"MONITORING_TOKEN_SERVICE=ndt/ndt5"}, same: true},
		{name: "-timeout", a: ndt7, b: append([]string{"-timeout=10s"}, ndt7...), same: true},
		{name: "SCRIPT_DEADLINE shortens -timeout", a: ndt7, b: ndt7, env: []string{fmt.Sprintf("SCRIPT_DEADLINE=%d", time.Now().Add(20*time.Second).Unix())}, same: true},
		{name: "-kill-after", a: ndt7, b: append([]string{"-kill-after=1s"}, ndt7...), same: true},
		{name: "another key", a: ndt7, b: append([]string{"-monitoring-signer-key=/keys/next.jwk"}, ndt7...), same: true},
		{name: "-token-lifetime", a: ndt7, b: append([]string{"-token-lifetime=10s"}, ndt7...), same: true},
		{name: "-show-output", a: ndt7, b: append([]string{"-show-output"}, ndt7...), same: true},
		{name: "-logx.debug", a: ndt7, b: append([]string{"-logx.debug"}, ndt7...), same: true},
		{name: "-metrics-file", a: ndt7, b: append([]string{"-metrics-file=/var/lib/node_exporter/ndt7.prom"}, ndt7...), same: true},
		{name: "another -cache-dir", a: ndt7, b: append([]string{"-cache-dir=/other"}, ndt7...), same: true},
		{name: "-cache-ttl", a: ndt7, b: append([]string{"-cache-ttl=1m"}, ndt7...), same: true},
		{name: "-stale-if-error", a: ndt7, b: append([]string{"-stale-if-error=1h"}, ndt7...), same: true},
		{name: "-read-env=false", a: ndt7, b: append([]string{"-read-env=false"}, ndt7...), same: true},

		// Another probe.
		{name: "another locate", a: ndt7, b: append([]string{"-locate-url=https://staging.locate.example/v2/platform/monitoring/"}, ndt7...)},
		{name: "another machine", a: ndt7, b: append([]string{"-machine=mlab2-lga01.mlab-oti.measurement-lab.org"}, ndt7...)},
		{name: "another service", a: ndt7, b: append([]string{"-service=ndt/ndt5"}, ndt7...)},
		{name: "-env-name", a: ndt7, b: append([]string{"-env-name=SERVICE_URL"}, ndt7...)},
		{name: "the mode", a: append([]string{"-service=wehe/replay"}, ndt7...), b: append([]string{"-service=wehe/replay", "-service-url"}, ndt7...)},
		{name: "the URL key", a: ndt7, b: append([]string{"-service-url-key-name=wss:///ndt/v7/upload"}, ndt7...)},
		{name: "-export", a: ndt7, b: append([]string{"-export=UL=wss:///ndt/v7/upload"}, ndt7...)},
		{name: "-export-all", a: ndt7, b: append([]string{"-export-all=P"}, ndt7...)},
		{name: "-token-env-name", a: ndt7, b: append([]string{"-token-env-name=T"}, ndt7...)},
		{name: "-insecure", a: ndt7, b: append([]string{"-insecure"}, ndt7...)},
		{name: "another command", a: ndt7, b: []string{"--", "ndt7-client"}},
		{name: "an argument moved into the command", a: []string{"--", "sh", "-c", "x y"}, b: []string{"--", "sh", "-c x", "y"}},
	}
	key := func(t *testing.T, args, env []string) string {
		t.Helper()
		cfg, err := parseConfig(append(base[:len(base):len(base)], args...), lookup(env), time.Now())
		if err != nil {
			t.Fatalf("parseConfig(%q) with %q: %v", args, env, err)
		}
		return cacheKey(cfg)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, b := key(t, tt.a, nil), key(t, tt.b, tt.env); (a == b) != tt.same {
				t.Errorf("keys of %q and %q (with %q): equal %v, want %v", tt.a, tt.b, tt.env, a == b, tt.same)
			}
		})
	}
}

// lookup is os.LookupEnv over env, NAME=value strings.
func lookup(env []string) func(string) (string, bool) {
	vars := map[string]string{}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		vars[name] = value
	}
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}
