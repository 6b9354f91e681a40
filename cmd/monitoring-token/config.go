package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/m-lab/go/host"
	"github.com/m-lab/go/logx"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/internal/envflag"
	"github.com/monitoring-token/monitoring-token/internal/services"
	"github.com/monitoring-token/monitoring-token/locate"
)

// Bounds of -token-lifetime. Locate accepts a token until it expires, so a
// long lifetime only widens the window in which a leaked token works.
const (
	minTokenLifetime = time.Second
	maxTokenLifetime = time.Hour
)

// Bounds of -cache-ttl.
const (
	minCacheTTL = time.Second
	maxCacheTTL = 24 * time.Hour
)

// exampleMachine is shown when -machine does not parse.
const exampleMachine = "mlab1-lga01.mlab-oti.measurement-lab.org"

// configNames are the variables each flag is read from. The prefix starts
// the variable of every flag: -machine is read from
// MONITORING_TOKEN_MACHINE. It keeps monitoring-token's configuration apart
// from the variables of the clients it runs, which read their flags from
// variables named after them too (ndt7-client's -service-url from
// SERVICE_URL). Three flags are read from a second variable too, after the
// prefixed one: the names the original m-lab/locate monitoring-token
// documents and M-Lab's deployments set. -version and -read-env are never
// read from the environment: a stray variable in a CI job must not turn a
// probe into a version print, and a variable must not turn the environment
// back on (see -read-env).
var configNames = envflag.Names{
	Prefix: "MONITORING_TOKEN_",
	Also: map[string]string{
		"locate-url":            "LOCATE_URL",
		"monitoring-signer-key": "MONITORING_SIGNER_KEY",
		"logx.debug":            "LOGX_DEBUG",
	},
	Never: []string{"version", "read-env"},
}

// keptForCommand is the one configuration variable the command still gets:
// m-lab's clients share it as their debug switch.
const keptForCommand = "LOGX_DEBUG"

// config is everything the command line and the environment say.
type config struct {
	locateURL     *url.URL
	keyPath       string
	machine       string // canonical, see canonicalMachine
	givenMachine  string // as given, when canonicalization changed it
	service       string
	timeout       time.Duration
	killAfter     time.Duration
	envName       string   // -env-name as given
	envNames      []string // the variables that get the URL: -env-name's, or the service's defaults
	serviceURL    bool
	urlKey        string
	tokenEnvName  string
	exports       exportList
	exportAll     string
	tokenLifetime time.Duration
	print         bool
	showOutput    bool
	cacheDir      string
	cacheTTL      time.Duration
	staleIfError  time.Duration
	// passIfCannotRun: a probe that could not run exits 0.
	passIfCannotRun bool
	metricsFile     string
	insecure        bool
	caFile          string // -ca-file: the only CAs trusted for locate
	version         bool
	readEnv         bool
	debug           bool
	// flags is the flag set that filled cfg, and says where each value
	// came from; after settle each flag reads the value the run uses.
	flags *envflag.Set
	// ignored says which variables were ignored and why, for debug.
	ignored []string
	// warning is a line for stderr about the original's variables, or "".
	warning string
	// deadline is the exporter's SCRIPT_DEADLINE, or zero; deadlineCut
	// says that -timeout or -kill-after was shortened to end before it.
	deadline    time.Time
	deadlineCut bool
	// configVars are the configuration variables present in the
	// environment, which the command does not inherit.
	configVars []string
	// command is the command and its arguments.
	command []string
}

// boolValue makes a flag.Value a boolean flag, so that "-logx.debug" works
// without "=true" and does not swallow the next argument.
type boolValue struct{ flag.Value }

func (boolValue) IsBoolFlag() bool { return true }

// durationValue is a duration flag whose error for a bare number says to
// add a unit: flag's own says only "parse error".
type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil {
		return "0s"
	}
	return v.d.String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if _, nerr := strconv.ParseFloat(s, 64); err != nil && nerr == nil {
		return fmt.Errorf("%s has no unit; add one, e.g. %ss", s, s)
	}
	if err != nil {
		return errors.New("not a duration, e.g. 40s or 1m30s")
	}
	*v.d = d
	return nil
}

// durationVar defines a duration flag with the default value.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationValue{p}, name, usage)
}

// export is one variable the command gets: the answer's URL under a key.
type export struct{ name, key string }

// exportList is the repeatable -export NAME=KEY flag. In its environment
// variable, several exports are separated by white space.
type exportList []export

func (l *exportList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, e := range *l {
		s[i] = e.name + "=" + e.key
	}
	return strings.Join(s, " ")
}

func (l *exportList) Set(v string) error {
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return errors.New("want NAME=KEY, e.g. UL=wss:///ndt/v7/upload")
	}
	for _, f := range fields {
		name, key, ok := strings.Cut(f, "=")
		if !ok || key == "" {
			return fmt.Errorf("%q is not NAME=KEY, e.g. UL=wss:///ndt/v7/upload", f)
		}
		if !validEnvName(name) {
			return fmt.Errorf("%q: %q is not a valid environment variable name (letters, digits, _; not starting with a digit)", f, name)
		}
		for _, e := range *l {
			if e.name == name {
				return fmt.Errorf("%s is exported twice; give each -export a name of its own", name)
			}
		}
		*l = append(*l, export{name, key})
	}
	return nil
}

// Reset drops every export, for envflag's Drop: Set only appends.
func (l *exportList) Reset() { *l = nil }

// usageError is a mistake on the command line; main adds a pointer to -h.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// newFlagSet defines the flags on a FlagSet of its own, filling cfg.
func newFlagSet(cfg *config, locateURL *string) *flag.FlagSet {
	fs := flag.NewFlagSet("monitoring-token", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Errors are reported once, by main.
	fs.StringVar(locateURL, "locate-url", locate.DefaultURL, "locate monitoring `URL` prefix; the service is appended, query parameters are kept")
	fs.StringVar(&cfg.keyPath, "monitoring-signer-key", "", "`path` of the private JWK that signs the monitoring token (required)")
	fs.StringVar(&cfg.machine, "machine", "", "M-Lab machine `name` to test, e.g. "+exampleMachine+" (required)")
	fs.StringVar(&cfg.service, "service", "ndt/ndt7", "`experiment/datatype` to ask locate for")
	durationVar(fs, &cfg.timeout, "timeout", 60*time.Second, "bound on the run: key, locate request and command (add -kill-after for a command that ignores SIGTERM)")
	durationVar(fs, &cfg.killAfter, "kill-after", exec.DefaultKillAfter, "after -timeout or a forwarded signal, wait this long, then SIGKILL the command")
	fs.StringVar(&cfg.envName, "env-name", "", "the one environment `variable` that receives the URL")
	fs.BoolVar(&cfg.serviceURL, "service-url", true, "ask locate and export the service URL; false: export the locate request URL with the signed token instead, for a client that asks locate itself")
	fs.StringVar(&cfg.urlKey, "service-url-key-name", "", "`key` of the answer's urls to export")
	fs.Var(&cfg.exports, "export", "export the answer's URL for KEY under NAME (repeatable; replaces -env-name)")
	fs.StringVar(&cfg.exportAll, "export-all", "", "export every URL of the answer under `PREFIX`_ and a name made from its key")
	fs.StringVar(&cfg.tokenEnvName, "token-env-name", "", "if set, also export locate's access_token under this `name`")
	durationVar(fs, &cfg.tokenLifetime, "token-lifetime", time.Minute, "expiry of the signed token (1s to 1h)")
	fs.BoolVar(&cfg.print, "print", false, "print export lines for a POSIX shell instead of running a command")
	fs.BoolVar(&cfg.showOutput, "show-output", false, "show the command's stdout and stderr (debug shows them too)")
	fs.StringVar(&cfg.cacheDir, "cache-dir", "", "keep each probe's success in `DIR` for -cache-ttl, and run one probe at a time per machine (off when empty)")
	durationVar(fs, &cfg.cacheTTL, "cache-ttl", 10*time.Minute, "how long a success is kept, at most (1s to 24h); each is kept between half this and this")
	durationVar(fs, &cfg.staleIfError, "stale-if-error", 0, "when locate fails or refuses the token, exit 0 if the last success is younger than this (needs -cache-dir)")
	fs.BoolVar(&cfg.passIfCannotRun, "pass-if-cannot-run", false, "exit 0 when the probe could not run (locate, the key, the command not started), so that a monitoring outage does not fail every server; never for a status of the command's own; the metrics keep the probe's status")
	fs.StringVar(&cfg.metricsFile, "metrics-file", "", "write the probe's metrics to `PATH` for node_exporter's textfile collector (e.g. /var/lib/node_exporter/ndt7_mlab1-lga01.prom), or - for stdout once the run ends, for script_exporter v3 (the command's stdout then goes to stderr or nowhere)")
	fs.BoolVar(&cfg.insecure, "insecure", false, "allow plain http to a -locate-url that is not loopback")
	fs.StringVar(&cfg.caFile, "ca-file", "", "trust only the CA certificates in `PEM` file for locate, instead of the system's (a private locate); SSL_CERT_FILE and SSL_CERT_DIR are not read with -read-env=false")
	fs.BoolVar(&cfg.version, "version", false, "print the version and exit")
	fs.BoolVar(&cfg.readEnv, "read-env", true, "read configuration from the environment; false reads none, for an exporter whose scrapes can set variables (only SCRIPT_DEADLINE is still read), ignores proxies, SSL_CERT_FILE, GODEBUG and GOTRACEBACK, and passes the command only PATH, HOME, USER, LOGNAME, LANG, LC_* and TZ")
	fs.Var(boolValue{&logx.LogxDebug}, "logx.debug", "debug log on stderr; the command's output is shown")
	return fs
}

// parseConfig reads flags from args and then, for flags not given there,
// from the environment (see configNames) unless -read-env=false. Empty
// variables count as unset. SCRIPT_DEADLINE is read in any case, and only
// ever shortens the run (see fitDeadline); now is the time it is measured
// from.
func parseConfig(args []string, lookupEnv func(string) (string, bool), now time.Time) (*config, error) {
	cfg := &config{}
	var rawURL string
	fs := newFlagSet(cfg, &rawURL)
	flags, err := envflag.Parse(fs, args, envflag.Environment{
		Names:     configNames,
		LookupEnv: lookupEnv,
		Skip:      func() bool { return !cfg.readEnv },
		Invalid: func(e *envflag.ValueError) error {
			if e.Flag != "logx.debug" {
				return e
			}
			// M-Lab's clients share it: a value meant for them must
			// not stop every probe.
			value, _ := lookupEnv(e.Var)
			log.Printf("warning: %s=%q is not true or false; ignored, debug stays off", e.Var, value)
			return nil
		},
	})
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil, err
	case err != nil:
		return nil, usagef("%v", err)
	}
	cfg.flags = flags
	cfg.command = fs.Args()
	// Present configuration is never passed on, read or not.
	for _, name := range flags.Present() {
		if name != keptForCommand {
			cfg.configVars = append(cfg.configVars, name)
		}
	}
	cfg.debug = logx.LogxDebug.Get()
	if cfg.version {
		return cfg, nil
	}
	if err := checkRuntimeEnv(lookupEnv, cfg.readEnv); err != nil {
		return cfg, err
	}
	if cfg.readEnv {
		cfg.warning = renamedVariables(lookupEnv, flags.IsSet)
	}
	if err := cfg.parseValues(rawURL); err != nil {
		return cfg, err
	}
	if err := cfg.settle(); err != nil {
		return cfg, err
	}
	if raw, ok := lookupEnv(scriptDeadlineVar); ok && raw != "" {
		if err := cfg.fitDeadline(raw, now); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// renamedVariables returns a warning naming the variables of m-lab/locate's
// monitoring-token that are set but no longer read, each with the variable
// that replaces it, or "" when there are none. A variable whose setting was
// given another way (isSet) is not named. SERVICE_URL holding anything but
// a boolean is ndt7-client's -service-url, so it is not named. TIMEOUT is
// named although ndt7-client reads it too: a deployment that bounded the
// original's run with it would otherwise change silently.
func renamedVariables(lookupEnv func(string) (string, bool), isSet func(flag string) bool) string {
	var old, replacements []string
	for _, r := range [...]struct{ name, flag string }{
		{"MACHINE", "machine"},
		{"SERVICE", "service"},
		{"ENV_NAME", "env-name"},
		{"SERVICE_URL", "service-url"},
		{"SERVICE_URL_KEY_NAME", "service-url-key-name"},
		{"TIMEOUT", "timeout"},
	} {
		value, ok := lookupEnv(r.name)
		if !ok || value == "" || isSet(r.flag) {
			continue
		}
		if _, err := strconv.ParseBool(value); r.name == "SERVICE_URL" && err != nil {
			continue
		}
		old = append(old, r.name)
		replacements = append(replacements, configNames.Of(r.flag)[0])
	}
	if len(old) == 0 {
		return ""
	}
	return fmt.Sprintf("warning: %s set but not read (the original monitoring-token's names); use %s",
		strings.Join(old, ", "), strings.Join(replacements, ", "))
}

// parseValues checks what can be checked of each value on its own before
// any file is read or any host contacted: the command or -print, the
// required flags, the forms and the bounds. It keeps two values in the
// form the run uses: -machine's canonical name (givenMachine keeps the one
// given, when they differ) and -locate-url parsed from rawURL.
func (cfg *config) parseValues(rawURL string) error {
	switch {
	case cfg.print && len(cfg.command) > 0:
		return usagef("-print prints the variables instead of running a command; give one or the other")
	case !cfg.print && len(cfg.command) == 0:
		return usagef("no command given; put it after the flags, e.g. monitoring-token -machine=%s -- ndt7-client", exampleMachine)
	case cfg.keyPath == "":
		return usagef("-monitoring-signer-key (or MONITORING_SIGNER_KEY) is required: the path of the private JWK")
	case cfg.machine == "":
		return usagef("-machine (or %s) is required, e.g. -machine=%s", configNames.Of("machine")[0], exampleMachine)
	}
	machine, err := canonicalMachine(cfg.machine, cfg.flags.Origin("machine"))
	if err != nil {
		return err
	}
	if machine != cfg.machine {
		cfg.givenMachine, cfg.machine = cfg.machine, machine
	}
	if err := checkService(cfg.service, cfg.flags.Origin("service")); err != nil {
		return err
	}
	u, err := parseLocateURL(rawURL, cfg.insecure, cfg.flags.Origin("locate-url"))
	if err != nil {
		return err
	}
	cfg.locateURL = u
	if cfg.tokenLifetime < minTokenLifetime || cfg.tokenLifetime > maxTokenLifetime {
		return usagef("%s %v is out of range; use %v to %v", cfg.flags.Origin("token-lifetime"), cfg.tokenLifetime, minTokenLifetime, maxTokenLifetime)
	}
	if cfg.timeout <= 0 {
		return usagef("%s %v must be positive", cfg.flags.Origin("timeout"), cfg.timeout)
	}
	if cfg.killAfter <= 0 {
		return usagef("%s %v must be positive", cfg.flags.Origin("kill-after"), cfg.killAfter)
	}
	if cfg.cacheTTL < minCacheTTL || cfg.cacheTTL > maxCacheTTL {
		return usagef("%s %v is out of range; use %v to %v", cfg.flags.Origin("cache-ttl"), cfg.cacheTTL, minCacheTTL, maxCacheTTL)
	}
	if cfg.staleIfError < 0 {
		return usagef("%s %v must not be negative", cfg.flags.Origin("stale-if-error"), cfg.staleIfError)
	}
	if cfg.metricsFile != "" && cfg.metricsFile != metricsStdout && !strings.HasSuffix(cfg.metricsFile, ".prom") {
		return usagef("%s %s does not end in .prom, and node_exporter's textfile collector reads nothing else (- writes to stdout)", cfg.flags.Origin("metrics-file"), cfg.metricsFile)
	}
	return nil
}

// settle decides what depends on several flags and on the service's
// defaults: the mode (-service-url), the flags that have no effect in it
// (refused on the command line, dropped from the environment: see
// dropWithoutEffect), the variables that get the URL and the URL key. It
// refuses a mode that would test another server and names that clash.
func (cfg *config) settle() error {
	defaults, _ := services.Lookup(cfg.service)
	if !cfg.flags.IsSet("service-url") {
		cfg.serviceURL = !defaults.AsksLocate || slices.ContainsFunc(serviceURLOnly, cfg.flags.OnCommandLine)
	}
	if err := cfg.dropWithoutEffect(); err != nil {
		return err
	}
	if !cfg.serviceURL && defaults.Nearest && !cfg.flags.IsSet("env-name") {
		return usagef("%s=false leaves the standard client of %s without a URL it reads, so it would test the server nearest to it, not %s; drop it, or name the variable of a client that asks locate itself with -env-name", cfg.flags.Origin("service-url"), cfg.service, cfg.machine)
	}
	switch {
	case cfg.flags.IsSet("env-name"):
		cfg.envNames = []string{cfg.envName}
	case cfg.serviceURL:
		cfg.envNames = defaults.EnvNames
	default:
		cfg.envNames = []string{services.DefaultEnvName}
	}
	if err := cfg.checkNames(); err != nil {
		return err
	}
	if cfg.urlKey == "" {
		cfg.urlKey = defaults.URLKey
	}
	return nil
}

// metricsStdout as -metrics-file writes the metrics to stdout.
const metricsStdout = "-"

// serviceURLOnly are the flags that mean something only in service-URL
// mode; on the command line, each selects it for a service whose client
// asks locate itself.
var serviceURLOnly = []string{"service-url-key-name", "token-env-name", "export", "export-all"}

// dropWithoutEffect refuses flags on the command line that would have no
// effect in the mode chosen, so that nobody believes they took effect. The
// same flag from the environment, which a pod may share between probes of
// several kinds, is dropped (back to its default), and debug says so.
func (cfg *config) dropWithoutEffect() error {
	ignored := func(why string, flags ...string) error {
		for _, f := range flags {
			if cfg.flags.OnCommandLine(f) {
				return usagef("-%s has no effect %s; remove it", f, why)
			}
			if v := cfg.flags.Drop(f); v != "" {
				cfg.ignored = append(cfg.ignored, fmt.Sprintf("%s (-%s has no effect %s)", v, f, why))
			}
		}
		return nil
	}
	if !cfg.serviceURL {
		why := "with " + cfg.flags.Origin("service-url") + "=false: the command asks locate itself"
		if !cfg.flags.IsSet("service-url") {
			why = "in " + cfg.service + "'s default mode, -service-url=false: the command asks locate itself"
		}
		if err := ignored(why, serviceURLOnly...); err != nil {
			return err
		}
	}
	if cfg.print {
		if err := ignored("with "+cfg.flags.Origin("print")+": no command runs", "kill-after", "show-output", "cache-dir", "metrics-file", "pass-if-cannot-run"); err != nil {
			return err
		}
	}
	if cfg.cacheDir == "" {
		if err := ignored("without -cache-dir", "cache-ttl", "stale-if-error"); err != nil {
			return err
		}
	}
	if len(cfg.exports) > 0 && cfg.exportAll != "" {
		switch {
		case cfg.flags.OnCommandLine("export") && !cfg.flags.OnCommandLine("export-all"):
			if err := ignored("with -export", "export-all"); err != nil {
				return err
			}
		case cfg.flags.OnCommandLine("export-all") && !cfg.flags.OnCommandLine("export"):
			if err := ignored("with -export-all", "export"); err != nil {
				return err
			}
		default:
			return usagef("give %s or %s, not both", cfg.flags.Origin("export"), cfg.flags.Origin("export-all"))
		}
	}
	if len(cfg.exports) > 0 || cfg.exportAll != "" {
		by := cfg.flags.Origin("export")
		if cfg.exportAll != "" {
			by = cfg.flags.Origin("export-all")
		}
		if err := ignored("with "+by+", which names the variables itself", "env-name", "service-url-key-name"); err != nil {
			return err
		}
	}
	return nil
}

// checkNames checks every variable name the command will get, and that no
// two are the same.
func (cfg *config) checkNames() error {
	names := map[string]string{} // variable → what sets it
	add := func(by, name string) error {
		if !validEnvName(name) {
			return usagef("%s %q is not a valid environment variable name (letters, digits, _; not starting with a digit)", by, name)
		}
		// -export-all's prefix is not a name: each it makes has a suffix.
		if processNeeds(name) && by != cfg.flags.Origin("export-all") {
			return usagef("%s %s is a variable processes need (PATH, HOME, LD_*, proxies, Go's settings…), and the URL in it would break the command; choose another name", by, name)
		}
		if other, dup := names[name]; dup {
			return usagef("%s and %s both name %s; choose two names", other, by, name)
		}
		names[name] = by
		return nil
	}
	switch {
	case cfg.exportAll != "":
		if err := add(cfg.flags.Origin("export-all"), cfg.exportAll); err != nil {
			return err
		}
	case len(cfg.exports) > 0:
		for _, e := range cfg.exports {
			if err := add(cfg.flags.Origin("export"), e.name); err != nil {
				return err
			}
		}
	default:
		by := cfg.flags.Origin("env-name")
		if !cfg.flags.IsSet("env-name") {
			by = "the default for " + cfg.service
		}
		for _, name := range cfg.envNames {
			if err := add(by, name); err != nil {
				return err
			}
		}
	}
	if cfg.tokenEnvName != "" {
		return add(cfg.flags.Origin("token-env-name"), cfg.tokenEnvName)
	}
	return nil
}

// canonicalMachine returns the name locate and ndt-server know a machine
// by. Locate copies the name it is given into the audience of its token and
// ndt-server compares that audience with its own name exactly, so any other
// spelling is refused by the server, not by locate. v2 names lose a service
// prefix (ndt-mlab1-lga01…) and an instance-group suffix (…org-d9h6) and
// are lower-cased; v3 (autojoin) names stay whole, lower-cased, as locate
// uses them. v1 names and anything else are refused, with a suggestion
// where one can be made.
func canonicalMachine(given, origin string) (string, error) {
	lower := strings.TrimSuffix(strings.ToLower(given), ".")
	name, err := host.Parse(lower)
	switch {
	case err == nil && name.Version == "v2" && name.Project != "":
		return name.String(), nil
	case err == nil && name.Version == "v3":
		return lower, nil
	case err == nil && name.Version == "v1":
		name.Version, name.Project = "v2", "mlab-oti"
		return "", usagef("%s %q is an old (v1) name that locate does not know; use the v2 name, e.g. %s (mlab-oti is the production project)", origin, given, name.String())
	}
	return "", usagef("%s %q is not an M-Lab machine name; expected a name like %s", origin, given, exampleMachine)
}

// checkService accepts "<experiment>/<datatype>" made of characters that
// cannot change the meaning of the request path.
func checkService(s, origin string) error {
	exp, dt, ok := strings.Cut(s, "/")
	valid := ok && exp != "" && dt != "" && !strings.Contains(dt, "/") && exp != "." && exp != ".." && dt != "." && dt != ".."
	for _, r := range s {
		valid = valid && (r == '/' || r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}
	if !valid {
		return usagef("%s %q is not of the form experiment/datatype, e.g. ndt/ndt7 or wehe/replay", origin, s)
	}
	return nil
}

// parseLocateURL accepts an absolute http(s) URL. Plain http sends the
// token in clear text, so it is refused unless the host is loopback (an
// emulator) or the operator said -insecure: locate.CheckEndpoint, the rule
// every redirect follows too.
func parseLocateURL(raw string, insecure bool, origin string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err == nil {
		err = locate.CheckEndpoint(u, insecure)
	}
	switch {
	case err == nil:
		return u, nil
	case u == nil || errors.Is(err, locate.ErrNotHTTP):
		return nil, usagef("%s %q is not an absolute http(s) URL; the default is %s", origin, raw, locate.DefaultURL)
	}
	return nil, usagef("%s %s %v%s", origin, u.Redacted(), err, commandHint(err))
}

// neededNames are variables that the command, its shell or its libraries
// read for themselves: a URL in one of them breaks the command, or changes
// how it runs, before it tests anything.
var neededNames = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "TMPDIR", "TERM", "TZ", "LANG", "LANGUAGE",
	"IFS", "ENV", "BASH_ENV", "CDPATH", "PS4",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"GODEBUG", "GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GOTRACEBACK",
}

// neededPrefixes start variables of the dynamic loader and the locale.
var neededPrefixes = []string{"LD_", "DYLD_", "LC_"}

// processNeeds reports whether name is a variable processes need.
func processNeeds(name string) bool {
	upper := strings.ToUpper(name)
	return slices.Contains(neededNames, upper) || slices.ContainsFunc(neededPrefixes, func(p string) bool { return strings.HasPrefix(upper, p) })
}

// validEnvName reports whether name is a portable environment variable name.
func validEnvName(name string) bool {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
