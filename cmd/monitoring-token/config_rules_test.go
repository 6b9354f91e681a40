package main

import (
	"bytes"
	"log"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/m-lab/go/logx"
)

// The configuration's rules, in-process: parseConfig with a command line
// and an environment, and what it settles or the line main prints.

// signerKey is a -monitoring-signer-key; parseConfig reads no file.
const signerKey = "/keys/monitoring.jwk"

// probe is a command line with the required flags, flags and a command.
func probe(flags ...string) []string {
	args := append([]string{"-monitoring-signer-key=" + signerKey, "-machine=" + machine}, flags...)
	return append(args, "--", "ndt7-client")
}

// printing is a -print command line with the required flags and flags.
func printing(flags ...string) []string {
	return append([]string{"-monitoring-signer-key=" + signerKey, "-machine=" + machine, "-print"}, flags...)
}

// parseNow is the time parseConfig measures SCRIPT_DEADLINE from.
var parseNow = time.Unix(1_700_000_000, 0)

// fields renders what parseConfig settled, by field name.
func fields(cfg *config) map[string]string {
	locateURL := ""
	if cfg.locateURL != nil {
		locateURL = cfg.locateURL.String()
	}
	deadline := ""
	if !cfg.deadline.IsZero() {
		deadline = strconv.FormatInt(cfg.deadline.Unix(), 10)
	}
	var fromEnv string
	if cfg.flags != nil {
		fromEnv = strings.Join(cfg.flags.FromEnv(), ", ")
	}
	return map[string]string{
		"locateURL":       locateURL,
		"keyPath":         cfg.keyPath,
		"machine":         cfg.machine,
		"givenMachine":    cfg.givenMachine,
		"service":         cfg.service,
		"timeout":         cfg.timeout.String(),
		"killAfter":       cfg.killAfter.String(),
		"envName":         cfg.envName,
		"envNames":        strings.Join(cfg.envNames, " "),
		"serviceURL":      strconv.FormatBool(cfg.serviceURL),
		"urlKey":          cfg.urlKey,
		"tokenEnvName":    cfg.tokenEnvName,
		"exports":         cfg.exports.String(),
		"exportAll":       cfg.exportAll,
		"tokenLifetime":   cfg.tokenLifetime.String(),
		"print":           strconv.FormatBool(cfg.print),
		"showOutput":      strconv.FormatBool(cfg.showOutput),
		"cacheDir":        cfg.cacheDir,
		"cacheTTL":        cfg.cacheTTL.String(),
		"staleIfError":    cfg.staleIfError.String(),
		"passIfCannotRun": strconv.FormatBool(cfg.passIfCannotRun),
		"metricsFile":     cfg.metricsFile,
		"insecure":        strconv.FormatBool(cfg.insecure),
		"caFile":          cfg.caFile,
		"version":         strconv.FormatBool(cfg.version),
		"readEnv":         strconv.FormatBool(cfg.readEnv),
		"debug":           strconv.FormatBool(cfg.debug),
		"flags":           fromEnv,
		"ignored":         strings.Join(cfg.ignored, "; "),
		"warning":         cfg.warning,
		"deadline":        deadline,
		"deadlineCut":     strconv.FormatBool(cfg.deadlineCut),
		"configVars":      strings.Join(cfg.configVars, " "),
		"command":         strings.Join(cfg.command, " "),
	}
}

// TestFieldsRendersEveryField: a field added to config is added to fields,
// so that the table below can check it.
func TestFieldsRendersEveryField(t *testing.T) {
	got := fields(&config{})
	typ := reflect.TypeFor[config]()
	for i := range typ.NumField() {
		if _, ok := got[typ.Field(i).Name]; !ok {
			t.Errorf("fields does not render config.%s", typ.Field(i).Name)
		}
	}
	if len(got) != typ.NumField() {
		t.Errorf("fields renders %d fields, config has %d", len(got), typ.NumField())
	}
}

// ndt7 is what a bare probe of ndt/ndt7 settles.
var ndt7 = map[string]string{
	"locateURL":       "https://locate.measurementlab.net/v2/platform/monitoring/",
	"keyPath":         signerKey,
	"machine":         machine,
	"givenMachine":    "",
	"service":         "ndt/ndt7",
	"timeout":         "1m0s",
	"killAfter":       "5s",
	"serviceURL":      "true",
	"envNames":        "MONITORING_URL SERVICE_URL",
	"urlKey":          "wss:///ndt/v7/download",
	"exports":         "",
	"exportAll":       "",
	"tokenEnvName":    "",
	"tokenLifetime":   "1m0s",
	"print":           "false",
	"showOutput":      "false",
	"cacheDir":        "",
	"cacheTTL":        "10m0s",
	"staleIfError":    "0s",
	"passIfCannotRun": "false",
	"metricsFile":     "",
	"insecure":        "false",
	"caFile":          "",
	"version":         "false",
	"readEnv":         "true",
	"debug":           "false",
	"flags":           "",
	"ignored":         "",
	"warning":         "",
	"deadline":        "",
	"deadlineCut":     "false",
	"configVars":      "",
	"command":         "ndt7-client",
}

// env is a list of NAME=VALUE as a lookup function.
func env(vars []string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for _, kv := range vars {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				return v, true
			}
		}
		return "", false
	}
}

// help is what main adds to a usage error.
const help = " (see monitoring-token -h)"

func TestConfigRules(t *testing.T) {
	deadline := func(sec float64) string {
		return "SCRIPT_DEADLINE=" + strconv.FormatFloat(float64(parseNow.Unix())+sec, 'f', -1, 64)
	}
	tests := []struct {
		name string
		args []string
		env  []string
		// err is the line main prints to stderr for parseConfig's error,
		// without "monitoring-token: "; "" for no error.
		err string
		// want holds fields (see fields) and their values.
		want map[string]string
		// log is what the standard logger got.
		log string
	}{
		// What a run is: a command, or -print.
		{name: "ndt7's defaults", args: probe(), want: ndt7},
		{name: "print", args: printing(), want: map[string]string{"print": "true", "command": ""}},
		{name: "no command", args: probe()[:2], err: "no command given; put it after the flags, e.g. monitoring-token -machine=" + machine + " -- ndt7-client" + help},
		{name: "print and a command", args: probe("-print"), err: "-print prints the variables instead of running a command; give one or the other" + help},
		{name: "the command's arguments", args: append(printing()[:2], "--", "sh", "-c", "exit 3"), want: map[string]string{"command": "sh -c exit 3"}},
		{name: "version", args: []string{"-version"}, want: map[string]string{"version": "true", "machine": "", "locateURL": ""}},
		{name: "help", args: []string{"-h", "-version"}, err: "flag: help requested"},
		{name: "unknown flag", args: probe("-nope"), err: "flag provided but not defined: -nope" + help},

		// Required flags.
		{name: "key missing", args: probe("-monitoring-signer-key="), err: "-monitoring-signer-key (or MONITORING_SIGNER_KEY) is required: the path of the private JWK" + help},
		{name: "machine missing", args: probe("-machine="), err: "-machine (or MONITORING_TOKEN_MACHINE) is required, e.g. -machine=" + machine + help},

		// Machine names: as locate and the server know them.
		{name: "v2", args: probe("-machine=" + machine), want: map[string]string{"machine": machine, "givenMachine": ""}},
		{name: "v2 with the service's prefix", args: probe("-machine=ndt-" + machine), want: map[string]string{"machine": machine, "givenMachine": "ndt-" + machine}},
		{name: "v2 in capitals", args: probe("-machine=MLAB1-LGA01.MLAB-OTI.Measurement-Lab.org"), want: map[string]string{"machine": machine}},
		{name: "v2 with an instance group", args: probe("-machine=" + machine + "-d9h6"), want: map[string]string{"machine": machine}},
		{name: "v2 with both", args: probe("-machine=ndt-" + machine + "-d9h6"), want: map[string]string{"machine": machine}},
		{name: "v2 with a root dot", args: probe("-machine=" + machine + "."), want: map[string]string{"machine": machine}},
		{name: "v3", args: probe("-machine=ndt-lga3356-c0a80001.rnp.autojoin.measurement-lab.org"), want: map[string]string{"machine": "ndt-lga3356-c0a80001.rnp.autojoin.measurement-lab.org", "givenMachine": ""}},
		{name: "v3 in capitals", args: probe("-machine=NDT-LGA3356-C0A80001.rnp.autojoin.measurement-lab.org"), want: map[string]string{"machine": "ndt-lga3356-c0a80001.rnp.autojoin.measurement-lab.org"}},
		{name: "v1", args: probe("-machine=mlab1.lga01.measurement-lab.org"), err: `-machine "mlab1.lga01.measurement-lab.org" is an old (v1) name that locate does not know; use the v2 name, e.g. ` + machine + " (mlab-oti is the production project)" + help},
		{name: "v2 without a project", args: probe("-machine=mlab1-lga01.measurement-lab.org"), err: `-machine "mlab1-lga01.measurement-lab.org" is an old (v1) name that locate does not know; use the v2 name, e.g. ` + machine + " (mlab-oti is the production project)" + help},
		{name: "not M-Lab's", args: probe("-machine=lga01.example.com"), err: `-machine "lga01.example.com" is not an M-Lab machine name; expected a name like ` + machine + help},
		{name: "a bad machine from the environment", args: []string{"-monitoring-signer-key=" + signerKey, "--", "true"}, env: []string{"MONITORING_TOKEN_MACHINE=nonsense"}, err: `-machine (from MONITORING_TOKEN_MACHINE) "nonsense" is not an M-Lab machine name; expected a name like ` + machine + help},

		// Forms and bounds.
		{name: "service not a/b", args: probe("-service=ndt"), err: `-service "ndt" is not of the form experiment/datatype, e.g. ndt/ndt7 or wehe/replay` + help},
		{name: "service with a query", args: probe("-service=ndt/ndt7?x=1"), err: `-service "ndt/ndt7?x=1" is not of the form experiment/datatype, e.g. ndt/ndt7 or wehe/replay` + help},
		{name: "service a/b/c", args: probe("-service=a/b/c"), err: `-service "a/b/c" is not of the form experiment/datatype, e.g. ndt/ndt7 or wehe/replay` + help},
		{name: "service ..", args: probe("-service=../x"), err: `-service "../x" is not of the form experiment/datatype, e.g. ndt/ndt7 or wehe/replay` + help},
		{name: "locate URL relative", args: probe("-locate-url=/v2/platform/monitoring/"), err: `-locate-url "/v2/platform/monitoring/" is not an absolute http(s) URL; the default is https://locate.measurementlab.net/v2/platform/monitoring/` + help},
		{name: "locate URL ftp", args: probe("-locate-url=ftp://locate.example/"), err: `-locate-url "ftp://locate.example/" is not an absolute http(s) URL; the default is https://locate.measurementlab.net/v2/platform/monitoring/` + help},
		{name: "locate URL unparsable", args: probe("-locate-url=http://[::1"), err: `-locate-url "http://[::1" is not an absolute http(s) URL; the default is https://locate.measurementlab.net/v2/platform/monitoring/` + help},
		{name: "locate URL plain http", args: probe("-locate-url=http://locate.example/v2/platform/monitoring/"), err: "-locate-url http://locate.example/v2/platform/monitoring/ uses plain http to a host that is not loopback and would send the token in clear text; use https, or add -insecure if you mean it" + help},
		{name: "locate URL with a password", args: probe("-locate-url=https://u:secret@locate.example/"), err: "-locate-url https://u:xxxxx@locate.example/ carries user information; locate takes none, and it would be sent along with the token" + help},
		{name: "locate URL plain http, insecure", args: probe("-locate-url=http://locate.example/v2/platform/monitoring/?early_exit=250", "-insecure"), want: map[string]string{"locateURL": "http://locate.example/v2/platform/monitoring/?early_exit=250", "insecure": "true"}},
		{name: "locate URL plain http to loopback", args: probe("-locate-url=http://127.0.0.1:8080/v2/platform/monitoring/"), want: map[string]string{"locateURL": "http://127.0.0.1:8080/v2/platform/monitoring/", "insecure": "false"}},
		{name: "lifetime too short", args: probe("-token-lifetime=0s"), err: "-token-lifetime 0s is out of range; use 1s to 1h0m0s" + help},
		{name: "lifetime too long", args: probe("-token-lifetime=2h"), err: "-token-lifetime 2h0m0s is out of range; use 1s to 1h0m0s" + help},
		{name: "lifetime at the bounds", args: probe("-token-lifetime=1h"), want: map[string]string{"tokenLifetime": "1h0m0s"}},
		{name: "timeout zero", args: probe("-timeout=0s"), err: "-timeout 0s must be positive" + help},
		{name: "kill-after negative", args: probe("-kill-after=-1s"), err: "-kill-after -1s must be positive" + help},
		{name: "cache-ttl too long", args: probe("-cache-dir=/tmp/c", "-cache-ttl=25h"), err: "-cache-ttl 25h0m0s is out of range; use 1s to 24h0m0s" + help},
		{name: "cache-ttl too short", args: probe("-cache-dir=/tmp/c", "-cache-ttl=500ms"), err: "-cache-ttl 500ms is out of range; use 1s to 24h0m0s" + help},
		{name: "stale-if-error negative", args: probe("-cache-dir=/tmp/c", "-stale-if-error=-1s"), err: "-stale-if-error -1s must not be negative" + help},
		{name: "cache", args: probe("-cache-dir=/tmp/c", "-cache-ttl=1h", "-stale-if-error=2h"), want: map[string]string{"cacheDir": "/tmp/c", "cacheTTL": "1h0m0s", "staleIfError": "2h0m0s"}},
		{name: "metrics file not .prom", args: probe("-metrics-file=probe.txt"), err: "-metrics-file probe.txt does not end in .prom, and node_exporter's textfile collector reads nothing else (- writes to stdout)" + help},
		{name: "metrics file", args: probe("-metrics-file=/var/lib/node_exporter/ndt7.prom"), want: map[string]string{"metricsFile": "/var/lib/node_exporter/ndt7.prom"}},
		{name: "metrics on stdout", args: probe("-metrics-file=-"), want: map[string]string{"metricsFile": "-"}},
		{name: "bad duration", args: probe("-timeout=soon"), err: `invalid value "soon" for flag -timeout: not a duration, e.g. 40s or 1m30s` + help},
		{name: "a bare number gets a unit hint", args: append(probe()[:2], "-timeout", "5", "--", "true"), err: `invalid value "5" for flag -timeout: 5 has no unit; add one, e.g. 5s` + help},
		{name: "a bare number from a variable", args: probe(), env: []string{"MONITORING_TOKEN_KILL_AFTER=2"}, err: "environment variable MONITORING_TOKEN_KILL_AFTER: invalid value for -kill-after: 2 has no unit; add one, e.g. 2s" + help},
		{name: "a bare fraction", args: probe("-kill-after=1.5"), err: `invalid value "1.5" for flag -kill-after: 1.5 has no unit; add one, e.g. 1.5s` + help},
		{name: "the issue-24 -ca-file", args: probe("-ca-file=/etc/monitoring-token/ca.pem"), want: map[string]string{"caFile": "/etc/monitoring-token/ca.pem"}},

		// Defaults per service, and what the command line says instead.
		{name: "ndt5", args: probe("-service=ndt/ndt5"), want: map[string]string{"serviceURL": "true", "envNames": "MONITORING_URL", "urlKey": "wss://:3010/ndt_protocol"}},
		{name: "wehe asks locate itself", args: probe("-service=wehe/replay"), want: map[string]string{"serviceURL": "false", "envNames": "MONITORING_URL", "urlKey": "wss://:4443/v0/envelope/access"}},
		{name: "neubot", args: probe("-service=neubot/dash"), want: map[string]string{"serviceURL": "true", "envNames": "MONITORING_URL", "urlKey": "https:///negotiate/dash"}},
		{name: "iperf3", args: probe("-service=iperf3/test"), want: map[string]string{"serviceURL": "true", "envNames": "MONITORING_URL", "urlKey": "wss:///v0/envelope/access"}},
		{name: "a service without defaults", args: probe("-service=other/thing"), want: map[string]string{"serviceURL": "true", "envNames": "MONITORING_URL", "urlKey": ""}},
		{name: "a service without defaults, locate-URL mode", args: probe("-service=other/thing", "-service-url=false"), want: map[string]string{"serviceURL": "false", "envNames": "MONITORING_URL"}},
		{name: "ndt7 -env-name", args: probe("-env-name=SERVICE_URL"), want: map[string]string{"envName": "SERVICE_URL", "envNames": "SERVICE_URL"}},
		{name: "ndt7 -service-url-key-name", args: probe("-service-url-key-name=wss:///ndt/v7/upload"), want: map[string]string{"urlKey": "wss:///ndt/v7/upload", "envNames": "MONITORING_URL SERVICE_URL"}},
		{name: "ndt7 -export", args: probe("-export=DL=wss:///ndt/v7/download", "-export", "UL=wss:///ndt/v7/upload"), want: map[string]string{"exports": "DL=wss:///ndt/v7/download UL=wss:///ndt/v7/upload", "serviceURL": "true"}},
		{name: "ndt7 -export-all", args: probe("-export-all=P"), want: map[string]string{"exportAll": "P", "serviceURL": "true"}},
		{name: "ndt7 -service-url=false -env-name", args: probe("-service-url=false", "-env-name=LOCATE_REQUEST"), want: map[string]string{"serviceURL": "false", "envNames": "LOCATE_REQUEST"}},
		{name: "wehe -service-url", args: probe("-service=wehe/replay", "-service-url"), want: map[string]string{"serviceURL": "true", "envNames": "MONITORING_URL"}},
		{name: "wehe -service-url-key-name selects service URLs", args: probe("-service=wehe/replay", "-service-url-key-name=wss://:4443/v0/envelope/access"), want: map[string]string{"serviceURL": "true"}},
		{name: "wehe -export selects service URLs", args: probe("-service=wehe/replay", "-export=W=wss://:4443/v0/envelope/access"), want: map[string]string{"serviceURL": "true", "exports": "W=wss://:4443/v0/envelope/access"}},
		{name: "wehe -export-all selects service URLs", args: probe("-service=wehe/replay", "-export-all=W"), want: map[string]string{"serviceURL": "true"}},
		{name: "wehe -token-env-name selects service URLs", args: probe("-service=wehe/replay", "-token-env-name=T"), want: map[string]string{"serviceURL": "true", "tokenEnvName": "T"}},
		{name: "wehe -env-name", args: probe("-service=wehe/replay", "-env-name=W"), want: map[string]string{"serviceURL": "false", "envNames": "W"}},
		{
			name: "wehe with an export from the environment",
			args: probe("-service=wehe/replay"),
			env:  []string{"MONITORING_TOKEN_EXPORT=W=wss://:4443/v0/envelope/access"},
			want: map[string]string{"serviceURL": "false", "exports": "", "ignored": "MONITORING_TOKEN_EXPORT (-export has no effect in wehe/replay's default mode, -service-url=false: the command asks locate itself)"},
		},
		{name: "wehe with -service-url from the environment", args: probe("-service=wehe/replay"), env: []string{"MONITORING_TOKEN_SERVICE_URL=true"}, want: map[string]string{"serviceURL": "true"}},
		{name: "wehe -service-url=false -export", args: probe("-service=wehe/replay", "-service-url=false", "-export=W=x"), err: "-export has no effect with -service-url=false: the command asks locate itself; remove it" + help},

		// The issue-23 rule: no locate-URL mode that leaves the client
		// testing the nearest server.
		{name: "ndt7 -service-url=false", args: probe("-service-url=false"), err: "-service-url=false leaves the standard client of ndt/ndt7 without a URL it reads, so it would test the server nearest to it, not " + machine + "; drop it, or name the variable of a client that asks locate itself with -env-name" + help},
		{name: "ndt7 -service-url=false from the environment", args: probe(), env: []string{"MONITORING_TOKEN_SERVICE_URL=false"}, err: "-service-url (from MONITORING_TOKEN_SERVICE_URL)=false leaves the standard client of ndt/ndt7 without a URL it reads, so it would test the server nearest to it, not " + machine + "; drop it, or name the variable of a client that asks locate itself with -env-name" + help},
		{name: "ndt5 -service-url=false", args: probe("-service=ndt/ndt5", "-service-url=false"), err: "-service-url=false leaves the standard client of ndt/ndt5 without a URL it reads, so it would test the server nearest to it, not " + machine + "; drop it, or name the variable of a client that asks locate itself with -env-name" + help},
		{name: "ndt7 -service-url=false -env-name from the environment", args: probe("-service-url=false"), env: []string{"MONITORING_TOKEN_ENV_NAME=LOCATE_REQUEST"}, want: map[string]string{"serviceURL": "false", "envNames": "LOCATE_REQUEST"}},

		// Flags without effect: refused on the command line, dropped
		// from the environment.
		{name: "token variable without locate", args: probe("-service-url=false", "-env-name=X", "-token-env-name=T"), err: "-token-env-name has no effect with -service-url=false: the command asks locate itself; remove it" + help},
		{name: "URL key without locate", args: probe("-service-url=false", "-env-name=X", "-service-url-key-name=x"), err: "-service-url-key-name has no effect with -service-url=false: the command asks locate itself; remove it" + help},
		{name: "export-all without locate", args: probe("-service-url=false", "-env-name=X", "-export-all=P"), err: "-export-all has no effect with -service-url=false: the command asks locate itself; remove it" + help},
		{name: "kill-after with print", args: printing("-kill-after=1s"), err: "-kill-after has no effect with -print: no command runs; remove it" + help},
		{name: "show-output with print", args: printing("-show-output"), err: "-show-output has no effect with -print: no command runs; remove it" + help},
		{name: "cache-dir with print", args: printing("-cache-dir=/tmp/c"), err: "-cache-dir has no effect with -print: no command runs; remove it" + help},
		{name: "metrics on stdout with print", args: printing("-metrics-file=-"), err: "-metrics-file has no effect with -print: no command runs; remove it" + help},
		{name: "the issue-22 -pass-if-cannot-run", args: probe("-pass-if-cannot-run"), want: map[string]string{"passIfCannotRun": "true"}},
		{name: "-pass-if-cannot-run with print", args: printing("-pass-if-cannot-run"), err: "-pass-if-cannot-run has no effect with -print: no command runs; remove it" + help},
		{
			name: "-pass-if-cannot-run from the environment with print",
			args: printing(),
			env:  []string{"MONITORING_TOKEN_PASS_IF_CANNOT_RUN=true"},
			want: map[string]string{"passIfCannotRun": "false", "ignored": "MONITORING_TOKEN_PASS_IF_CANNOT_RUN (-pass-if-cannot-run has no effect with -print: no command runs)", "flags": "MONITORING_TOKEN_PASS_IF_CANNOT_RUN (-pass-if-cannot-run)"},
		},
		{name: "cache-ttl without cache-dir", args: probe("-cache-ttl=1m"), err: "-cache-ttl has no effect without -cache-dir; remove it" + help},
		{name: "stale-if-error without cache-dir", args: probe("-stale-if-error=1h"), err: "-stale-if-error has no effect without -cache-dir; remove it" + help},
		{name: "env-name with export", args: probe("-export=A=x", "-env-name=B"), err: "-env-name has no effect with -export, which names the variables itself; remove it" + help},
		{name: "key with export-all", args: probe("-export-all=P", "-service-url-key-name=x"), err: "-service-url-key-name has no effect with -export-all, which names the variables itself; remove it" + help},
		{name: "export and export-all", args: probe("-export=A=x", "-export-all=P"), err: "give -export or -export-all, not both" + help},
		{name: "both exports from the environment", args: probe(), env: []string{"MONITORING_TOKEN_EXPORT=A=x", "MONITORING_TOKEN_EXPORT_ALL=P"}, err: "give -export (from MONITORING_TOKEN_EXPORT) or -export-all (from MONITORING_TOKEN_EXPORT_ALL), not both" + help},
		{name: "command line against the environment's -print", args: []string{"-monitoring-signer-key=" + signerKey, "-machine=" + machine, "-kill-after=1s"}, env: []string{"MONITORING_TOKEN_PRINT=true"}, err: "-kill-after has no effect with -print (from MONITORING_TOKEN_PRINT): no command runs; remove it" + help},
		{
			name: "ignored from the environment with print",
			args: printing("-logx.debug"),
			env:  []string{"MONITORING_TOKEN_KILL_AFTER=1s", "MONITORING_TOKEN_CACHE_DIR=/tmp/c", "MONITORING_TOKEN_CACHE_TTL=1m"},
			want: map[string]string{
				"killAfter": "5s", "cacheDir": "", "cacheTTL": "10m0s", "debug": "true",
				"ignored": "MONITORING_TOKEN_KILL_AFTER (-kill-after has no effect with -print: no command runs); MONITORING_TOKEN_CACHE_DIR (-cache-dir has no effect with -print: no command runs); MONITORING_TOKEN_CACHE_TTL (-cache-ttl has no effect without -cache-dir)",
				"flags":   "MONITORING_TOKEN_CACHE_DIR (-cache-dir), MONITORING_TOKEN_CACHE_TTL (-cache-ttl), MONITORING_TOKEN_KILL_AFTER (-kill-after)",
			},
		},
		{
			name: "export from the environment, export-all given",
			args: probe("-export-all=P"),
			env:  []string{"MONITORING_TOKEN_EXPORT=DL=wss:///ndt/v7/download"},
			want: map[string]string{"exports": "", "exportAll": "P", "ignored": "MONITORING_TOKEN_EXPORT (-export has no effect with -export-all)"},
		},
		{
			name: "export-all from the environment, export given",
			args: probe("-export=DL=wss:///ndt/v7/download"),
			env:  []string{"MONITORING_TOKEN_EXPORT_ALL=P", "MONITORING_TOKEN_ENV_NAME=X"},
			want: map[string]string{"exports": "DL=wss:///ndt/v7/download", "exportAll": "", "envName": "", "ignored": "MONITORING_TOKEN_EXPORT_ALL (-export-all has no effect with -export); MONITORING_TOKEN_ENV_NAME (-env-name has no effect with -export, which names the variables itself)"},
		},
		{
			name: "several exports in one variable",
			args: probe(),
			env:  []string{"MONITORING_TOKEN_EXPORT=DL=wss:///ndt/v7/download  UL=wss:///ndt/v7/upload"},
			want: map[string]string{"exports": "DL=wss:///ndt/v7/download UL=wss:///ndt/v7/upload"},
		},

		// Names of the variables the command gets.
		{name: "env name invalid", args: probe("-env-name=1URL"), err: `-env-name "1URL" is not a valid environment variable name (letters, digits, _; not starting with a digit)` + help},
		{name: "token env name invalid", args: probe("-token-env-name=A-B"), err: `-token-env-name "A-B" is not a valid environment variable name (letters, digits, _; not starting with a digit)` + help},
		{name: "export-all prefix invalid", args: probe("-export-all=9P"), err: `-export-all "9P" is not a valid environment variable name (letters, digits, _; not starting with a digit)` + help},
		{name: "export twice", args: probe("-export=DL=wss:///ndt/v7/download", "-export=DL=wss:///ndt/v7/upload"), err: `invalid value "DL=wss:///ndt/v7/upload" for flag -export: DL is exported twice; give each -export a name of its own` + help},
		{name: "export name invalid", args: probe("-export=1DL=x"), err: `invalid value "1DL=x" for flag -export: "1DL=x": "1DL" is not a valid environment variable name (letters, digits, _; not starting with a digit)` + help},
		{name: "export without a key", args: probe("-export=DL"), err: `invalid value "DL" for flag -export: "DL" is not NAME=KEY, e.g. UL=wss:///ndt/v7/upload` + help},
		{name: "export empty", args: probe("-export="), err: `invalid value "" for flag -export: want NAME=KEY, e.g. UL=wss:///ndt/v7/upload` + help},
		{name: "export and token name the same", args: probe("-export=T=wss:///ndt/v7/download", "-token-env-name=T"), err: "-export and -token-env-name both name T; choose two names" + help},
		{name: "env-name and token name the same", args: probe("-env-name=X", "-token-env-name=X"), err: "-env-name and -token-env-name both name X; choose two names" + help},
		{name: "the token in ndt7's default SERVICE_URL", args: probe("-token-env-name=SERVICE_URL"), err: "the default for ndt/ndt7 and -token-env-name both name SERVICE_URL; choose two names" + help},
		{name: "the token from the environment in SERVICE_URL", args: probe(), env: []string{"MONITORING_TOKEN_TOKEN_ENV_NAME=SERVICE_URL"}, err: "the default for ndt/ndt7 and -token-env-name (from MONITORING_TOKEN_TOKEN_ENV_NAME) both name SERVICE_URL; choose two names" + help},
		{name: "-env-name PATH", args: probe("-env-name=PATH"), err: "-env-name PATH is a variable processes need (PATH, HOME, LD_*, proxies, Go's settings…), and the URL in it would break the command; choose another name" + help},
		{name: "-env-name path", args: probe("-env-name=path"), err: "-env-name path is a variable processes need (PATH, HOME, LD_*, proxies, Go's settings…), and the URL in it would break the command; choose another name" + help},
		{name: "-env-name LC_ALL", args: probe("-env-name=LC_ALL"), err: "-env-name LC_ALL is a variable processes need (PATH, HOME, LD_*, proxies, Go's settings…), and the URL in it would break the command; choose another name" + help},
		{name: "-export LD_PRELOAD", args: probe("-export=LD_PRELOAD=wss:///ndt/v7/download"), err: "-export LD_PRELOAD is a variable processes need (PATH, HOME, LD_*, proxies, Go's settings…), and the URL in it would break the command; choose another name" + help},
		{name: "-export-all HOME", args: probe("-export-all=HOME"), want: map[string]string{"exportAll": "HOME"}},
		{name: "-token-env-name HOME", args: probe("-token-env-name=HOME"), err: "-token-env-name HOME is a variable processes need (PATH, HOME, LD_*, proxies, Go's settings…), and the URL in it would break the command; choose another name" + help},
		{name: "-token-env-name GODEBUG", args: probe("-token-env-name=GODEBUG"), err: "-token-env-name GODEBUG is a variable processes need (PATH, HOME, LD_*, proxies, Go's settings…), and the URL in it would break the command; choose another name" + help},

		// Variables: which are read, and which wins.
		{
			name: "shared names and prefixed ones",
			args: []string{"--", "true"},
			env:  []string{"LOCATE_URL=http://127.0.0.1:1/v2/platform/monitoring/", "MONITORING_SIGNER_KEY=/k.jwk", "MONITORING_TOKEN_MACHINE=" + machine, "MONITORING_TOKEN_SERVICE=wehe/replay", "MONITORING_TOKEN_SERVICE_URL=true"},
			want: map[string]string{
				"locateURL": "http://127.0.0.1:1/v2/platform/monitoring/", "keyPath": "/k.jwk", "machine": machine, "service": "wehe/replay", "serviceURL": "true",
				"flags":      "LOCATE_URL (-locate-url), MONITORING_TOKEN_MACHINE (-machine), MONITORING_SIGNER_KEY (-monitoring-signer-key), MONITORING_TOKEN_SERVICE (-service), MONITORING_TOKEN_SERVICE_URL (-service-url)",
				"configVars": "LOCATE_URL MONITORING_SIGNER_KEY MONITORING_TOKEN_MACHINE MONITORING_TOKEN_SERVICE MONITORING_TOKEN_SERVICE_URL",
			},
		},
		{
			name: "prefixed names for every flag",
			args: []string{"--", "true"},
			env: []string{
				"MONITORING_TOKEN_LOCATE_URL=http://localhost/", "MONITORING_TOKEN_MONITORING_SIGNER_KEY=/k.jwk", "MONITORING_TOKEN_MACHINE=" + machine,
				"MONITORING_TOKEN_SERVICE=ndt/ndt7", "MONITORING_TOKEN_TIMEOUT=30s", "MONITORING_TOKEN_KILL_AFTER=1s", "MONITORING_TOKEN_ENV_NAME=X",
				"MONITORING_TOKEN_SERVICE_URL=true", "MONITORING_TOKEN_SERVICE_URL_KEY_NAME=wss:///ndt/v7/upload", "MONITORING_TOKEN_TOKEN_ENV_NAME=T",
				"MONITORING_TOKEN_TOKEN_LIFETIME=2m", "MONITORING_TOKEN_SHOW_OUTPUT=true", "MONITORING_TOKEN_CACHE_DIR=/c", "MONITORING_TOKEN_CACHE_TTL=1m",
				"MONITORING_TOKEN_STALE_IF_ERROR=1h", "MONITORING_TOKEN_PASS_IF_CANNOT_RUN=true", "MONITORING_TOKEN_METRICS_FILE=/m.prom",
				"MONITORING_TOKEN_INSECURE=true", "MONITORING_TOKEN_CA_FILE=/ca.pem", "MONITORING_TOKEN_LOGX_DEBUG=true",
			},
			want: map[string]string{
				"locateURL": "http://localhost/", "keyPath": "/k.jwk", "machine": machine, "service": "ndt/ndt7", "timeout": "30s", "killAfter": "1s",
				"envNames": "X", "serviceURL": "true", "urlKey": "wss:///ndt/v7/upload", "tokenEnvName": "T", "tokenLifetime": "2m0s", "showOutput": "true",
				"cacheDir": "/c", "cacheTTL": "1m0s", "staleIfError": "1h0m0s", "passIfCannotRun": "true", "metricsFile": "/m.prom", "insecure": "true",
				"caFile": "/ca.pem", "debug": "true", "print": "false", "ignored": "",
			},
		},
		{name: "print from the environment", args: printing()[:2], env: []string{"MONITORING_TOKEN_PRINT=true"}, want: map[string]string{"print": "true"}},
		{name: "export-all from the environment", args: probe(), env: []string{"MONITORING_TOKEN_EXPORT_ALL=P"}, want: map[string]string{"exportAll": "P"}},
		{
			name: "the prefixed name wins over the shared one",
			args: probe(),
			env:  []string{"MONITORING_TOKEN_LOCATE_URL=http://127.0.0.1:2/", "LOCATE_URL=http://127.0.0.1:1/"},
			want: map[string]string{"locateURL": "http://127.0.0.1:2/", "flags": "MONITORING_TOKEN_LOCATE_URL (-locate-url)", "configVars": "LOCATE_URL MONITORING_TOKEN_LOCATE_URL"},
		},
		{
			name: "the command line wins over the environment",
			args: probe("-timeout=10s", "-locate-url=http://127.0.0.1:3/"),
			env:  []string{"MONITORING_TOKEN_MACHINE=nonsense", "MONITORING_TOKEN_TIMEOUT=30", "LOCATE_URL=http://127.0.0.1:1/", "MONITORING_SIGNER_KEY=/k.jwk"},
			want: map[string]string{"machine": machine, "timeout": "10s", "locateURL": "http://127.0.0.1:3/", "keyPath": signerKey, "flags": "", "configVars": "LOCATE_URL MONITORING_SIGNER_KEY MONITORING_TOKEN_MACHINE MONITORING_TOKEN_TIMEOUT"},
		},
		{
			name: "clients' variables are not read",
			args: probe(),
			env:  []string{"SERVICE_URL=https://example.org/ndt", "TIMEOUT=30", "MACHINE=nonsense", "SERVICE=nonsense", "ENV_NAME=1BAD", "PRINT=true"},
			want: map[string]string{"machine": machine, "timeout": "1m0s", "service": "ndt/ndt7", "print": "false", "envNames": "MONITORING_URL SERVICE_URL", "configVars": "", "flags": ""},
		},
		{name: "a bad prefixed value is refused", args: probe(), env: []string{"MONITORING_TOKEN_TIMEOUT=30"}, err: "environment variable MONITORING_TOKEN_TIMEOUT: invalid value for -timeout: 30 has no unit; add one, e.g. 30s" + help},
		{name: "a bad value from a shared name", args: probe(), env: []string{"LOCATE_URL=/relative"}, err: `-locate-url (from LOCATE_URL) "/relative" is not an absolute http(s) URL; the default is https://locate.measurementlab.net/v2/platform/monitoring/` + help},
		{
			name: "configuration the command does not inherit",
			args: append(probe()[:1:1], "-env-name=SERVICE_URL", "-logx.debug", "--", "sh"),
			env: []string{
				"LOCATE_URL=http://127.0.0.1:1/", "MONITORING_SIGNER_KEY=/k.jwk", "MONITORING_TOKEN_MACHINE=" + machine, "MONITORING_TOKEN_TIMEOUT=",
				"MONITORING_TOKEN_SERVICE_URL_KEY_NAME=wss:///ndt/v7/download", "LOGX_DEBUG=false", "SERVICE_URL=stale", "UNRELATED=kept",
			},
			want: map[string]string{
				"configVars": "LOCATE_URL MONITORING_SIGNER_KEY MONITORING_TOKEN_MACHINE MONITORING_TOKEN_SERVICE_URL_KEY_NAME MONITORING_TOKEN_TIMEOUT",
				"timeout":    "1m0s", "debug": "true", "keyPath": signerKey,
				"flags": "LOCATE_URL (-locate-url), MONITORING_TOKEN_MACHINE (-machine), MONITORING_TOKEN_SERVICE_URL_KEY_NAME (-service-url-key-name)",
			},
		},
		{name: "-version from a variable is not read", args: probe(), env: []string{"MONITORING_TOKEN_VERSION=true", "VERSION=1.2.3"}, want: map[string]string{"version": "false", "configVars": ""}},
		{name: "-read-env from a variable is not read", args: probe(), env: []string{"MONITORING_TOKEN_READ_ENV=false", "MONITORING_TOKEN_TIMEOUT=5s"}, want: map[string]string{"readEnv": "true", "timeout": "5s", "configVars": "MONITORING_TOKEN_TIMEOUT"}},

		// -read-env=false: nothing from the environment but
		// SCRIPT_DEADLINE; present configuration still not inherited.
		{
			name: "-read-env=false",
			args: probe("-read-env=false"),
			env: []string{
				"MONITORING_TOKEN_TIMEOUT=5s", "LOCATE_URL=http://127.0.0.1:1/", "MONITORING_TOKEN_CA_FILE=/ca.pem", "MONITORING_TOKEN_PRINT=true",
				"LOGX_DEBUG=true", "SERVICE=wehe/replay", "TIMEOUT=30s", "GODEBUG=http2debug=2",
			},
			want: map[string]string{
				"readEnv": "false", "timeout": "1m0s", "locateURL": ndt7["locateURL"], "caFile": "", "print": "false", "debug": "false",
				"warning": "", "flags": "", "configVars": "LOCATE_URL MONITORING_TOKEN_CA_FILE MONITORING_TOKEN_PRINT MONITORING_TOKEN_TIMEOUT",
			},
		},
		{name: "-read-env=false and the required flags", args: []string{"-read-env=false", "--", "true"}, env: []string{"MONITORING_SIGNER_KEY=/k.jwk", "MONITORING_TOKEN_MACHINE=" + machine}, err: "-monitoring-signer-key (or MONITORING_SIGNER_KEY) is required: the path of the private JWK" + help},
		{name: "-read-env=false and a bad variable", args: probe("-read-env=false"), env: []string{"MONITORING_TOKEN_TIMEOUT=30", "LOGX_DEBUG=yes"}, want: map[string]string{"timeout": "1m0s"}},
		{name: "-read-env=false and SCRIPT_DEADLINE", args: probe("-read-env=false", "-kill-after=2s"), env: []string{deadline(10)}, want: map[string]string{"deadline": "1700000010", "deadlineCut": "true", "killAfter": "950ms", "timeout": "8.55s"}},

		// Go's own variables.
		{name: "GODEBUG http2debug", args: probe(), env: []string{"GODEBUG=x509sha1=1,http2debug=1"}, err: "GODEBUG holds http2debug, which makes net/http print request headers on stderr, the token in locate's URL included: unset it (see Secrets in docs/operations.md)"},
		{name: "GODEBUG otherwise", args: probe(), env: []string{"GODEBUG=gctrace=1"}, want: ndt7},

		// LOGX_DEBUG, shared with M-Lab's clients.
		{name: "-logx.debug", args: probe("-logx.debug"), want: map[string]string{"debug": "true"}},
		{name: "LOGX_DEBUG=true", args: probe(), env: []string{"LOGX_DEBUG=true"}, want: map[string]string{"debug": "true", "configVars": "", "flags": "LOGX_DEBUG (-logx.debug)"}},
		{name: "LOGX_DEBUG=yes is warned about", args: probe(), env: []string{"LOGX_DEBUG=yes"}, want: map[string]string{"debug": "false", "configVars": "", "flags": ""}, log: "monitoring-token: warning: LOGX_DEBUG=\"yes\" is not true or false; ignored, debug stays off\n"},
		{
			name: "a bad MONITORING_TOKEN_LOGX_DEBUG, then LOGX_DEBUG",
			args: probe(),
			env:  []string{"MONITORING_TOKEN_LOGX_DEBUG=on", "LOGX_DEBUG=true"},
			want: map[string]string{"debug": "true", "configVars": "MONITORING_TOKEN_LOGX_DEBUG", "flags": "LOGX_DEBUG (-logx.debug)"},
			log:  "monitoring-token: warning: MONITORING_TOKEN_LOGX_DEBUG=\"on\" is not true or false; ignored, debug stays off\n",
		},
		{name: "-logx.debug=yes on the command line", args: probe("-logx.debug=yes"), err: `invalid boolean value "yes" for -logx.debug: strconv.ParseBool: parsing "yes": invalid syntax` + help},

		// The original's variables, set but not read.
		{
			name: "each renamed variable not given another way is named",
			args: probe(),
			env:  []string{"MACHINE=" + machine, "SERVICE=ndt/ndt7", "ENV_NAME=X", "SERVICE_URL=true", "SERVICE_URL_KEY_NAME=wss:///ndt/v7/download"},
			want: map[string]string{"warning": "warning: SERVICE, ENV_NAME, SERVICE_URL, SERVICE_URL_KEY_NAME set but not read (the original monitoring-token's names); use MONITORING_TOKEN_SERVICE, MONITORING_TOKEN_ENV_NAME, MONITORING_TOKEN_SERVICE_URL, MONITORING_TOKEN_SERVICE_URL_KEY_NAME"},
		},
		{
			name: "renamed variables given by flag or variable",
			args: probe("-service=ndt/ndt7", "-env-name=SERVICE_URL"),
			env:  []string{"SERVICE=ndt/ndt7", "ENV_NAME=X", "SERVICE_URL=false", "MONITORING_TOKEN_SERVICE_URL=true"},
			want: map[string]string{"warning": ""},
		},
		{name: "a client's SERVICE_URL", args: probe(), env: []string{"SERVICE_URL=wss://example.org/ndt/v7/download"}, want: map[string]string{"warning": ""}},
		{name: "the original's TIMEOUT", args: probe(), env: []string{"TIMEOUT=30s"}, want: map[string]string{"warning": "warning: TIMEOUT set but not read (the original monitoring-token's names); use MONITORING_TOKEN_TIMEOUT"}},
		{name: "an empty TIMEOUT", args: probe(), env: []string{"TIMEOUT="}, want: map[string]string{"warning": ""}},
		{name: "TIMEOUT given by flag", args: probe("-timeout=30s"), env: []string{"TIMEOUT=30s"}, want: map[string]string{"warning": ""}},
		{name: "the warning with an error", args: probe("-token-lifetime=0s"), env: []string{"TIMEOUT=30s"}, err: "-token-lifetime 0s is out of range; use 1s to 1h0m0s" + help, want: map[string]string{"warning": "warning: TIMEOUT set but not read (the original monitoring-token's names); use MONITORING_TOKEN_TIMEOUT"}},
		{name: "renamed variables with -read-env=false", args: probe("-read-env=false"), env: []string{"SERVICE=ndt/ndt7", "SERVICE_URL=false"}, want: map[string]string{"warning": ""}},

		// SCRIPT_DEADLINE only ever shortens the run.
		{name: "a far deadline", args: probe(), env: []string{deadline(600)}, want: map[string]string{"deadline": "1700000600", "deadlineCut": "false", "timeout": "1m0s", "killAfter": "5s"}},
		{name: "a near deadline", args: probe("-kill-after=2s"), env: []string{deadline(10)}, want: map[string]string{"deadlineCut": "true", "killAfter": "950ms", "timeout": "8.55s"}},
		{name: "an empty deadline", args: probe(), env: []string{"SCRIPT_DEADLINE="}, want: map[string]string{"deadline": "", "timeout": "1m0s"}},
		{name: "not a Unix time", args: probe(), env: []string{"SCRIPT_DEADLINE=soon"}, want: map[string]string{"deadline": ""}, log: "monitoring-token: warning: SCRIPT_DEADLINE=\"soon\" is not a Unix time; ignored\n"},
		{
			name: "no time left",
			args: probe(),
			env:  []string{deadline(0.3)},
			err:  "SCRIPT_DEADLINE " + time.Unix(1_700_000_000, 300_000_000).Format(time.RFC3339Nano) + " leaves 300ms, not more than the 500ms margin monitoring-token keeps; nothing was run: raise scrape_timeout (and the exporter's timeout)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As main sets the standard logger; -logx.debug sets m-lab/go's
			// global, so the rows do not run in parallel.
			var logged bytes.Buffer
			w, flags, prefix := log.Writer(), log.Flags(), log.Prefix()
			log.SetOutput(&logged)
			log.SetFlags(0)
			log.SetPrefix("monitoring-token: ")
			logx.LogxDebug.Set("false")
			t.Cleanup(func() {
				log.SetOutput(w)
				log.SetFlags(flags)
				log.SetPrefix(prefix)
				logx.LogxDebug.Set("false")
			})
			cfg, err := parseConfig(tt.args, env(tt.env), parseNow)
			switch {
			case err != nil && tt.err == "":
				t.Fatalf("parseConfig: %q", explain(err))
			case err == nil && tt.err != "":
				t.Fatalf("parseConfig: no error, want %q", tt.err)
			case err != nil && explain(err) != tt.err:
				t.Errorf("parseConfig: %q\nwant            %q", explain(err), tt.err)
			}
			if got := logged.String(); got != tt.log {
				t.Errorf("logged %q, want %q", got, tt.log)
			}
			if tt.want == nil {
				return
			}
			if cfg == nil {
				t.Fatalf("parseConfig returned no config")
			}
			got := fields(cfg)
			for name, want := range tt.want {
				if v, ok := got[name]; !ok {
					t.Errorf("no field %s", name)
				} else if v != want {
					t.Errorf("%s = %q, want %q", name, v, want)
				}
			}
		})
	}
}

// TestConfigNames: the variables each flag is read from, as -h lists
// them.
func TestConfigNames(t *testing.T) {
	for _, tt := range []struct{ flag, want string }{
		{"machine", "MONITORING_TOKEN_MACHINE"},
		{"service-url-key-name", "MONITORING_TOKEN_SERVICE_URL_KEY_NAME"},
		{"locate-url", "MONITORING_TOKEN_LOCATE_URL LOCATE_URL"},
		{"monitoring-signer-key", "MONITORING_TOKEN_MONITORING_SIGNER_KEY MONITORING_SIGNER_KEY"},
		{"logx.debug", "MONITORING_TOKEN_LOGX_DEBUG LOGX_DEBUG"},
		{"version", ""},
		{"read-env", ""},
	} {
		if got := strings.Join(configNames.Of(tt.flag), " "); got != tt.want {
			t.Errorf("-%s is read from %q, want %q", tt.flag, got, tt.want)
		}
	}
}
