// Command monitoring-keygen writes a new signing key pair for
// monitoring-token: the private JWK that monitoring-token signs with, and the
// public JWK that goes into locate's verify secret.
//
// It never overwrites a file, so an existing key cannot be lost by rerunning
// it with the same paths.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/monitoring-token/monitoring-token/token"
)

// name prefixes every message.
const name = "monitoring-keygen"

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2 // as flag.ExitOnError and most Unix tools
)

// File modes: the private key is for its owner only; the public key is no
// secret.
const (
	privateMode fs.FileMode = 0o600
	publicMode  fs.FileMode = 0o644
)

// defaultRSABits is the RSA modulus size when -bits is not given (NIST SP
// 800-57 puts 3072 bits at the 128-bit security level).
const defaultRSABits = 3072

// usageText goes before the flag list in -h.
const usageText = `Usage: monitoring-keygen -private PATH -public PATH [-alg EdDSA|ES256|RS256] [-bits N] [-kid ID]

Writes a new key pair for monitoring-token. The private JWK (mode 0600) stays
with the probe and is what monitoring-token signs with; the public JWK goes
into locate's verify secret. Existing files are never overwritten.

Example:
  monitoring-keygen -private monitoring.jwk -public monitoring.pub.jwk

Flags:
`

// config is what the command line asks for.
type config struct {
	alg     string
	bits    int
	kid     string
	private string
	public  string
}

// usageError is a command line that cannot be run; it exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg + " (see " + name + " -h)" }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is the whole command: it returns the exit status and writes one line to
// stdout on success or to stderr on failure.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil {
		err = generate(cfg, stdout)
	}
	if err == nil {
		return exitOK
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
	flags.StringVar(&cfg.alg, "alg", string(jose.EdDSA), "signature `algorithm`: EdDSA, ES256 or RS256")
	flags.IntVar(&cfg.bits, "bits", defaultRSABits, fmt.Sprintf("RSA key size for -alg RS256, at least %d", token.MinRSABits))
	flags.StringVar(&cfg.kid, "kid", "", "key `ID` to put in the JWKs and every token header (default: the key's RFC 7638 thumbprint)")
	flags.StringVar(&cfg.private, "private", "", "write the private JWK to `PATH` (required; mode 0600)")
	flags.StringVar(&cfg.public, "public", "", "write the public JWK for locate's verify secret to `PATH` (required)")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			flags.SetOutput(stdout)
			flags.PrintDefaults()
			return cfg, err
		}
		return cfg, &usageError{err.Error()}
	}
	bitsGiven := false
	flags.Visit(func(f *flag.Flag) { bitsGiven = bitsGiven || f.Name == "bits" })

	alg, ok := algorithm(cfg.alg)
	cfg.alg = alg
	switch {
	case flags.NArg() > 0:
		return cfg, &usageError{fmt.Sprintf("unexpected argument %q; all input is given by flags", flags.Arg(0))}
	case !ok:
		return cfg, &usageError{fmt.Sprintf("-alg %q is not one locate can verify; use EdDSA, ES256 or RS256", cfg.alg)}
	case bitsGiven && alg != string(jose.RS256):
		return cfg, &usageError{fmt.Sprintf("-bits applies only to -alg RS256, not %s", alg)}
	case cfg.bits < token.MinRSABits:
		return cfg, &usageError{fmt.Sprintf("-bits %d is too small; RSA keys need at least %d bits", cfg.bits, token.MinRSABits)}
	case cfg.private == "" || cfg.public == "":
		return cfg, &usageError{"both -private and -public are required"}
	case filepath.Clean(cfg.private) == filepath.Clean(cfg.public):
		return cfg, &usageError{"-private and -public must name different files"}
	}
	return cfg, nil
}

// algorithm returns the canonical spelling of alg if locate can verify it.
// Case is ignored, so "eddsa" is EdDSA.
func algorithm(alg string) (string, bool) {
	for _, a := range token.Algorithms() {
		if strings.EqualFold(alg, string(a)) {
			return string(a), true
		}
	}
	return alg, false
}

// generate makes the key pair, writes both files and reports what it wrote.
func generate(cfg config, stdout io.Writer) error {
	kp, err := token.GenerateKey(cfg.alg, cfg.kid, cfg.bits)
	if err != nil {
		return err
	}
	if err := writeKeyPair(cfg.private, cfg.public, kp); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s key pair kid=%q: private key %s (keep it on the probe for monitoring-token), public key %s (add it to locate's verify secret)\n",
		cfg.alg, kp.KeyID, cfg.private, cfg.public)
	return nil
}

// writeKeyPair creates both files or neither: both are opened exclusively
// before anything is written, and whatever was created is removed if a later
// step fails, so that a rerun with the same paths works.
func writeKeyPair(privatePath, publicPath string, kp *token.KeyPair) (err error) {
	priv, err := createNew(privatePath, privateMode)
	if err != nil {
		return err
	}
	defer cleanupOnError(priv, &err)
	pub, err := createNew(publicPath, publicMode)
	if err != nil {
		return err
	}
	defer cleanupOnError(pub, &err)
	if err := writeAndClose(priv, kp.Private); err != nil {
		return err
	}
	return writeAndClose(pub, kp.Public)
}

// createNew opens a file that must not exist yet.
func createNew(path string, mode fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("%s already exists; %s never overwrites a key: choose another path or move the old file away", path, name)
	case err != nil:
		// The *PathError names the file and says why.
		return nil, fmt.Errorf("create key file: %w", err)
	}
	return f, nil
}

// writeAndClose writes the JWK and a newline and makes sure they reached the
// disk: a key file that is cut short is worse than none.
func writeAndClose(f *os.File, jwk []byte) error {
	_, err := f.Write(append(jwk[:len(jwk):len(jwk)], '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
}

// cleanupOnError removes f, which this run created, when *err is set.
func cleanupOnError(f *os.File, err *error) {
	if *err == nil {
		return
	}
	f.Close() // Already closed after a failed write; the error adds nothing.
	if rerr := os.Remove(f.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		*err = fmt.Errorf("%w; also could not remove the partial file: %v", *err, rerr)
	}
}
