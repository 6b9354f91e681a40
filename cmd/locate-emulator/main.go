// Command locate-emulator serves the locate emulator (package locatetest) as
// a process, for demos and CI smoke tests of monitoring-token.
//
// It prints the monitoring prefix to give monitoring-token as its locate URL
// (on stdout, or on stderr when it runs a command, so that the command's
// output stays its own) and serves until SIGINT or SIGTERM. With -generate-key it makes a key pair
// for the run, so that a script needs no key of its own:
//
//	locate-emulator -generate-key /tmp/key.jwk -url-file /tmp/locate-url &
//	until [ -s /tmp/locate-url ]; do sleep 0.1; done
//
// Given a command, it serves only while the command runs, with LOCATE_URL
// and MONITORING_SIGNER_KEY (a throwaway key unless keys are given) in the
// command's environment, and exits with the command's status:
//
//	locate-emulator -- monitoring-token -machine=mlab1-lga01.mlab-oti.measurement-lab.org -- ./probe.sh
//	eval "$(locate-emulator -- monitoring-token -machine=mlab1-lga01.mlab-oti.measurement-lab.org -print)"
//
// -delay and -clock-offset play a distant locate and one whose clock
// differs from this host's.
//
// To probe a local server, such as an ndt-server started with
// -token.verify-key=/tmp/locate.pub.jwk, -service-addr points the URLs it
// hands out at that server and -locate-public-key writes out the key that
// verifies its access tokens:
//
//	locate-emulator -generate-key /tmp/key.jwk -url-file /tmp/locate-url -service-addr 127.0.0.1:4443 -locate-public-key /tmp/locate.pub.jwk
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	osexec "os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/renameio/v2"
	accesstoken "github.com/m-lab/access/token"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/locate/locatetest"
	"github.com/monitoring-token/monitoring-token/token"
)

// name prefixes every message.
const name = "locate-emulator"

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2 // as flag.ExitOnError and most Unix tools
)

// usageText goes before the flag list in -h.
const usageText = `Usage:
  locate-emulator (-verify-key PUBLIC.jwk ... | -generate-key PRIVATE.jwk) [-listen ADDR] [-url-file PATH]
                  [-service-addr HOST:PORT] [-locate-public-key PATH]
  locate-emulator [flags] [--] COMMAND [ARG...]

Serves locate's monitoring endpoint, checking tokens as locate does, and
prints its URL (the monitoring prefix) once listening: on stdout, or on
stderr when it runs a command, whose stdout stays its own. Runs until SIGINT
or SIGTERM or, given a command, until the command exits. The command gets
LOCATE_URL and MONITORING_SIGNER_KEY in its environment (a throwaway key
pair is made when no key flag is given) and its exit status is returned.

Like locate, it signs an access token of its own for the machine named in
the monitoring token, spelled exactly as given, and puts it in every URL.
To test a local server (an ndt-server with -ndt7.token.required), give the
server the key from -locate-public-key as -token.verify-key, and point the
URLs at it with -service-addr.

Examples:
  locate-emulator -generate-key /tmp/key.jwk -url-file /tmp/locate-url
  locate-emulator -- monitoring-token -machine=mlab1-lga01.mlab-oti.measurement-lab.org -- ./probe.sh
  eval "$(locate-emulator -- monitoring-token -machine=mlab1-lga01.mlab-oti.measurement-lab.org -print)"
  locate-emulator -generate-key /tmp/key.jwk -url-file /tmp/locate-url -service-addr 127.0.0.1:4443 -locate-public-key /tmp/locate.pub.jwk

Flags:
`

// pathList is a flag that may be given several times, one path each.
type pathList []string

// String returns the paths, for flag's usage output.
func (p *pathList) String() string { return strings.Join(*p, ",") }

// Set adds one path.
func (p *pathList) Set(path string) error {
	if path == "" {
		return errors.New("empty path")
	}
	*p = append(*p, path)
	return nil
}

// config is what the command line asks for.
type config struct {
	listen      string
	verifyKeys  pathList
	generateKey string
	urlFile     string
	// serviceAddr, when set, replaces the host:port of every service URL.
	serviceAddr string
	// locatePublicKey is where to write the public JWK of locate's key.
	locatePublicKey string
	// delay is added before every answer; clockOffset sets the
	// emulator's clock ahead of this host's.
	delay, clockOffset time.Duration
	// answerMachine and urlsWithoutToken spoil the answer (see
	// locatetest.Config).
	answerMachine    string
	urlsWithoutToken bool
	// command, when set, runs while the emulator serves.
	command []string
}

// commandExit is the command's own non-zero exit status.
type commandExit struct{ code int }

func (e *commandExit) Error() string { return fmt.Sprintf("command exited with status %d", e.code) }

// usageError is a command line that cannot be run; it exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg + " (see " + name + " -h)" }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves the emulator until ctx is done and returns the exit status. It
// writes the emulator's URL to stdout once listening (to stderr when it
// runs a command), and one line to stderr if it fails.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil {
		urlOut := stdout
		if len(cfg.command) > 0 {
			// The command's stdout is the caller's: eval "$(locate-emulator
			// -- monitoring-token … -print)" must get the exports alone.
			urlOut = stderr
		}
		err = serve(ctx, cfg, urlOut)
	}
	if err == nil {
		return exitOK
	}
	var exit *commandExit
	if errors.As(err, &exit) {
		return exit.code
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	if errors.As(err, new(*usageError)) {
		return exitUsage
	}
	return exitFailure
}

// parseFlags reads args into a config. -h writes the usage to stdout and
// returns flag.ErrHelp; every other problem is a *usageError.
func parseFlags(args []string, stdout io.Writer) (config, error) {
	cfg := config{}
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package's own messages would take several lines; run prints
	// one instead.
	flags.SetOutput(io.Discard)
	flags.StringVar(&cfg.listen, "listen", "127.0.0.1:0", "serve on `ADDR` (host:port; port 0 picks a free one)")
	flags.Var(&cfg.verifyKeys, "verify-key", "accept tokens signed with the public JWK in `PATH` (repeatable)")
	flags.StringVar(&cfg.generateKey, "generate-key", "", "make an EdDSA key pair for this run, accept its tokens and write its private JWK to `PATH` (mode 0600; must not exist; removed at exit)")
	flags.StringVar(&cfg.urlFile, "url-file", "", "once listening, write the URL to `PATH` (atomically, so a script can wait for it to appear; removed at exit)")
	flags.StringVar(&cfg.serviceAddr, "service-addr", "", "make every service URL point at `HOST:PORT` (e.g. a local ndt-server's 127.0.0.1:4443) instead of the machine's service hostname; locate's token still names the machine")
	flags.StringVar(&cfg.locatePublicKey, "locate-public-key", "", "once listening, write the public JWK that verifies the emulator's access tokens to `PATH` (ndt-server -token.verify-key; written before the URL file; removed at exit)")
	flags.DurationVar(&cfg.delay, "delay", 0, "wait `DURATION` before every answer, as a distant locate would (e.g. 20ms)")
	flags.DurationVar(&cfg.clockOffset, "clock-offset", 0, "run the emulator's clock `DURATION` ahead of this host's (negative: behind): its Date header, the time it checks tokens' expiry against and its tokens' expiry; 75s plays a host whose clock is 75 s behind locate's")
	flags.StringVar(&cfg.answerMachine, "answer-machine", "", "name machine `NAME` in every answer instead of the one asked for, as a locate answering for another machine would")
	flags.BoolVar(&cfg.urlsWithoutToken, "answer-without-token", false, "leave access_token out of every service URL, as a broken locate would")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			flags.SetOutput(stdout)
			flags.PrintDefaults()
			return cfg, err
		}
		return cfg, &usageError{err.Error()}
	}
	cfg.command = flags.Args()
	switch {
	case len(cfg.verifyKeys) == 0 && cfg.generateKey == "" && len(cfg.command) == 0:
		return cfg, &usageError{"no key to verify tokens with: give -verify-key PUBLIC.jwk or -generate-key PATH"}
	case cfg.delay < 0:
		return cfg, &usageError{fmt.Sprintf("-delay %v is negative", cfg.delay)}
	}
	// The output files are removed and replaced, so each must have a path
	// of its own.
	outputs := []struct{ flag, path string }{{"-url-file", cfg.urlFile}, {"-locate-public-key", cfg.locatePublicKey}}
	inputs := append([]string{cfg.generateKey}, cfg.verifyKeys...)
	for i, out := range outputs {
		if out.path == "" {
			continue
		}
		for _, key := range inputs {
			if filepath.Clean(key) == filepath.Clean(out.path) {
				return cfg, &usageError{fmt.Sprintf("%s %s is also a key file; give it a path of its own", out.flag, out.path)}
			}
		}
		for _, other := range outputs[i+1:] {
			if filepath.Clean(other.path) == filepath.Clean(out.path) {
				return cfg, &usageError{fmt.Sprintf("%s and %s name the same file %s; give each a path of its own", out.flag, other.flag, out.path)}
			}
		}
	}
	return cfg, nil
}

// serve runs the emulator until ctx is done, writing its URL to urlOut once
// listening. Files it creates are removed when it returns.
func serve(ctx context.Context, cfg config, urlOut io.Writer) (err error) {
	if len(cfg.command) > 0 {
		// Fail before serving, not after printing the URL.
		if _, err := osexec.LookPath(cfg.command[0]); err != nil {
			return err
		}
	}
	keys, err := readVerifyKeys(cfg.verifyKeys)
	if err != nil {
		return err
	}
	var generated *token.KeyPair
	if cfg.generateKey == "" && len(cfg.verifyKeys) == 0 {
		// A command without keys gets a throwaway key pair.
		dir, err := os.MkdirTemp("", name)
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.generateKey = filepath.Join(dir, "monitoring.jwk")
	}
	if cfg.generateKey != "" {
		generated, err = token.GenerateKey(string(jose.EdDSA), "", 0)
		if err != nil {
			return err
		}
		keys = append(keys, generated.Public)
	}
	// Files left by an earlier run would tell a waiting script that this
	// one is ready, or give a server the wrong key.
	for _, path := range []string{cfg.urlFile, cfg.locatePublicKey} {
		if path == "" {
			continue
		}
		if err := removeIfExists(path); err != nil {
			return fmt.Errorf("remove stale file: %w", err)
		}
	}

	srv, err := locatetest.Config{Addr: cfg.listen, VerifyKeys: keys, ServiceAddr: cfg.serviceAddr, Delay: cfg.delay, ClockOffset: cfg.clockOffset,
		AnswerMachine: cfg.answerMachine, URLsWithoutToken: cfg.urlsWithoutToken}.Start()
	switch {
	case errors.Is(err, accesstoken.ErrDuplicateKeyID):
		return fmt.Errorf("%w; every -verify-key needs a kid of its own", err)
	case errors.Is(err, locatetest.ErrServiceAddr):
		return &usageError{"-service-addr: " + err.Error()}
	case err != nil:
		return fmt.Errorf("-listen %s: %w", cfg.listen, err)
	}
	defer srv.Close()

	// The URL file comes last: when it appears, the key files are there too.
	if generated != nil {
		if err := writeNew(cfg.generateKey, generated.Private); err != nil {
			return err
		}
		defer cleanup(cfg.generateKey, &err)
	}
	if cfg.locatePublicKey != "" {
		if err := writeAtomic(cfg.locatePublicKey, string(srv.LocatePublicKey())); err != nil {
			return fmt.Errorf("-locate-public-key: %w", err)
		}
		defer cleanup(cfg.locatePublicKey, &err)
	}
	if cfg.urlFile != "" {
		if err := writeAtomic(cfg.urlFile, srv.URL); err != nil {
			return fmt.Errorf("-url-file: %w", err)
		}
		defer cleanup(cfg.urlFile, &err)
	}
	if _, err := fmt.Fprintln(urlOut, srv.URL); err != nil {
		return fmt.Errorf("print URL: %w", err)
	}

	if len(cfg.command) > 0 {
		return runCommand(cfg.command, srv.URL, cfg.generateKey)
	}
	<-ctx.Done()
	return nil
}

// runCommand runs command with the emulator's URL and the signer key in its
// environment, as monitoring-token reads them, and returns a *commandExit
// for a non-zero status. The exec package supervises it as monitoring-token
// does: a SIGINT or SIGTERM to the emulator is forwarded to the command,
// whose own status is returned.
func runCommand(command []string, url, keyPath string) error {
	env := exec.Environ().Set("LOCATE_URL", url)
	if keyPath != "" {
		env = env.Set("MONITORING_SIGNER_KEY", keyPath)
	}
	cmd := &exec.Command{Args: command, Env: env, Stdout: os.Stdout, Stderr: os.Stderr}
	err := cmd.Run(context.Background())
	var ended interface{ ExitStatus() int }
	if errors.As(err, &ended) {
		return &commandExit{code: ended.ExitStatus()}
	}
	return err
}

// readVerifyKeys reads the public JWKs and checks each one, so that an error
// names the file at fault.
func readVerifyKeys(paths []string) ([][]byte, error) {
	var keys [][]byte
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			// The *PathError names the file and says why.
			return nil, fmt.Errorf("read verify key: %w", err)
		}
		// The messages carry no key material: m-lab/access says only
		// "invalid JSON web key" or what go-jose could not parse.
		if _, err := accesstoken.LoadJSONWebKey(b, true); err != nil {
			if _, perr := accesstoken.LoadJSONWebKey(b, false); perr == nil {
				return nil, fmt.Errorf("verify key %s holds a private key; give the public JWK (monitoring-keygen -public)", path)
			}
			return nil, fmt.Errorf("verify key %s is not a public JWK: %v", path, err)
		}
		keys = append(keys, b)
	}
	return keys, nil
}

// writeNew writes a private JWK and a newline to a file that must not exist
// yet, readable by its owner only.
func writeNew(path string, jwk []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("-generate-key %s already exists; %s never overwrites a key: choose another path or remove the old file", path, name)
	case err != nil:
		return fmt.Errorf("create key file: %w", err)
	}
	_, err = f.Write(append(jwk[:len(jwk):len(jwk)], '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
}

// writeAtomic writes line and a newline to path, readable by all, through a
// synced temporary file in the same directory and a rename, so that a
// reader sees the whole file or none. WithTempDir keeps renameio from
// probing $TMPDIR with two more files first.
func writeAtomic(path, line string) error {
	err := renameio.WriteFile(path, []byte(line+"\n"), 0o644,
		renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(0o644))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// cleanup removes a file this run created, adding a failure to *err.
func cleanup(path string, err *error) {
	if rerr := removeIfExists(path); rerr != nil && *err == nil {
		*err = fmt.Errorf("clean up: %w", rerr)
	}
}

// removeIfExists removes path; a path that is already gone is no error.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
