package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/m-lab/go/flagx"
	"github.com/m-lab/go/host"
	"github.com/m-lab/go/logx"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/locate"
)

// Bounds of -token-lifetime. Locate accepts a token until it expires, so a
// long lifetime only widens the window in which a leaked token works.
const (
	minTokenLifetime = time.Second
	maxTokenLifetime = time.Hour
)

// exampleMachine is shown when -machine does not parse.
const exampleMachine = "mlab1-lga01.mlab-oti.measurement-lab.org"

// config is everything the command line and the environment say.
type config struct {
	locateURL     *url.URL
	keyPath       string
	machine       string
	service       string
	timeout       time.Duration
	killAfter     time.Duration
	envName       string
	serviceURL    bool
	urlKey        string
	tokenEnvName  string
	tokenLifetime time.Duration
	print         bool
	insecure      bool
	version       bool
	debug         bool
	// fromEnv names the flags whose value came from the environment.
	fromEnv []string
	// command is the command and its arguments.
	command []string
}

// boolValue makes a flag.Value a boolean flag, so that "-logx.debug" works
// without "=true" and does not swallow the next argument.
type boolValue struct{ flag.Value }

func (boolValue) IsBoolFlag() bool { return true }

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
	fs.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "bound on the whole run: locate request and command")
	fs.DurationVar(&cfg.killAfter, "kill-after", exec.DefaultKillAfter, "after -timeout or a forwarded signal, wait this long, then SIGKILL the command")
	fs.StringVar(&cfg.envName, "env-name", "MONITORING_URL", "environment variable that receives the URL")
	fs.BoolVar(&cfg.serviceURL, "service-url", true, "ask locate and export the service URL; false: export the locate request URL with the signed token instead")
	fs.StringVar(&cfg.urlKey, "service-url-key-name", "", "`key` of the answer's urls to export (default per service, see below)")
	fs.StringVar(&cfg.tokenEnvName, "token-env-name", "", "if set, also export locate's access_token under this `name`")
	fs.DurationVar(&cfg.tokenLifetime, "token-lifetime", time.Minute, "expiry of the signed token (1s to 1h)")
	fs.BoolVar(&cfg.print, "print", false, "print export lines for a POSIX shell instead of running a command")
	fs.BoolVar(&cfg.insecure, "insecure", false, "allow plain http to a -locate-url that is not loopback")
	fs.BoolVar(&cfg.version, "version", false, "print the version and exit")
	fs.Var(boolValue{&logx.LogxDebug}, "logx.debug", "debug log on stderr; the command's output is shown")
	return fs
}

// notFromEnv lists flags that are never read from the environment: a stray
// VERSION variable in a CI job must not turn a probe into a version print.
var notFromEnv = map[string]bool{"version": true}

// parseConfig reads flags from args and then, for flags not given there,
// from environment variables named as m-lab/go flagx derives them
// (-locate-url reads LOCATE_URL). Empty variables count as unset.
func parseConfig(args []string, lookupEnv func(string) (string, bool)) (*config, error) {
	cfg := &config{}
	var rawURL string
	fs := newFlagSet(cfg, &rawURL)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("%v", err)
	}
	cfg.command = fs.Args()

	// flagx.ArgsFromEnv would do this, but it logs flag values when a flag
	// is set twice; values may be secrets, so only names are kept here.
	onCommandLine := flagx.AssignedFlags(fs)
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := flagx.MakeShellVariableName(f.Name)
		value, ok := lookupEnv(name)
		if _, given := onCommandLine[f.Name]; given || !ok || value == "" || notFromEnv[f.Name] || envErr != nil {
			return
		}
		if err := fs.Set(f.Name, value); err != nil {
			envErr = usagef("environment variable %s: invalid value for -%s: %v", name, f.Name, err)
			return
		}
		cfg.fromEnv = append(cfg.fromEnv, f.Name)
	})
	if envErr != nil {
		return nil, envErr
	}
	cfg.debug = logx.LogxDebug.Get()
	if cfg.version {
		return cfg, nil
	}
	if err := cfg.validate(rawURL); err != nil {
		return nil, err
	}
	return cfg, nil
}

// validate checks everything that can be checked before any file is read or
// any host contacted.
func (cfg *config) validate(rawURL string) error {
	switch {
	case cfg.print && len(cfg.command) > 0:
		return usagef("-print prints the variables instead of running a command; give one or the other")
	case !cfg.print && len(cfg.command) == 0:
		return usagef("no command given; put it after the flags, e.g. monitoring-token -machine=%s -- ndt7-client", exampleMachine)
	case cfg.keyPath == "":
		return usagef("-monitoring-signer-key (or MONITORING_SIGNER_KEY) is required: the path of the private JWK")
	case cfg.machine == "":
		return usagef("-machine (or MACHINE) is required, e.g. -machine=%s", exampleMachine)
	}
	if _, err := host.Parse(cfg.machine); err != nil {
		return usagef("-machine %q is not an M-Lab machine name; expected a name like %s", cfg.machine, exampleMachine)
	}
	if err := checkService(cfg.service); err != nil {
		return err
	}
	u, err := parseLocateURL(rawURL, cfg.insecure)
	if err != nil {
		return err
	}
	cfg.locateURL = u
	if cfg.tokenLifetime < minTokenLifetime || cfg.tokenLifetime > maxTokenLifetime {
		return usagef("-token-lifetime %v is out of range; use %v to %v", cfg.tokenLifetime, minTokenLifetime, maxTokenLifetime)
	}
	if cfg.timeout <= 0 {
		return usagef("-timeout %v must be positive", cfg.timeout)
	}
	if cfg.killAfter <= 0 {
		return usagef("-kill-after %v must be positive", cfg.killAfter)
	}
	if !validEnvName(cfg.envName) {
		return usagef("-env-name %q is not a valid environment variable name (letters, digits, _; not starting with a digit)", cfg.envName)
	}
	if cfg.tokenEnvName != "" && !validEnvName(cfg.tokenEnvName) {
		return usagef("-token-env-name %q is not a valid environment variable name (letters, digits, _; not starting with a digit)", cfg.tokenEnvName)
	}
	if cfg.tokenEnvName == cfg.envName {
		return usagef("-token-env-name and -env-name are both %q; choose two names", cfg.envName)
	}
	if cfg.urlKey == "" {
		cfg.urlKey = locate.DefaultURLKey(cfg.service)
	}
	return nil
}

// checkService accepts "<experiment>/<datatype>" made of characters that
// cannot change the meaning of the request path.
func checkService(s string) error {
	exp, dt, ok := strings.Cut(s, "/")
	valid := ok && exp != "" && dt != "" && !strings.Contains(dt, "/") && exp != "." && exp != ".." && dt != "." && dt != ".."
	for _, r := range s {
		valid = valid && (r == '/' || r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}
	if !valid {
		return usagef("-service %q is not of the form experiment/datatype, e.g. ndt/ndt7 or wehe/replay", s)
	}
	return nil
}

// parseLocateURL accepts an absolute http(s) URL. Plain http sends the
// token in clear text, so it is refused unless the host is loopback (an
// emulator) or the operator said -insecure.
func parseLocateURL(raw string, insecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, usagef("-locate-url %q is not an absolute http(s) URL; the default is %s", raw, locate.DefaultURL)
	}
	if u.User != nil {
		return nil, usagef("-locate-url must not carry user information")
	}
	if u.Scheme == "http" && !insecure && !isLoopback(u.Hostname()) {
		return nil, usagef("-locate-url %s uses plain http to a host that is not loopback, which would send the token in clear text; use https, or add -insecure if you mean it", u.Redacted())
	}
	return u, nil
}

// isLoopback reports whether host names this machine without a DNS lookup.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
