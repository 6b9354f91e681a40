// Command monitoring-token runs a probe against one M-Lab machine with a
// monitoring access token from the locate service.
//
// It signs a short-lived JWT with a private JWK, asks locate for the
// machine's monitoring URL with it, puts that URL in the command's
// environment, runs the command and exits with its status. See -h.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/m-lab/go/logx"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/token"
)

// statusFailed is the exit status when monitoring-token itself fails and the
// command did not run, as coreutils env and timeout use 125.
const statusFailed = 125

func main() {
	log.SetFlags(0)
	log.SetPrefix("monitoring-token: ")
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command: it returns the exit status and writes at most
// one line about a failure to stderr.
func run(ctx context.Context, args []string, stdout, stderr *os.File) int {
	cfg, err := parseConfig(args, os.LookupEnv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return 0
	case err != nil:
		return report(stderr, err, false)
	case cfg.version:
		fmt.Fprintln(stdout, "monitoring-token", version())
		return 0
	}
	return report(stderr, probe(ctx, cfg, stdout, stderr), cfg.debug)
}

// probe gets the URL and runs the command (or prints the variables).
func probe(ctx context.Context, cfg *config, stdout, stderr *os.File) error {
	if len(cfg.fromEnv) > 0 {
		logx.Debug.Printf("flags from the environment: -%s", strings.Join(cfg.fromEnv, ", -"))
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	client := locate.NewClient(cfg.locateURL)
	if cfg.serviceURL {
		// DNS and the TCP handshake go on while the key is read.
		client.Preconnect(ctx)
	}
	// So does setting up the delivery of the signals to forward, which
	// costs the runtime several switches between threads. A signal that
	// arrives from here until the command starts stops the run (see Watch
	// below).
	var sigs *exec.Signals
	if !cfg.print {
		sigs = exec.Subscribe()
	}
	signer, err := token.LoadSigner(ctx, cfg.keyPath)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w; check -monitoring-signer-key (MONITORING_SIGNER_KEY)", err)
	}
	if err != nil {
		return err
	}
	if signer.KeyID() == "" {
		log.Printf("warning: signer key %s has no \"kid\"; locate picks its verify key by kid, so add the kid registered with locate", cfg.keyPath)
	}

	sign := func() (string, error) {
		tok, err := signer.Sign(cfg.machine, time.Now().Add(cfg.tokenLifetime))
		if err == nil && cfg.debug {
			// Decoding costs a parse: only when someone reads it.
			logx.Debug.Printf("signed token: %s", token.Describe(tok))
		}
		return tok, err
	}
	client.UserAgent = "monitoring-token/" + version()
	// A quarter of -timeout per attempt leaves room to retry a locate
	// instance that hangs.
	client.AttemptTimeout = max(cfg.timeout/4, time.Second)
	client.Retrying = func(err error, wait time.Duration) {
		logx.Debug.Printf("%s; retrying in %v", token.Redact(err.Error()), wait.Round(time.Millisecond))
	}
	// A signal while locate is asked cancels the request, and the command
	// is not run.
	lctx, stopWatch := ctx, func() {}
	if sigs != nil {
		lctx, stopWatch = sigs.Watch(ctx)
	}
	vars, err := serviceVariables(lctx, cfg, client, sign)
	stopWatch()
	var stopped *exec.SignalError
	if errors.As(context.Cause(lctx), &stopped) {
		return stopped
	}
	if errors.Is(err, locate.ErrUnauthorized) {
		return fmt.Errorf("%w; check that locate holds the public key for kid %q, that this host's clock is right (locate allows no skew) and -token-lifetime", err, signer.KeyID())
	}
	if err != nil {
		return err
	}
	if cfg.print {
		for _, v := range vars {
			fmt.Fprintf(stdout, "export %s=%s\n", v.name, shellQuote(v.value))
		}
		return nil
	}

	env := exec.Environ()
	for _, v := range vars {
		if cfg.debug {
			logx.Debug.Printf("%s=%s", v.name, token.Redact(v.value))
		}
		env = env.Set(v.name, v.value)
	}
	cmd := &exec.Command{Args: cfg.command, Env: env, KillAfter: cfg.killAfter, Signals: sigs}
	if cfg.debug {
		cmd.Stdout, cmd.Stderr = stdout, stderr
	}
	logx.Debug.Printf("running %q", cfg.command)
	return cmd.Run(ctx)
}

// variable is one environment variable for the command.
type variable struct{ name, value string }

// serviceVariables asks locate for the service URL, or with
// -service-url=false builds the locate request URL for the command to use.
func serviceVariables(ctx context.Context, cfg *config, client *locate.Client, sign func() (string, error)) ([]variable, error) {
	if !cfg.serviceURL {
		tok, err := sign()
		if err != nil {
			return nil, err
		}
		return []variable{{cfg.envName, client.RequestURL(cfg.service, tok).String()}}, nil
	}
	logx.Debug.Printf("asking %s", client.ServiceEndpoint(cfg.service))
	answer, err := client.Get(ctx, cfg.service, sign)
	if err != nil {
		return nil, err
	}
	u, err := answer.ServiceURL(cfg.urlKey)
	if err != nil {
		return nil, err
	}
	vars := []variable{{cfg.envName, u}}
	if cfg.tokenEnvName != "" {
		vars = append(vars, variable{cfg.tokenEnvName, answer.AccessToken})
	}
	return vars, nil
}

// report turns the outcome into the exit status, writing one line to
// stderr unless the command simply exited non-zero (its status speaks for
// itself; debug says it anyway).
func report(stderr io.Writer, err error, debugOn bool) int {
	if err == nil {
		return 0
	}
	var exited interface{ ExitStatus() int }
	if errors.As(err, &exited) {
		var plain *exec.ExitError
		if !errors.As(err, &plain) || plain.TimedOut || plain.Signal != 0 || debugOn {
			fmt.Fprintf(stderr, "monitoring-token: %s\n", token.Redact(err.Error()))
		}
		return exited.ExitStatus()
	}
	fmt.Fprintf(stderr, "monitoring-token: %s\n", token.Redact(explain(err)))
	return statusFailed
}

// explain adds what to do next to the errors an operator meets most.
func explain(err error) string {
	msg := err.Error()
	var problem *locate.Error
	var usage *usageError
	switch {
	case errors.As(err, &usage):
		return msg + " (see monitoring-token -h)"
	case errors.Is(err, locate.ErrURLKey):
		return msg + "; choose one with -service-url-key-name"
	case errors.As(err, &problem) && problem.Title == "Must provide access_token":
		return msg + "; locate hands monitoring tokens only for ndt/ndt7 and wehe/replay, check -service"
	case errors.Is(err, context.DeadlineExceeded):
		return msg + "; locate did not answer within -timeout"
	}
	return msg
}

// shellQuote quotes s for a POSIX shell: inside single quotes nothing is
// special, so each single quote in s closes the quotes, adds an escaped
// quote and reopens them.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// version is the module version from the build information.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
