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
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/m-lab/go/logx"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/internal/cache"
	"github.com/monitoring-token/monitoring-token/internal/metrics"
	"github.com/monitoring-token/monitoring-token/locate"
	"github.com/monitoring-token/monitoring-token/token"
)

// statusFailed is the exit status when monitoring-token itself fails and the
// command did not run, as coreutils env and timeout use 125.
const statusFailed = 125

// producer is who produced a run's status. The number cannot say: a command
// may itself exit 124 or 125, the statuses monitoring-token uses for a
// command it stopped and for a probe that could not run.
type producer string

// The producers, as the cache records them.
const (
	// byCommand: the command's own exit status or death by a signal, or
	// its success served from the cache.
	byCommand producer = "command"
	// cannotRun: monitoring-token's, because the probe could not test the
	// machine: the command did not start (125 for the flags, the key,
	// locate or a wait for another run; 126 and 127 when it could not be
	// executed; a signal before it started), its status was lost (125),
	// or a stale success stood in (0).
	cannotRun producer = "cannot-run"
	// timedOut: monitoring-token stopped the command at -timeout (124).
	timedOut producer = "timed-out"
)

// verdict is how a run ends: the status, the signal to end by and who
// produced the status. judge decides it from the error the run ended with,
// once per run; a stale success stands in with 0 by cannotRun.
type verdict struct {
	// status is the probe's status; the process exits with it unless
	// passed.
	status int
	// signal, when not zero, was received and forwarded, and the command
	// died of a signal (or it stopped the run before the command
	// started); monitoring-token ends itself with it, and status is 128+N.
	signal syscall.Signal
	// by is who produced status.
	by producer
	// passed says that the probe could not run and -pass-if-cannot-run
	// makes the process exit 0.
	passed bool
}

// judge decides how a run that ended with err ends: its exit status (125
// for an error that carries none), the signal to end by, who produced the
// status, and whether -pass-if-cannot-run (passIfCannotRun) passes it.
func judge(err error, passIfCannotRun bool) verdict {
	if err == nil {
		return verdict{by: byCommand}
	}
	v := verdict{status: statusFailed, by: cannotRun}
	var withStatus interface{ ExitStatus() int }
	if errors.As(err, &withStatus) {
		v.status = withStatus.ExitStatus()
	}
	if sig, received := exec.DeathSignal(err); received {
		v.signal = sig
	}
	var exited *exec.ExitError
	var shared *sharedStatus
	switch {
	case errors.As(err, &shared):
		v.by = shared.by
	case errors.As(err, new(*cutShort)):
		v.by = cannotRun // locate's time, not the server's, cut the command short
	case errors.As(err, &exited) && exited.TimedOut:
		v.by = timedOut
	case errors.As(err, &exited):
		v.by = byCommand
	}
	v.passed = passIfCannotRun && v.by == cannotRun && v.signal == 0
	return v
}

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
	return o.exitStatus()
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
	verdict
	// err is the failure the run reports in one line, nil for none; tokens
	// are every token the run handled, redacted from that line however the
	// command's output wrapped them.
	err    error
	tokens []string
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

// exitStatus is the status the process exits with.
func (o outcome) exitStatus() int {
	if o.passed {
		return 0
	}
	return o.status
}

// run is the whole command, in the order it happens: the configuration; a
// fresh cached result; the deadline and the signals; a lock or another
// run's result; sign and ask locate; run the command; record and report.
// It returns the outcome and writes at most one line about a failure to
// stderr.
func run(ctx context.Context, args []string, std streams) outcome {
	// The configuration; -h and -version end the run there.
	cfg, err := configure(args, std)
	if cfg == nil {
		o := outcome{verdict: judge(err, false), err: err}
		if err != nil {
			report(std.stderr, err, o.verdict)
		}
		return o
	}
	started := time.Now()

	// A fresh cached result: one small read; no key, no locate, no signals.
	var c *cache.Cache
	if cfg.cacheDir != "" {
		c = &cache.Cache{Dir: cfg.cacheDir, TTL: cfg.cacheTTL, StaleIfError: cfg.staleIfError, Limit: cfg.timeout, Debugf: logx.Debug.Printf}
		if last, ok := c.Fresh(cacheKey(cfg)); ok {
			return finish(cfg, std, started, outcome{verdict: judge(nil, false), cached: true, lastSuccess: last})
		}
	}

	// The deadline, and the signals: until the command starts, one of
	// them ends watched and so the run; then exec forwards them to it.
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	watched, signals := watchSignals(ctx, cfg.print)
	defer signals.stop()

	// A lock or another run's result; sign and ask locate; run the
	// command; the cache records the result.
	var o outcome
	if c != nil {
		o = probeThroughCache(ctx, watched, signals, c, cfg, std)
	} else {
		o = probeOnce(ctx, watched, signals, cfg, std).outcome()
	}

	// Report: one line about a failure, and the metrics.
	return finish(cfg, std, started, o)
}

// configure reads the configuration, and answers -h and -version. It
// returns a nil config when the run ends there, with the error to report.
func configure(args []string, std streams) (*config, error) {
	cfg, err := parseConfig(args, os.LookupEnv, time.Now())
	if cfg != nil && cfg.warning != "" {
		fmt.Fprintf(std.stderr, "monitoring-token: %s\n", cfg.warning)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil, usage(std.stdout)
	case err != nil:
		return nil, err
	case cfg.version:
		_, err := fmt.Fprintln(std.stdout, "monitoring-token", version())
		return nil, writeError("version", err)
	case !cfg.readEnv:
		// Before anything connects.
		if err := neutraliseRuntime(); err != nil {
			return nil, err
		}
	}
	logConfig(cfg)
	return cfg, nil
}

// logConfig writes the debug lines about where the configuration came from.
func logConfig(cfg *config) {
	if fromEnv := cfg.flags.FromEnv(); len(fromEnv) > 0 {
		logx.Debug.Printf("from the environment: %s", strings.Join(fromEnv, ", "))
	}
	if len(cfg.ignored) > 0 {
		logx.Debug.Printf("ignored: %s", strings.Join(cfg.ignored, "; "))
	}
	if cfg.givenMachine != "" {
		logx.Debug.Printf("-machine %s is known to locate and the server as %s", cfg.givenMachine, cfg.machine)
	}
}

// signalWatch is a run's subscription to the signals it forwards, and the
// watch that turns one into the end of the run until the command starts.
type signalWatch struct {
	sigs *exec.Signals // nil with -print, which starts no command
	stop func()        // ends the watch; exec.Command.Run forwards from then on
}

// watchSignals subscribes to the signals a run forwards and returns ctx
// watched: cancelled, with an *exec.SignalError as its cause, when one
// arrives before stop. Subscribing now, not in exec.Command.Run, makes a
// signal that arrives while the key is read, locate asked or another run
// waited for stop the run cleanly: one line, the metrics, and the exit by
// that signal. The runtime sets the subscription up in the background
// meanwhile. -print starts no command and watches nothing.
func watchSignals(ctx context.Context, print bool) (context.Context, signalWatch) {
	if print {
		return ctx, signalWatch{stop: func() {}}
	}
	sigs := exec.Subscribe()
	watched, stop := sigs.Watch(ctx)
	return watched, signalWatch{sigs: sigs, stop: stop}
}

// finish reports the outcome: one line about a failure, with every token
// the run handled redacted, and the metrics.
func finish(cfg *config, std streams, started time.Time, o outcome) outcome {
	if err := cfg.deadlineReached(o.err); err != nil {
		if o.passed {
			err = &passedError{err}
		}
		report(token.RedactingWriter(std.stderr, o.tokens...), err, o.verdict)
	}
	o.duration = time.Since(started)
	if cfg.metricsFile != "" {
		writeMetrics(cfg, o, std)
	}
	return o
}

// writeMetrics writes the outcome to -metrics-file, or to stdout for
// "-metrics-file -". Without a cache the last success is read back from the
// file's previous version (stdout has none). A failure costs one stderr
// line and leaves the exit status alone.
func writeMetrics(cfg *config, o outcome, std streams) {
	if o.lastSuccess.IsZero() && cfg.metricsFile != metricsStdout {
		last, err := metrics.LastSuccess(cfg.metricsFile, cfg.machine, cfg.service)
		if err != nil {
			logx.Debug.Printf("%v; last success unknown", err)
		}
		o.lastSuccess = last
	}
	m := metrics.Probe{
		Machine: cfg.machine, Service: cfg.service,
		ExitCode: o.status, Duration: o.duration,
		CannotRun: o.by == cannotRun, TimedOut: o.by == timedOut, Passed: o.passed,
		Sign: o.sign, Locate: o.locate, Command: o.command,
		LocateAttempts: o.attempts, LocateHTTPStatus: o.httpStatus,
		Cached: o.cached, Stale: o.stale,
		LastSuccess: o.lastSuccess,
	}
	if cfg.metricsFile == metricsStdout {
		if err := metrics.Encode(std.stdout, m); err != nil {
			fmt.Fprintf(std.stderr, "monitoring-token: write metrics to stdout: %v\n", err)
		}
		return
	}
	if err := metrics.Write(cfg.metricsFile, m); err != nil {
		fmt.Fprintf(std.stderr, "monitoring-token: %v; check -metrics-file\n", err)
	}
}

// probed is what one probe did: how it ended, and where its time went.
type probed struct {
	err error // nil for success
	verdict
	located
	command  time.Duration
	finished time.Time
}

// outcome is the outcome of the probe p; a success is the last one.
func (p probed) outcome() outcome {
	o := outcome{verdict: p.verdict, err: p.err, tokens: p.tokens,
		sign: p.sign, locate: p.locate, command: p.command, attempts: p.attempts, httpStatus: p.httpStatus}
	if p.err == nil {
		o.lastSuccess = p.finished
	}
	return o
}

// probeOnce signs and asks locate, which a signal stops through watched,
// then ends the signal watch and runs the command (or prints the
// variables) until ctx's deadline, and judges how the probe ended.
func probeOnce(ctx, watched context.Context, signals signalWatch, cfg *config, std streams) probed {
	l, err := askLocate(watched, cfg)
	signals.stop()
	var stopped *exec.SignalError
	if errors.As(context.Cause(watched), &stopped) {
		err = stopped
	}
	p := probed{located: l}
	switch {
	case err != nil:
	case cfg.print:
		err = printExports(std.stdout, l.vars)
	default:
		p.command, err = runCommand(ctx, cfg, std, signals.sigs, l)
	}
	p.err, p.verdict, p.finished = err, judge(err, cfg.passIfCannotRun), time.Now()
	return p
}

// printExports writes the variables as shell export lines, for -print.
func printExports(stdout io.Writer, vars []variable) error {
	var b strings.Builder
	for _, v := range vars {
		fmt.Fprintf(&b, "export %s=%s\n", v.name, shellQuote(v.value))
	}
	_, err := io.WriteString(stdout, b.String())
	return writeError("exports", err)
}

// runCommand runs the command with the variables in its environment until
// ctx's deadline, forwarding sigs, and returns how long it ran.
func runCommand(ctx context.Context, cfg *config, std streams, sigs *exec.Signals, l located) (time.Duration, error) {
	env := commandEnvironment(cfg)
	if len(cfg.configVars) > 0 {
		logx.Debug.Printf("not passed to the command: %s", strings.Join(cfg.configVars, ", "))
		for _, name := range cfg.configVars {
			env = env.Unset(name)
		}
	}
	for _, v := range l.vars {
		if cfg.debug {
			logx.Debug.Printf("%s=%s", v.name, token.Redact(v.value))
		}
		env = env.Set(v.name, v.value)
	}
	cmd := &exec.Command{Args: cfg.command, Env: env, KillAfter: cfg.killAfter, Signals: sigs}
	if cfg.debug || cfg.showOutput {
		cmd.Stdout, cmd.Stderr = std.stdoutFile, std.stderrFile
		if cfg.metricsFile == metricsStdout {
			cmd.Stdout = std.stderrFile // stdout carries the metrics alone
		}
	} else {
		cmd.Tail = outputTail // for the failure line
	}
	logx.Debug.Printf("running %q", cfg.command)
	started := time.Now()
	err := cmd.Run(ctx)
	ran := time.Since(started)
	// What the run had spent of -timeout, ctx's deadline, when the
	// command started.
	deadline, _ := ctx.Deadline()
	before := cfg.timeout - deadline.Sub(started)
	var exited *exec.ExitError
	switch {
	case errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &exited):
		return ran, fmt.Errorf("-timeout %v expired before the command started; nothing was run", cfg.timeout)
	case errors.As(err, &exited) && exited.TimedOut && before > cfg.timeout/beforeShare:
		return ran, &cutShort{err: err, before: before, locate: l.locate, timeout: cfg.timeout}
	}
	return ran, err
}

// beforeShare: a command stopped by -timeout is the server's verdict (124)
// only if the run spent at most this fraction of -timeout before the
// command started (reading the key, asking locate, waiting for another
// run's probe). Otherwise locate's time, not the server's, was short.
const beforeShare = 10

// cutShort is a command stopped by -timeout after the run had spent more
// than a tenth of it before the command started: the client did not get
// the time it was given, so the verdict is not the server's and the status
// is 125, not 124. -timeout bounds the whole run, so the exporter's
// deadline stays a hard cap.
type cutShort struct {
	err                     error // the *exec.ExitError, TimedOut
	before, locate, timeout time.Duration
}

func (e *cutShort) Unwrap() error   { return e.err }
func (e *cutShort) ExitStatus() int { return statusFailed }
func (e *cutShort) Error() string {
	return fmt.Sprintf("%v; the run spent %v of -timeout %v before the command started (locate took %v), more than a tenth, so the command did not get its time and the verdict is not the server's: check locate's latency, or raise -timeout",
		e.err, e.before.Round(time.Millisecond), e.timeout.Round(time.Millisecond), e.locate.Round(time.Millisecond))
}

// variable is one environment variable for the command.
type variable struct{ name, value string }

// located is what reading the key and asking locate gave: the variables
// for the command, every token handled (those signed and locate's), and
// where the time went.
type located struct {
	vars   []variable
	tokens []string
	// sign is the time spent reading the key and signing, locate the rest
	// of the time spent asking locate.
	sign, locate time.Duration
	// attempts is how many requests locate was sent, and httpStatus the
	// status of its last answer (0 when none came).
	attempts, httpStatus int
}

// askLocate reads the key, then asks locate for the service URLs, or with
// -service-url=false builds the locate request URL for the command to use.
// It returns what it got as far as it went, with its error.
func askLocate(ctx context.Context, cfg *config) (located, error) {
	var l located
	client := locate.NewClient(cfg.locateURL)
	if err := setTransport(client, cfg); err != nil {
		return l, err
	}
	client.Insecure = cfg.insecure

	started := time.Now()
	signer, err := token.LoadSigner(ctx, cfg.keyPath)
	l.sign = time.Since(started)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return l, fmt.Errorf("%w; check -monitoring-signer-key (MONITORING_SIGNER_KEY)", err)
	}
	if err != nil {
		return l, err
	}
	if signer.KeyID() == "" {
		log.Printf("warning: signer key %s has no \"kid\"; locate picks its verify key by kid, so add the kid registered with locate", cfg.keyPath)
	}
	// signing is the time sign spent, which locate spends in Get.
	var signing time.Duration
	sign := func() (string, error) {
		started := time.Now()
		defer func() { signing += time.Since(started) }()
		tok, err := signer.Sign(cfg.machine, time.Now().Add(cfg.tokenLifetime))
		l.tokens = append(l.tokens, tok)
		if err == nil && cfg.debug {
			// Decoding costs a parse: only when someone reads it.
			logx.Debug.Printf("signed token: %s", token.Describe(tok))
		}
		return tok, err
	}
	if !cfg.serviceURL {
		tok, err := sign()
		l.sign += signing
		if err != nil {
			return l, err
		}
		l.vars = []variable{{cfg.envNames[0], client.RequestURL(cfg.service, tok).String()}}
		return l, nil
	}

	client.UserAgent = "monitoring-token/" + version()
	// A quarter of -timeout per attempt leaves room to retry a locate
	// instance that hangs.
	client.AttemptTimeout = max(cfg.timeout/4, time.Second)
	client.Retrying = func(err error, wait time.Duration) {
		logx.Debug.Printf("%s; retrying in %v", token.Redact(err.Error()), wait.Round(time.Millisecond))
	}
	var clock clockReading
	client.Attempted = func(a locate.Attempt) {
		l.attempts, l.httpStatus = l.attempts+1, a.Status
		if behind, ok := a.ClockBehind(); ok {
			clock = clockReading{behind: behind, known: true}
			logx.Debug.Printf("locate answered HTTP %d dated %s: %s", a.Status, a.Date.UTC().Format(time.RFC3339), clockSkew(behind))
		}
	}
	logx.Debug.Printf("asking %s", client.ServiceEndpoint(cfg.service))
	started = time.Now()
	answer, err := client.Get(ctx, cfg.service, sign)
	l.sign, l.locate = l.sign+signing, time.Since(started)-signing
	if errors.Is(err, locate.ErrUnauthorized) {
		err = unauthorized(err, signer.KeyID(), clock, cfg.tokenLifetime)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		// Permanent: another attempt would get the same answer.
		err = fmt.Errorf("locate's host name %s does not resolve (%s, not retried): %w; check the host of -locate-url and this host's DNS (/etc/resolv.conf)", dnsErr.Name, attemptCount(l.attempts), err)
	}
	if err != nil {
		return l, &locateFailure{err}
	}
	l.tokens = append(l.tokens, answerTokens(answer)...)
	vars, err := exports(cfg, answer)
	if errors.As(err, new(*usageError)) {
		return l, err // the command line's mistake, not locate's
	}
	if err == nil {
		err = checkAnswer(cfg, answer, vars)
	}
	if err != nil {
		return l, &locateFailure{err}
	}
	if cfg.tokenEnvName != "" {
		if !compactJWT(answer.AccessToken) {
			return l, &locateFailure{fmt.Errorf("%w: its access_token is not a token, so -token-env-name has nothing to export", locate.ErrUnusableURL)}
		}
		vars = append(vars, variable{cfg.tokenEnvName, answer.AccessToken})
	}
	l.vars = vars
	return l, nil
}

// clockReading is how far this host's clock is behind locate's, from the
// Date of locate's last answer, when known.
type clockReading struct {
	behind time.Duration
	known  bool
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
func unauthorized(err error, kid string, clock clockReading, lifetime time.Duration) error {
	checkKey := fmt.Sprintf("check that locate holds the public key for kid %q and that the key file is the one registered", kid)
	switch {
	case !clock.known:
		return fmt.Errorf("%w; %s, and that this host's clock is not behind by more than -token-lifetime (%v)", err, checkKey, lifetime)
	case clock.behind > time.Second && clock.behind+time.Second >= lifetime:
		return fmt.Errorf("%w; %s; tokens live %v (-token-lifetime), so locate takes them for expired: set this host's clock (NTP)", err, clockSkew(clock.behind), lifetime)
	case clock.behind > time.Second:
		return fmt.Errorf("%w; %s, but tokens live %v (-token-lifetime), so the clock is not why: %s", err, clockSkew(clock.behind), lifetime, checkKey)
	}
	return fmt.Errorf("%w; %s, so %s", err, clockSkew(clock.behind), checkKey)
}

// locateFailure marks an error of the locate phase: locate unreachable,
// refusing, answering something unusable, or not answering in time.
type locateFailure struct{ err error }

func (e *locateFailure) Error() string { return e.err.Error() }
func (e *locateFailure) Unwrap() error { return e.err }

// attemptCount says how many requests were sent: "1 attempt", "3 attempts".
func attemptCount(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// passedError is the failure of a probe that could not run, which
// -pass-if-cannot-run lets exit 0.
type passedError struct{ err error }

func (e *passedError) Error() string {
	return e.err.Error() + "; exit status 0 (-pass-if-cannot-run)"
}
func (e *passedError) Unwrap() error { return e.err }

// report writes the one line about a run that ended with err, judged v,
// to stderr. For a command that failed, the line ends with the end of its
// output, when it was not shown.
func report(stderr io.Writer, err error, v verdict) {
	var failed *exec.ExitError
	switch {
	case errors.As(err, &failed):
		fmt.Fprintf(stderr, "monitoring-token: %s\n", commandFailed(err, failed, v.status, v.signal))
	case errors.As(err, new(interface{ ExitStatus() int })):
		fmt.Fprintf(stderr, "monitoring-token: %s\n", token.Redact(err.Error()))
	default:
		fmt.Fprintf(stderr, "monitoring-token: %s\n", token.Redact(explain(err)))
	}
}

// explain adds what to do next to the errors an operator meets most.
func explain(err error) string {
	msg := err.Error() + commandHint(err)
	var problem *locate.Error
	var usage *usageError
	switch {
	case errors.As(err, &usage):
		return msg + " (see monitoring-token -h)"
	case errors.Is(err, locate.ErrURLKey):
		return msg + "; choose one with -service-url-key-name or -export"
	case errors.As(err, &problem) && problem.Title == "Must provide access_token":
		return msg + "; locate hands monitoring tokens only for " + tokenServices() + ", check -service"
	}
	return msg
}

// commandHint is what this command adds to an error of the token and
// locate packages, which name none of its flags: how to get past it here.
// It goes at the end of the error's message, after the package's own text.
func commandHint(err error) string {
	switch {
	case errors.Is(err, locate.ErrPlainHTTP):
		return ", or add -insecure if you mean it"
	case errors.Is(err, token.ErrPublicKey):
		return "; monitoring-token needs the private key (the public half goes to locate)"
	case errors.Is(err, locate.ErrOtherOrigin):
		return "; use the URL locate redirects to as -locate-url if it is locate's"
	}
	return ""
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
