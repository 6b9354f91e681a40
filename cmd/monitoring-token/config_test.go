package main

import (
	"errors"
	"flag"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/locate"
)

// The configuration rules, in-process: parseConfig with a command line and
// an environment. What a user sees of them (the exit status, the one line
// on stderr) is in testdata/script.

// rules is what a configuration decides.
type rules struct {
	locateURL    string
	machine      string
	givenMachine string
	service      string
	serviceURL   bool     // ask locate, export the service URL
	envNames     []string // the variables that get the URL
	urlKey       string
	exports      string
	exportAll    string
	timeout      time.Duration
	print        bool
	command      []string
	warning      string // about the original's variables
}

func rulesOf(cfg *config) rules {
	r := rules{
		locateURL: cfg.locateURL.String(), machine: cfg.machine, givenMachine: cfg.givenMachine,
		service: cfg.service, serviceURL: cfg.serviceURL, envNames: cfg.envNames, urlKey: cfg.urlKey,
		exports: cfg.exports.String(), exportAll: cfg.exportAll,
		timeout: cfg.timeout, print: cfg.print, command: cfg.command, warning: cfg.warning,
	}
	if len(r.command) == 0 {
		r.command = nil
	}
	return r
}

// with returns r changed by edit.
func (r rules) with(edit func(*rules)) rules {
	r.envNames = slices.Clone(r.envNames)
	edit(&r)
	return r
}

// lookupIn returns a lookupEnv for the environment env.
func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// required are the flags every run needs, and a command.
func required(extra ...string) []string {
	args := []string{"-monitoring-signer-key=/etc/monitoring/monitoring.jwk", "-machine=" + machine}
	args = append(args, extra...)
	if !slices.Contains(extra, "-print") {
		args = append(args, "--", "ndt7-client")
	}
	return args
}

func TestConfigRules(t *testing.T) {
	t.Parallel()
	ndt7 := rules{
		locateURL: locate.DefaultURL, machine: machine, service: "ndt/ndt7",
		serviceURL: true, envNames: []string{"MONITORING_URL", "SERVICE_URL"}, urlKey: "wss:///ndt/v7/download",
		timeout: time.Minute, command: []string{"ndt7-client"},
	}
	wehe := ndt7.with(func(r *rules) {
		r.service, r.serviceURL, r.envNames, r.urlKey = "wehe/replay", false, []string{"MONITORING_URL"}, "wss://:4443/v0/envelope/access"
	})
	const emulator = "http://127.0.0.1:8080/v2/platform/monitoring/"
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want rules
	}{
		// The defaults per service, and the modes.
		{name: "ndt7 by default", args: required(), want: ndt7},
		{name: "wehe: the locate request URL", args: required("-service=wehe/replay"), want: wehe},
		{name: "wehe -service-url", args: required("-service=wehe/replay", "-service-url"), want: wehe.with(func(r *rules) { r.serviceURL = true })},
		{name: "wehe -export selects service URLs", args: required("-service=wehe/replay", "-export=W=wss://:4443/v0/envelope/access"), want: wehe.with(func(r *rules) { r.serviceURL, r.exports = true, "W=wss://:4443/v0/envelope/access" })},
		{name: "wehe -token-env-name selects service URLs", args: required("-service=wehe/replay", "-token-env-name=T"), want: wehe.with(func(r *rules) { r.serviceURL = true })},
		{name: "wehe: an export from the environment is dropped", args: required("-service=wehe/replay"), env: map[string]string{"MONITORING_TOKEN_EXPORT": "W=wss://:4443/v0/envelope/access"}, want: wehe},
		{name: "wehe: -service-url from the environment", args: required("-service=wehe/replay"), env: map[string]string{"MONITORING_TOKEN_SERVICE_URL": "true"}, want: wehe.with(func(r *rules) { r.serviceURL = true })},
		{name: "ndt7 -service-url=false: one variable", args: required("-service-url=false"), want: ndt7.with(func(r *rules) { r.serviceURL, r.envNames = false, []string{"MONITORING_URL"} })},
		{name: "another service: MONITORING_URL alone", args: required("-service=msak/throughput1"), want: ndt7.with(func(r *rules) { r.service, r.envNames, r.urlKey = "msak/throughput1", []string{"MONITORING_URL"}, "" })},
		{name: "-env-name replaces the defaults", args: required("-env-name=URL"), want: ndt7.with(func(r *rules) { r.envNames = []string{"URL"} })},
		{name: "-export-all", args: required("-export-all=P"), want: ndt7.with(func(r *rules) { r.exportAll = "P" })},
		{name: "-print runs nothing", args: required("-print"), want: ndt7.with(func(r *rules) { r.print, r.command = true, nil })},

		// The machine: the name locate and ndt-server know.
		{name: "machine with a service prefix", args: required("-machine=ndt-" + machine), want: ndt7.with(func(r *rules) { r.givenMachine = "ndt-" + machine })},
		{name: "machine in capitals", args: required("-machine=MLAB1-LGA01.MLAB-OTI.Measurement-Lab.org"), want: ndt7.with(func(r *rules) { r.givenMachine = "MLAB1-LGA01.MLAB-OTI.Measurement-Lab.org" })},
		{name: "machine with an instance group", args: required("-machine=ndt-" + machine + "-d9h6"), want: ndt7.with(func(r *rules) { r.givenMachine = "ndt-" + machine + "-d9h6" })},
		{name: "machine with a final dot", args: required("-machine=" + machine + "."), want: ndt7.with(func(r *rules) { r.givenMachine = machine + "." })},
		{name: "autojoin machine kept whole", args: required("-machine=NDT-LGA3356-C0A80001.rnp.autojoin.measurement-lab.org"), want: ndt7.with(func(r *rules) {
			r.machine, r.givenMachine = "ndt-lga3356-c0a80001.rnp.autojoin.measurement-lab.org", "NDT-LGA3356-C0A80001.rnp.autojoin.measurement-lab.org"
		})},

		// The command line over the environment, the prefixed name over the
		// shared one, empty as unset.
		{name: "all from the environment", args: []string{"--", "ndt7-client"}, env: map[string]string{
			"LOCATE_URL": emulator, "MONITORING_SIGNER_KEY": "k.jwk", "MONITORING_TOKEN_MACHINE": machine, "MONITORING_TOKEN_TIMEOUT": "30s",
		}, want: ndt7.with(func(r *rules) { r.locateURL, r.timeout = emulator, 30*time.Second })},
		{name: "flag over the environment", args: required("-service=ndt/ndt7", "-timeout=10s"), env: map[string]string{"MONITORING_TOKEN_SERVICE": "wehe/replay", "MONITORING_TOKEN_TIMEOUT": "30s"}, want: ndt7.with(func(r *rules) { r.timeout = 10 * time.Second })},
		{name: "prefixed name over the shared one", args: required(), env: map[string]string{"LOCATE_URL": "http://127.0.0.1:1/", "MONITORING_TOKEN_LOCATE_URL": emulator}, want: ndt7.with(func(r *rules) { r.locateURL = emulator })},
		{name: "empty variables are unset", args: required(), env: map[string]string{"MONITORING_TOKEN_SERVICE": "", "MONITORING_TOKEN_TIMEOUT": ""}, want: ndt7},
		{name: "-read-env=false reads none", args: required("-read-env=false"), env: map[string]string{"MONITORING_TOKEN_SERVICE": "wehe/replay", "LOCATE_URL": emulator}, want: ndt7},
		{name: "clients' variables are not configuration", args: required(), env: map[string]string{"SERVICE_URL": "https://example.org/ndt", "TIMEOUT": "30", "MACHINE": "nonsense", "SERVICE": "wehe/replay", "ENV_NAME": "1BAD", "PRINT": "true"}, want: ndt7.with(func(r *rules) {
			r.warning = "warning: SERVICE, ENV_NAME set but not read (the original monitoring-token's names); use MONITORING_TOKEN_SERVICE, MONITORING_TOKEN_ENV_NAME"
		})},
		{name: "the original's variables, not read, are named", args: required(), env: map[string]string{"SERVICE": "wehe/replay", "SERVICE_URL": "false", "MACHINE": machine}, want: ndt7.with(func(r *rules) {
			r.warning = "warning: SERVICE, SERVICE_URL set but not read (the original monitoring-token's names); use MONITORING_TOKEN_SERVICE, MONITORING_TOKEN_SERVICE_URL"
		})},
		{name: "the original's variables given another way", args: required("-service=ndt/ndt7"), env: map[string]string{"SERVICE": "wehe/replay", "MONITORING_TOKEN_SERVICE_URL": "true", "SERVICE_URL": "false"}, want: ndt7},
		{name: "-version is not read from the environment", args: required(), env: map[string]string{"MONITORING_TOKEN_VERSION": "true"}, want: ndt7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := parseConfig(tt.args, lookupIn(tt.env), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := rulesOf(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseConfig(%q) with %v\n got %+v\nwant %+v", tt.args, tt.env, got, tt.want)
			}
		})
	}
}

// TestConfigRefusals: a command line or an environment that breaks a rule
// is a usage error (main adds the pointer to -h and exits 125) that names
// the flag, and where its value came from.
func TestConfigRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "no command", args: []string{"-monitoring-signer-key=k", "-machine=" + machine}, want: "no command given"},
		{name: "print and a command", args: required("-print", "--", "true"), want: "give one or the other"},
		{name: "machine missing", args: required("-machine="), want: "-machine (or MONITORING_TOKEN_MACHINE) is required"},
		{name: "key missing", args: required("-monitoring-signer-key="), want: "-monitoring-signer-key (or MONITORING_SIGNER_KEY) is required"},
		{name: "machine not M-Lab", args: required("-machine=example.com"), want: `-machine "example.com" is not an M-Lab machine name; expected a name like ` + machine},
		{name: "machine v1", args: required("-machine=mlab1.lga01.measurement-lab.org"), want: "(v1) name that locate does not know; use the v2 name, e.g. " + machine},
		{name: "machine from the environment", args: []string{"-monitoring-signer-key=k", "--", "true"}, env: map[string]string{"MONITORING_TOKEN_MACHINE": "nonsense"}, want: `-machine (from MONITORING_TOKEN_MACHINE) "nonsense" is not an M-Lab machine name`},
		{name: "service not a/b", args: required("-service=ndt"), want: "not of the form experiment/datatype"},
		{name: "service with a dot segment", args: required("-service=ndt/.."), want: "not of the form experiment/datatype"},
		{name: "locate URL relative", args: required("-locate-url=/v2/platform/monitoring/"), want: "not an absolute http(s) URL"},
		{name: "locate URL plain http", args: required("-locate-url=http://locate.example/v2/platform/monitoring/"), want: "plain http to a host that is not loopback"},
		{name: "lifetime out of range", args: required("-token-lifetime=2h"), want: "-token-lifetime 2h0m0s is out of range"},
		{name: "timeout not positive", args: required("-timeout=0s"), want: "-timeout 0s must be positive"},
		{name: "cache-ttl out of range", args: required("-cache-dir=/tmp/c", "-cache-ttl=48h"), want: "-cache-ttl 48h0m0s is out of range"},
		{name: "metrics file not .prom", args: required("-metrics-file=/tmp/m.txt"), want: "does not end in .prom"},
		{name: "env name invalid", args: required("-env-name=1URL"), want: `-env-name "1URL" is not a valid environment variable name`},
		{name: "token in ndt7's default SERVICE_URL", args: required("-token-env-name=SERVICE_URL"), want: "the default for ndt/ndt7 and -token-env-name both name SERVICE_URL"},
		{name: "export and export-all", args: required("-export=A=x", "-export-all=P"), want: "give -export or -export-all, not both"},
		{name: "both exports from the environment", args: required(), env: map[string]string{"MONITORING_TOKEN_EXPORT": "A=x", "MONITORING_TOKEN_EXPORT_ALL": "P"}, want: "give -export (from MONITORING_TOKEN_EXPORT) or -export-all (from MONITORING_TOKEN_EXPORT_ALL), not both"},
		{name: "a flag without effect in the mode", args: required("-service-url=false", "-token-env-name=T"), want: "-token-env-name has no effect with -service-url=false"},
		{name: "against the environment's -print", args: []string{"-monitoring-signer-key=k", "-machine=" + machine, "-kill-after=1s"}, env: map[string]string{"MONITORING_TOKEN_PRINT": "true"}, want: "-kill-after has no effect with -print (from MONITORING_TOKEN_PRINT): no command runs; remove it"},
		{name: "stale-if-error negative", args: required("-cache-dir=/tmp/c", "-stale-if-error=-1s"), want: "-stale-if-error -1s must not be negative"},
		{name: "stale-if-error without a cache", args: required("-stale-if-error=1h"), want: "-stale-if-error has no effect without -cache-dir"},
		{name: "a bad value from the environment", args: required(), env: map[string]string{"MONITORING_TOKEN_TIMEOUT": "30"}, want: "environment variable MONITORING_TOKEN_TIMEOUT: invalid value for -timeout"},
		{name: "unknown flag", args: required("-nope"), want: "flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseConfig(tt.args, lookupIn(tt.env), time.Now())
			if usage := new(usageError); !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseConfig(%q) with %v: %v; want a usage error with %q", tt.args, tt.env, err, tt.want)
			}
		})
	}
	if _, err := parseConfig([]string{"-h"}, lookupIn(nil), time.Now()); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}
