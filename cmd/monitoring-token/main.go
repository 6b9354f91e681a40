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
	"strings"
	"syscall"
	"time"

	"github.com/m-lab/go/logx"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/internal/metrics"
	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/token"
)

// statusFailed is the exit status when monitoring-token itself fails and the
// command did not run, as coreutils env and timeout use 125.
const statusFailed = 125

func main() { os.Exit(mainStatus()) }

// mainStatus is main's body: it returns the exit status, or ends the
// process by the signal that stopped the run. The tests run it as the
// monitoring-token command (testscript.Main).
func mainStatus() int {
	// monitoring-token's own writes go through writers that catch
	// SIGPIPE, so that a closed stdout or stderr fails a write instead of
	// killing the run and changing its status. The command gets the files
	// themselves, with SIGPIPE's default action.
	stdout, stderr := exec.NoSIGPIPE(os.Stdout), exec.NoSIGPIPE(os.Stderr)
	log.SetFlags(0)
	log.SetPrefix("monitoring-token: ")
	log.SetOutput(stderr) // logx.Debug writes through the standard logger
	o := run(context.Background(), os.Args[1:], streams{os.Stdout, os.Stderr, stdout, stderr})
	if o.signal != 0 {
		// A signal we received and forwarded killed the command, or
		// stopped the run before it started: end the same way, so that a
		// shell loop stops on Ctrl-C as it would without the wrapper. Die
		// returns only as PID 1, outside Linux, or if the signal does not
		// end a process.
		exec.Die(o.signal)
	}
	return o.status
}

// streams are the standard output and error: the files, which the
// command gets, and the writers monitoring-token writes its own output to.
type streams struct {
	stdoutFile, stderrFile *os.File
	stdout, stderr         io.Writer
}

// outcome is what one run did: the one value that the exit status, the
// result cache and the metrics are made from.
type outcome struct {
	status int
	// signal, when not zero, was received and forwarded, and the command
	// died of a signal (or it stopped the run before the command
	// started); monitoring-token ends itself with it, and status is 128+N.
	signal syscall.Signal
	// Where the time went: disjoint phases of the run.
	sign, locate, command time.Duration
	// attempts is how many requests locate was sent, and httpStatus the
	// status of its last answer (0 when none came).
	attempts, httpStatus int
	// cached says the status came from the cache (a fresh success, or the
	// probe another run made while this one waited), stale that it is a
	// success kept for -stale-if-error.
	cached, stale bool
	// lastSuccess is when a probe of this machine last really succeeded,
	// or zero when that is not known.
	lastSuccess time.Time
	// duration is the whole run.
	duration time.Duration
}

// run is the whole command: it returns the outcome and writes at most one
// line about a failure to stderr.
func run(ctx context.Context, args []string, std streams) outcome {
	stdout, stderr := std.stdout, std.stderr
	cfg, err := parseConfig(args, os.LookupEnv, time.Now())
	if cfg != nil && cfg.warning != "" {
		fmt.Fprintf(stderr, "monitoring-token: %s\n", cfg.warning)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		err = usage(stdout)
	case err == nil && cfg.version:
		_, err = fmt.Fprintln(stdout, "monitoring-token", version())
		err = writeError("version", err)
	case err == nil:
		return probeAndWriteMetrics(ctx, cfg, std)
	}
	var o outcome
	o.status, o.signal = report(stderr, err)
	return o
}

// probeAndWriteMetrics gets the status of the probe cfg describes and
// writes its metrics.
func probeAndWriteMetrics(ctx context.Context, cfg *config, std streams) outcome {
	started := time.Now()
	p := &prober{cfg: cfg, std: std}
	err := cfg.deadlineReached(p.probeCached(ctx))
	o := p.out
	o.status, o.signal = report(std.stderr, err)
	o.duration = time.Since(started)
	if cfg.metricsFile != "" {
		writeMetrics(cfg, &o, std)
	}
	return o
}

// writeMetrics writes the outcome to -metrics-file, or to stdout for
// "-metrics-file -". Without a cache the last success is read back from the
// file's previous version (stdout has none). A failure costs one stderr
// line and leaves the exit status alone.
func writeMetrics(cfg *config, o *outcome, std streams) {
	if o.lastSuccess.IsZero() && cfg.metricsFile != metricsStdout {
		last, err := metrics.LastSuccess(cfg.metricsFile, cfg.machine, cfg.service)
		if err != nil {
			logx.Debug.Printf("%v; last success unknown", err)
		}
		o.lastSuccess = last
	}
	probe := metrics.Probe{
		Machine: cfg.machine, Service: cfg.service,
		ExitCode: o.status, Duration: o.duration,
		Sign: o.sign, Locate: o.locate, Command: o.command,
		LocateAttempts: o.attempts, LocateHTTPStatus: o.httpStatus,
		Cached: o.cached, Stale: o.stale,
		LastSuccess: o.lastSuccess,
	}
	if cfg.metricsFile == metricsStdout {
		if err := metrics.Encode(std.stdout, probe); err != nil {
			fmt.Fprintf(std.stderr, "monitoring-token: write metrics to stdout: %v\n", err)
		}
		return
	}
	if err := metrics.Write(cfg.metricsFile, probe); err != nil {
		fmt.Fprintf(std.stderr, "monitoring-token: %v; check -metrics-file\n", err)
	}
}

// prober is one probe: it gets the URL and runs the command (or prints the
// variables), timing each phase.
type prober struct {
	cfg *config
	std streams
	out outcome // what happened, as far as the probe knows

	// Set up by prepare when the run probes: ctx is bounded by -timeout,
	// and sigs are the signals to forward, watched until stopWatch.
	ctx       context.Context
	sigs      *exec.Signals
	stopWatch func()
	release   func()    // ends the timeout and the watch
	finished  time.Time // when the probe ended

	// clockBehind is how far this host's clock is behind locate's, from
	// the Date of locate's last answer, when clockKnown.
	clockBehind time.Duration
	clockKnown  bool
}

// attempted counts a request to locate and reads its answer's Date.
func (p *prober) attempted(a locate.Attempt) {
	p.out.attempts, p.out.httpStatus = p.out.attempts+1, a.Status
	if behind, ok := a.ClockBehind(); ok {
		p.clockBehind, p.clockKnown = behind, true
		logx.Debug.Printf("locate answered HTTP %d dated %s: %s", a.Status, a.Date.UTC().Format(time.RFC3339), clockSkew(behind))
	}
}

// clockSkew says how this host's clock compares with locate's.
func clockSkew(behind time.Duration) string {
	secs := int64(behind.Round(time.Second) / time.Second)
	switch {
	case behind > time.Second:
		return fmt.Sprintf("this host's clock is %d s behind locate's", secs)
	case behind < -time.Second:
		return fmt.Sprintf("this host's clock is %d s ahead of locate's", -secs)
	}
	return "this host's clock agrees with locate's (to a second)"
}

// unauthorized explains locate's 401 by what the clocks say: a clock far
// enough behind that locate takes the token for expired (it allows no
// leeway), or else the key.
func (p *prober) unauthorized(err error, kid string) error {
	lifetime := p.cfg.tokenLifetime
	checkKey := fmt.Sprintf("check that locate holds the public key for kid %q and that the key file is the one registered", kid)
	switch {
	case !p.clockKnown:
		return fmt.Errorf("%w; %s, and that this host's clock is not behind by more than -token-lifetime (%v)", err, checkKey, lifetime)
	case p.clockBehind > time.Second && p.clockBehind+time.Second >= lifetime:
		return fmt.Errorf("%w; %s; tokens live %v (-token-lifetime), so locate takes them for expired: set this host's clock (NTP)", err, clockSkew(p.clockBehind), lifetime)
	case p.clockBehind > time.Second:
		return fmt.Errorf("%w; %s, but tokens live %v (-token-lifetime), so the clock is not why: %s", err, clockSkew(p.clockBehind), lifetime, checkKey)
	}
	return fmt.Errorf("%w; %s, so %s", err, clockSkew(p.clockBehind), checkKey)
}

// locateFailure marks an error of the locate phase: locate unreachable,
// refusing, answering something unusable, or not answering in time.
type locateFailure struct{ err error }

func (e *locateFailure) Error() string { return e.err.Error() }
func (e *locateFailure) Unwrap() error { return e.err }

// probeCached gets the probe's status: through the result cache when
// there is one, else by probing.
func (p *prober) probeCached(ctx context.Context) error {
	cfg := p.cfg
	if len(cfg.fromEnv) > 0 {
		logx.Debug.Printf("from the environment: %s", strings.Join(cfg.fromEnv, ", "))
	}
	if len(cfg.ignored) > 0 {
		logx.Debug.Printf("ignored: %s", strings.Join(cfg.ignored, "; "))
	}
	if cfg.givenMachine != "" {
		logx.Debug.Printf("-machine %s is known to locate and the server as %s", cfg.givenMachine, cfg.machine)
	}
	p.release = func() {}
	defer func() { p.release() }()
	if cfg.cacheDir != "" {
		// A hit costs one small read: no key, no locate, no signals.
		return p.probeThroughCache(ctx)
	}
	err := p.locateAndRun(p.prepare(ctx))
	if err == nil {
		p.out.lastSuccess = p.finished
	}
	return err
}

// prepare sets up a probe that goes ahead: the timeout, and the signals,
// which stop the run until the command starts. It returns ctx so watched.
func (p *prober) prepare(ctx context.Context) context.Context {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
	p.ctx, p.stopWatch, p.release = ctx, func() {}, cancel
	if p.cfg.print {
		return ctx
	}
	// Subscribing here, not in exec.Command.Run, makes a signal that
	// arrives while the key is read or locate asked stop the run cleanly:
	// one line, the metrics, and the exit by that signal. (The runtime
	// sets the subscription up in the background meanwhile; that saves
	// 1.6% of a run, under the 2% an optimisation must pay, so it is
	// kept for the behaviour, see bench/README.md.)
	p.sigs = exec.Subscribe()
	watched, stopWatch := p.sigs.Watch(ctx)
	p.stopWatch = stopWatch
	p.release = func() { stopWatch(); cancel() }
	return watched
}

// locateAndRun reads the key, asks locate and runs the command (or prints
// the variables), after prepare: wctx is the context prepare returned.
func (p *prober) locateAndRun(wctx context.Context) error {
	defer func() { p.finished = time.Now() }()
	cfg, ctx, sigs := p.cfg, p.ctx, p.sigs
	client := locate.NewClient(cfg.locateURL)
	client.Insecure = cfg.insecure
	client.Attempted = p.attempted
	vars, err := p.variables(wctx, client)
	p.stopWatch()
	var stopped *exec.SignalError
	if errors.As(context.Cause(wctx), &stopped) {
		return stopped
	}
	if err != nil {
		return err
	}
	if cfg.print {
		var b strings.Builder
		for _, v := range vars {
			fmt.Fprintf(&b, "export %s=%s\n", v.name, shellQuote(v.value))
		}
		_, err := io.WriteString(p.std.stdout, b.String())
		return writeError("exports", err)
	}

	env := exec.Environ()
	if len(cfg.configVars) > 0 {
		logx.Debug.Printf("not passed to the command: %s", strings.Join(cfg.configVars, ", "))
		for _, name := range cfg.configVars {
			env = env.Unset(name)
		}
	}
	for _, v := range vars {
		if cfg.debug {
			logx.Debug.Printf("%s=%s", v.name, token.Redact(v.value))
		}
		env = env.Set(v.name, v.value)
	}
	cmd := &exec.Command{Args: cfg.command, Env: env, KillAfter: cfg.killAfter, Signals: sigs}
	if cfg.debug || cfg.showOutput {
		cmd.Stdout, cmd.Stderr = p.std.stdoutFile, p.std.stderrFile
		if cfg.metricsFile == metricsStdout {
			cmd.Stdout = p.std.stderrFile // stdout carries the metrics alone
		}
	} else {
		cmd.Tail = outputTail // for the failure line
	}
	logx.Debug.Printf("running %q", cfg.command)
	started := time.Now()
	err = cmd.Run(ctx)
	p.out.command = time.Since(started)
	if errors.Is(err, context.DeadlineExceeded) && !errors.As(err, new(*exec.ExitError)) {
		return fmt.Errorf("-timeout %v expired before the command started; nothing was run", cfg.timeout)
	}
	return err
}

// variable is one environment variable for the command.
type variable struct{ name, value string }

// variables reads the key, then asks locate for the service URLs, or with
// -service-url=false builds the locate request URL for the command to use.
func (p *prober) variables(ctx context.Context, client *locate.Client) ([]variable, error) {
	cfg := p.cfg
	started := time.Now()
	signer, err := token.LoadSigner(ctx, cfg.keyPath)
	p.out.sign += time.Since(started)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("%w; check -monitoring-signer-key (MONITORING_SIGNER_KEY)", err)
	}
	if err != nil {
		return nil, err
	}
	if signer.KeyID() == "" {
		log.Printf("warning: signer key %s has no \"kid\"; locate picks its verify key by kid, so add the kid registered with locate", cfg.keyPath)
	}
	sign := func() (string, error) {
		started := time.Now()
		defer func() { p.out.sign += time.Since(started) }()
		tok, err := signer.Sign(cfg.machine, time.Now().Add(cfg.tokenLifetime))
		if err == nil && cfg.debug {
			// Decoding costs a parse: only when someone reads it.
			logx.Debug.Printf("signed token: %s", token.Describe(tok))
		}
		return tok, err
	}
	if !cfg.serviceURL {
		tok, err := sign()
		if err != nil {
			return nil, err
		}
		return []variable{{cfg.envNames[0], client.RequestURL(cfg.service, tok).String()}}, nil
	}

	client.UserAgent = "monitoring-token/" + version()
	// A quarter of -timeout per attempt leaves room to retry a locate
	// instance that hangs.
	client.AttemptTimeout = max(cfg.timeout/4, time.Second)
	client.Retrying = func(err error, wait time.Duration) {
		logx.Debug.Printf("%s; retrying in %v", token.Redact(err.Error()), wait.Round(time.Millisecond))
	}
	logx.Debug.Printf("asking %s", client.ServiceEndpoint(cfg.service))
	started = time.Now()
	signedBefore := p.out.sign
	answer, err := client.Get(ctx, cfg.service, sign)
	p.out.locate += time.Since(started) - (p.out.sign - signedBefore)
	if errors.Is(err, locate.ErrUnauthorized) {
		err = p.unauthorized(err, signer.KeyID())
	}
	if err != nil {
		return nil, &locateFailure{err}
	}
	vars, err := exports(cfg, answer)
	if errors.As(err, new(*usageError)) {
		return nil, err // the command line's mistake, not locate's
	}
	if err != nil {
		return nil, &locateFailure{err}
	}
	if cfg.tokenEnvName != "" {
		if !compactJWT(answer.AccessToken) {
			return nil, &locateFailure{fmt.Errorf("%w: its access_token is not a token, so -token-env-name has nothing to export", locate.ErrUnusableURL)}
		}
		vars = append(vars, variable{cfg.tokenEnvName, answer.AccessToken})
	}
	return vars, nil
}

// exitStatus is the status a run that ended with err exits with.
func exitStatus(err error) int {
	var exited interface{ ExitStatus() int }
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exited):
		return exited.ExitStatus()
	}
	return statusFailed
}

// report turns the error of a run into its exit status, and the signal to
// end by if monitoring-token received one and forwarded it to the command
// (or it stopped the run before the command started), writing one line to
// stderr. For a command that failed, the line ends with the end of its
// output, when it was not shown.
func report(stderr io.Writer, err error) (status int, sig syscall.Signal) {
	if err == nil {
		return 0, 0
	}
	status = exitStatus(err)
	if s, received := exec.DeathSignal(err); received {
		sig = s
	}
	var failed *exec.ExitError
	if errors.As(err, &failed) {
		fmt.Fprintf(stderr, "monitoring-token: %s\n", commandFailed(err, failed, status, sig))
		return status, sig
	}
	if errors.As(err, new(interface{ ExitStatus() int })) {
		fmt.Fprintf(stderr, "monitoring-token: %s\n", token.Redact(err.Error()))
		return status, sig
	}
	fmt.Fprintf(stderr, "monitoring-token: %s\n", token.Redact(explain(err)))
	return status, sig
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
		return msg + "; choose one with -service-url-key-name or -export"
	case errors.As(err, &problem) && problem.Title == "Must provide access_token":
		return msg + "; locate hands monitoring tokens only for ndt/ndt7 and wehe/replay, check -service"
	}
	return msg
}

// writeError says what could not be written, as coreutils env does when its
// output fails.
func writeError(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("write %s: %w", what, err)
}

// shellQuote quotes s for a POSIX shell: inside single quotes nothing is
// special, so each single quote in s closes the quotes, adds an escaped
// quote and reopens them.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
