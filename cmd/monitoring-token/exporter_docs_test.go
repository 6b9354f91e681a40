package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	osexec "os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/monitoring-token/monitoring-token/internal/metrics/metricstest"
	"github.com/monitoring-token/monitoring-token/token"
)

// The docs' script_exporter and Prometheus configurations are decoded
// strictly against the fields the exporters know (an unknown field, or a
// string where the exporter wants a list, is an error, as it is when the
// exporter loads it), and each script runs through a stand-in that
// behaves like the exporter.

// v3Config mirrors ricoberger/script_exporter v3's configuration.
type v3Config struct {
	Scripts []v3Script `yaml:"scripts"`
}

// v3Script is one script of v3's configuration.
type v3Script struct {
	Name              string            `yaml:"name"`
	Command           []string          `yaml:"command"`
	Args              []string          `yaml:"args"`
	Env               map[string]string `yaml:"env"`
	AllowEnvOverwrite bool              `yaml:"allow_env_overwrite"`
	Output            struct {
		Ignore        bool   `yaml:"ignore"`
		IgnoreOnError bool   `yaml:"ignore_on_error"`
		Format        string `yaml:"format"`
	} `yaml:"output"`
	Timeout struct {
		MaxTimeout float64 `yaml:"max_timeout"` // seconds
		Enforced   bool    `yaml:"enforced"`
		WaitDelay  float64 `yaml:"wait_delay"` // seconds
	} `yaml:"timeout"`
	Cache struct {
		Duration               float64 `yaml:"duration"`
		CacheOnError           bool    `yaml:"cache_on_error"`
		UseExpiredCacheOnError bool    `yaml:"use_expired_cache_on_error"`
	} `yaml:"cache"`
}

// forkConfig mirrors m-lab/script_exporter v1.2.0's configuration.
type forkConfig struct {
	Scripts []struct {
		Name    string  `yaml:"name"`
		Script  string  `yaml:"script"`
		Timeout float64 `yaml:"timeout"` // seconds
	} `yaml:"scripts"`
}

// scrapeConfig mirrors the part of Prometheus' configuration the docs use.
type scrapeConfig struct {
	ScrapeConfigs []struct {
		JobName        string              `yaml:"job_name"`
		MetricsPath    string              `yaml:"metrics_path"`
		Params         map[string][]string `yaml:"params"`
		ScrapeInterval string              `yaml:"scrape_interval"`
		ScrapeTimeout  string              `yaml:"scrape_timeout"`
		StaticConfigs  []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
		RelabelConfigs []struct {
			SourceLabels []string `yaml:"source_labels"`
			TargetLabel  string   `yaml:"target_label"`
			Replacement  string   `yaml:"replacement"`
			Regex        string   `yaml:"regex"`
			Action       string   `yaml:"action"`
		} `yaml:"relabel_configs"`
	} `yaml:"scrape_configs"`
}

// timeoutOffset is v3's default --script.timeout-offset.
const timeoutOffset = 0.5

// forkTarget is the pattern the fork checks ?target= against.
var forkTarget = regexp.MustCompile(`^[a-zA-Z0-9-.]{4,253}$`)

// decodeStrict decodes YAML text into v, refusing unknown fields.
func decodeStrict(text string, v any) error {
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// yamlKind says which configuration a YAML block is: "v3", "fork",
// "scrape" or "" for none of them.
func yamlKind(text string) string {
	var top map[string]any
	if yaml.Unmarshal([]byte(text), &top) != nil {
		return ""
	}
	if _, ok := top["scrape_configs"]; ok {
		return "scrape"
	}
	scripts, _ := top["scripts"].([]any)
	for _, s := range scripts {
		if m, _ := s.(map[string]any); m != nil {
			if _, ok := m["script"]; ok {
				return "fork"
			}
		}
	}
	if len(scripts) > 0 {
		return "v3"
	}
	return ""
}

func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		into       any
		ok         bool
	}{
		{name: "v3 lists", text: "scripts:\n  - name: a\n    command: [/bin/true]\n    args: [-x]\n", into: &v3Config{}, ok: true},
		{name: "v3 command as a string", text: "scripts:\n  - name: a\n    command: /bin/true\n", into: &v3Config{}},
		{name: "v3 args as a string", text: "scripts:\n  - name: a\n    command: [/bin/true]\n    args: -x\n", into: &v3Config{}},
		{name: "v3 unknown field", text: "scripts:\n  - name: a\n    command: [/bin/true]\n    script: x\n", into: &v3Config{}},
		{name: "fork", text: "scripts:\n  - name: a\n    script: true\n    timeout: 5\n", into: &forkConfig{}, ok: true},
		{name: "fork with v3's command", text: "scripts:\n  - name: a\n    command: [x]\n", into: &forkConfig{}},
		{name: "scrape unknown field", text: "scrape_configs:\n  - job_name: a\n    scrape_timout: 5s\n", into: &scrapeConfig{}},
	}
	for _, tt := range tests {
		if err := decodeStrict(tt.text, tt.into); (err == nil) != tt.ok {
			t.Errorf("%s: decodeStrict = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// exporterChecks returns a function that finds the check of a YAML block
// by what it configures.
func exporterChecks(t *testing.T) func(blocks []docBlock, b docBlock) (func(*testing.T, *docRun, docBlock), bool) {
	return func(blocks []docBlock, b docBlock) (func(*testing.T, *docRun, docBlock), bool) {
		if b.lang != "yaml" {
			return nil, false
		}
		switch yamlKind(b.text) {
		case "v3":
			return func(t *testing.T, r *docRun, b docBlock) { checkV3(t, r, blocks, b) }, true
		case "fork":
			return checkFork, true
		case "scrape":
			return func(t *testing.T, r *docRun, b docBlock) { checkScrape(t, blocks, b) }, true
		}
		return nil, false
	}
}

// runFlag returns the value of monitoring-token's flag in a command text,
// or def.
func runFlag(text, name string, def time.Duration) time.Duration {
	m := regexp.MustCompile(`(?:^|\s)--?` + regexp.QuoteMeta(name) + `[= ](\S+)`).FindStringSubmatch(text)
	if m == nil {
		return def
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		return -1
	}
	return d
}

// runBound is how long monitoring-token may run given its command text:
// -timeout plus -kill-after.
func runBound(text string) time.Duration {
	return runFlag(text, "timeout", 60*time.Second) + runFlag(text, "kill-after", 5*time.Second)
}

// v3Exchange is one scrape of the v3 stand-in.
type v3Exchange struct {
	exitCode int // -1 for a death by signal, as v3 reports it
	stderr   string
	metrics  map[string]float64 // monitoring_probe_* from stdout, by name
	// raw is stdout and stderr as the script wrote them, unredacted.
	raw string
}

// scrapeV3 runs script s as v3 does for /probe?script=NAME&query with a
// Prometheus scrape timeout: the environment is the exporter's, then the
// script's env:, then the query's parameters (overriding, except env:'s
// own keys unless allow_env_overwrite), then v3's SCRIPT_* variables. It
// keeps the Prometheus text of stdout.
func scrapeV3(t *testing.T, r *docRun, s v3Script, query map[string]string, scrapeTimeout float64) v3Exchange {
	t.Helper()
	if len(s.Command) == 0 {
		t.Fatalf("script %q has no command", s.Name)
	}
	env := map[string]string{}
	set := func(k, v string) { env[k] = r.replacer.Replace(v) }
	// The exporter's own environment holds no monitoring-token settings:
	// the script's command line has them all.
	for _, kv := range r.bare() {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	for k, v := range s.Env {
		set(k, v)
	}
	for k, v := range query {
		if _, own := s.Env[k]; own && !s.AllowEnvOverwrite {
			continue
		}
		env[k] = v
	}
	timeout := scrapeTimeout - timeoutOffset
	if s.Timeout.MaxTimeout > 0 {
		timeout = math.Min(timeout, s.Timeout.MaxTimeout)
	}
	deadline := time.Now().Add(time.Duration(timeout * float64(time.Second)))
	env["SCRIPT_TIMEOUT"] = strconv.FormatFloat(timeout, 'f', -1, 64)
	env["SCRIPT_DEADLINE"] = strconv.FormatFloat(float64(deadline.UnixNano())/1e9, 'f', 3, 64)
	env["SCRIPT_TIMEOUT_ENFORCED"] = "0"
	if s.Timeout.Enforced {
		env["SCRIPT_TIMEOUT_ENFORCED"] = "1"
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if !s.Timeout.Enforced {
		// Not the exporter's doing: a bound so that a hang fails the test.
		ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
	}
	argv := append(append([]string{}, s.Command...), s.Args...)
	for i := range argv {
		argv[i] = r.replacer.Replace(argv[i])
	}
	cmd := osexec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = r.dir
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil && !errors.As(err, new(*osexec.ExitError)) {
		t.Fatalf("script %q: %v", s.Name, err)
	}
	ex := v3Exchange{exitCode: cmd.ProcessState.ExitCode(), stderr: token.Redact(stderr.String()), metrics: map[string]float64{}, raw: stdout.String() + stderr.String()}
	// v3 appends what parses as Prometheus text; monitoring-token's
	// stdout must hold nothing else.
	families, err := metricstest.Parse(&stdout)
	if err != nil {
		t.Errorf("script %q: stdout is not Prometheus text: %v", s.Name, err)
	}
	for name, fam := range families {
		for _, m := range fam.Series {
			if v, ok := m.Labels["machine"]; ok && v != machine {
				t.Errorf("%s is about %q, want %q", name, v, machine)
			}
			if _, ok := ex.metrics[name]; !ok {
				ex.metrics[name] = m.Value
			}
		}
	}
	return ex
}

// scrapeTimeoutFor returns the scrape_timeout, in seconds, of the scrape
// configuration in the docs that asks for the script by name.
func scrapeTimeoutFor(t *testing.T, blocks []docBlock, param, name string) float64 {
	t.Helper()
	for _, b := range blocks {
		if b.lang != "yaml" || yamlKind(b.text) != "scrape" {
			continue
		}
		var c scrapeConfig
		if err := decodeStrict(b.text, &c); err != nil {
			continue
		}
		for _, sc := range c.ScrapeConfigs {
			if len(sc.Params[param]) == 1 && sc.Params[param][0] == name {
				d, err := time.ParseDuration(sc.ScrapeTimeout)
				if err != nil {
					t.Fatalf("%v: scrape_timeout %q: %v", b, sc.ScrapeTimeout, err)
				}
				return d.Seconds()
			}
		}
	}
	t.Fatalf("no scrape configuration in the docs asks for %s=%s", param, name)
	return 0
}

// injected are query parameters a stranger adds to a scrape to have the
// token sent to them, live long, signed by another key, over plain http;
// through their proxy, trusting their CA, printed by Go's HTTP/2 debug
// log or a core dump; and to have the client load or find what they
// choose (issue 24).
func injected(t *testing.T, r *docRun, recorder string) map[string]string {
	t.Helper()
	kp, err := token.GenerateKey("EdDSA", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	other := r.dir + "/other.jwk"
	if err := os.WriteFile(other, kp.Private, 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"MONITORING_TOKEN_LOCATE_URL":            recorder + "/v2/platform/monitoring/",
		"MONITORING_TOKEN_TOKEN_LIFETIME":        "1h",
		"LOCATE_URL":                             recorder + "/v2/platform/monitoring/",
		"MONITORING_SIGNER_KEY":                  other,
		"MONITORING_TOKEN_MONITORING_SIGNER_KEY": other,
		"MONITORING_TOKEN_INSECURE":              "true",
		"HTTPS_PROXY":                            recorder,
		"HTTP_PROXY":                             recorder,
		"ALL_PROXY":                              recorder,
		"https_proxy":                            recorder,
		"SSL_CERT_FILE":                          "/proc/self/environ",
		"SSL_CERT_DIR":                           "/proc/self",
		"CA":                                     "\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
		"GODEBUG":                                "http2debug=2,x509sha1=1",
		"GOTRACEBACK":                            "crash",
		"LD_PRELOAD":                             "/proc/self/environ",
		"LD_LIBRARY_PATH":                        r.dir,
		"BASH_ENV":                               "/proc/self/environ",
		"JAVA_TOOL_OPTIONS":                      "-javaagent:/proc/self/environ",
		// The documented configurations name every program by its
		// absolute path.
		"PATH": "/nonexistent",
	}
}

// checkV3 decodes a v3 configuration strictly and scrapes each script as
// Prometheus would, then again with injected parameters.
func checkV3(t *testing.T, r *docRun, blocks []docBlock, b docBlock) {
	var c v3Config
	if err := decodeStrict(b.text, &c); err != nil {
		t.Fatalf("%v: v3 would refuse it: %v", b, err)
	}
	for _, s := range c.Scripts {
		text := strings.Join(append(append([]string{}, s.Command...), s.Args...), " ")
		scrapeTimeout := scrapeTimeoutFor(t, blocks, "script", s.Name)
		if bound := runBound(text).Seconds(); s.Timeout.MaxTimeout < bound || s.Timeout.MaxTimeout+timeoutOffset > scrapeTimeout {
			t.Errorf("script %q: scrape_timeout %vs ≥ max_timeout %vs + %vs ≥ -timeout + -kill-after %vs does not hold", s.Name, scrapeTimeout, s.Timeout.MaxTimeout, timeoutOffset, bound)
		}
		if !strings.Contains(text, "-read-env=false") {
			t.Errorf("script %q does not pin its settings with -read-env=false", s.Name)
		}
		want := []string{download}
		if strings.Contains(text, "/ndt/v7/upload") {
			want = append(want, upload)
		}
		scrapes := 1
		if strings.Contains(text, "-cache-dir") {
			scrapes = 2
		}
		for i := range scrapes {
			ex := scrapeV3(t, r, s, map[string]string{"target": machine}, scrapeTimeout)
			if ex.exitCode != 0 || ex.metrics["monitoring_probe_success"] != 1 || ex.metrics["monitoring_probe_exit_code"] != 0 {
				t.Fatalf("script %q, scrape %d: exit %d, metrics %v: %s", s.Name, i+1, ex.exitCode, ex.metrics, ex.stderr)
			}
			if i == 1 && ex.metrics["monitoring_probe_cached"] != 1 {
				t.Errorf("script %q: the second scrape was not a cache hit: %v", s.Name, ex.metrics)
			}
		}
		r.wantClients(t, want...)

		// A stranger's scrape: nothing reaches their host, and the probe
		// still runs with the configured locate and key.
		fresh := newDocRun(t)
		var seen []string
		query := injected(t, fresh, newRecorder(t, &seen))
		query["target"] = machine
		ex := scrapeV3(t, fresh, s, query, scrapeTimeout)
		if len(seen) != 0 {
			t.Errorf("script %q: %d requests reached the injected host or proxy", s.Name, len(seen))
		}
		if ex.exitCode != 0 || ex.metrics["monitoring_probe_success"] != 1 {
			t.Errorf("script %q with injected parameters: exit %d, metrics %v: %s", s.Name, ex.exitCode, ex.metrics, ex.stderr)
		}
		if leaked := jwtPattern.FindAllString(strings.ReplaceAll(ex.raw, token.Redacted, ""), -1); len(leaked) != 0 {
			t.Errorf("script %q with injected parameters: %d whole tokens in its output", s.Name, len(leaked))
		}
		fresh.wantClients(t, want...)
	}
}

// checkFork decodes a configuration of M-Lab's fork strictly and runs each
// script as the fork does: /bin/sh with TARGET from ?target=, output
// discarded.
func checkFork(t *testing.T, r *docRun, b docBlock) {
	var c forkConfig
	if err := decodeStrict(b.text, &c); err != nil {
		t.Fatalf("%v: the fork would refuse it: %v", b, err)
	}
	if !forkTarget.MatchString(machine) {
		t.Fatalf("the fork refuses target %q", machine)
	}
	var want []string
	for _, s := range c.Scripts {
		if bound := runBound(s.Script).Seconds(); s.Timeout < bound {
			t.Errorf("script %q: timeout %vs < -timeout + -kill-after %vs", s.Name, s.Timeout, bound)
		}
		res := r.run(t, "", "exec /bin/sh -c "+shellQuote(s.Script)+" >/dev/null 2>&1", "TARGET="+machine)
		if res.status != 0 {
			t.Errorf("script %q: status %d", s.Name, res.status)
		}
		switch {
		case strings.Contains(s.Script, "wehe-client.sh"):
			want = append(want, "wehe-client.sh:ok")
		case strings.Contains(s.Script, "ndt7-client"):
			want = append(want, download)
		}
	}
	r.wantClients(t, want...)
}

// checkScrape decodes a Prometheus scrape configuration strictly and checks
// the multi-target relabelling and the deadlines against the script it
// asks for.
func checkScrape(t *testing.T, blocks []docBlock, b docBlock) {
	var c scrapeConfig
	if err := decodeStrict(b.text, &c); err != nil {
		t.Fatalf("%v: %v", b, err)
	}
	for _, sc := range c.ScrapeConfigs {
		param, exporter := "script", "v3"
		if _, ok := sc.Params["name"]; ok {
			param, exporter = "name", "fork"
		}
		if sc.MetricsPath != "/probe" || len(sc.Params[param]) != 1 {
			t.Errorf("job %q: metrics_path %q, params %v; want /probe and one %s", sc.JobName, sc.MetricsPath, sc.Params, param)
			continue
		}
		relabelled := map[string]bool{}
		for _, rc := range sc.RelabelConfigs {
			switch {
			case rc.TargetLabel == "__param_target" && strings.Join(rc.SourceLabels, ",") == "__address__":
				relabelled["target"] = true
			case rc.TargetLabel == "__address__" && rc.Replacement != "" && len(rc.SourceLabels) == 0:
				relabelled["exporter"] = true
			case rc.TargetLabel == "fqdn" && strings.Join(rc.SourceLabels, ",") == "__param_target":
				relabelled["fqdn"] = true
			}
		}
		if len(relabelled) != 3 {
			t.Errorf("job %q: relabelling sets %v; want __param_target from __address__, fqdn, and the exporter as __address__", sc.JobName, relabelled)
		}
		interval, err1 := time.ParseDuration(sc.ScrapeInterval)
		timeout, err2 := time.ParseDuration(sc.ScrapeTimeout)
		if err := errors.Join(err1, err2); err != nil || timeout > interval {
			t.Errorf("job %q: scrape_interval %q, scrape_timeout %q: %v", sc.JobName, sc.ScrapeInterval, sc.ScrapeTimeout, err)
		}
		if bound, err := scriptBound(blocks, exporter, sc.Params[param][0]); err != nil {
			t.Errorf("job %q: %v", sc.JobName, err)
		} else if timeout.Seconds() < bound {
			t.Errorf("job %q: scrape_timeout %v is shorter than the exporter's timeout and offset, %vs", sc.JobName, timeout, bound)
		}
	}
}

// scriptBound returns the shortest scrape_timeout, in seconds, that the
// named script of an exporter's configuration in the docs needs.
func scriptBound(blocks []docBlock, exporter, name string) (float64, error) {
	for _, b := range blocks {
		if b.lang != "yaml" || yamlKind(b.text) != exporter {
			continue
		}
		if exporter == "v3" {
			var c v3Config
			if decodeStrict(b.text, &c) != nil {
				continue
			}
			for _, s := range c.Scripts {
				if s.Name == name {
					return s.Timeout.MaxTimeout + timeoutOffset, nil
				}
			}
			continue
		}
		var c forkConfig
		if decodeStrict(b.text, &c) != nil {
			continue
		}
		for _, s := range c.Scripts {
			if s.Name == name {
				return s.Timeout, nil
			}
		}
	}
	return 0, fmt.Errorf("no %s script %q in the docs", exporter, name)
}
