package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	osexec "os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/monitoring-token/monitoring-token/locate/locatetest"
	"github.com/monitoring-token/monitoring-token/token"
)

// TestScripts runs the command-line contract in testdata/script/*.txtar:
// each script runs monitoring-token (this test binary, see TestMain) and
// checks its exit status, its output and its files. Besides testscript's
// own commands, scripts have these:
//
//	emulator [PUBLIC.jwk]
//		start a locate emulator for the script; with no argument, make a
//		key pair (kid k1) and write its private key to
//		$WORK/monitoring.jwk. Sets LOCATE_URL, MONITORING_SIGNER_KEY
//		(without an argument) and $machine, an M-Lab machine name (in
//		lower case, so that it is not the original's MACHINE).
//	requests N
//		the emulator was asked N times.
//	answer FILE
//		the emulator answers the next request with FILE (HTTP 200, JSON).
//	tokens FILE
//		print what each JWT in FILE says (token.Describe), one line each,
//		after the name of the variable it is in (NAME=... or export
//		NAME=...) and a colon.
//	keygen [-kid=ID] ALG PRIVATE.jwk PUBLIC.jwk
//		write a key pair with kid k1, or ID (none when empty).
//	jwk SRC DST [NAME=VALUE...]
//		write DST as the JSON object in SRC with the members given set.
//	jwk-get FILE NAME VAR
//		set $VAR to the member NAME of the JSON object in FILE.
//	status N COMMAND [ARGS...]
//		run the command as exec does and check that it exits with N.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Values[emulatorKey{}] = new(*locatetest.Server)
			env.Setenv("GORACE", os.Getenv("GORACE")) // see withHelpers.Run
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"emulator": cmdEmulator,
			"requests": cmdRequests,
			"answer":   cmdAnswer,
			"keygen":   cmdKeygen,
			"tokens":   cmdTokens,
			"jwk":      cmdJWK,
			"jwk-get":  cmdJWKGet,
			"status":   cmdStatus,
		},
	})
}

// emulatorKey holds a script's emulator in its Values.
type emulatorKey struct{}

func cmdEmulator(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 {
		ts.Fatalf("usage: emulator [PUBLIC.jwk]")
	}
	var public []byte
	if len(args) == 1 {
		public = []byte(ts.ReadFile(args[0]))
	} else {
		kp, err := token.GenerateKey("EdDSA", "k1", 0)
		ts.Check(err)
		keyPath := ts.MkAbs("monitoring.jwk")
		ts.Check(os.WriteFile(keyPath, kp.Private, 0o600))
		ts.Setenv("MONITORING_SIGNER_KEY", keyPath)
		public = kp.Public
	}
	emu, err := locatetest.Start("", public)
	ts.Check(err)
	ts.Defer(func() { emu.Close() })
	*ts.Value(emulatorKey{}).(**locatetest.Server) = emu
	ts.Setenv("LOCATE_URL", emu.URL)
	ts.Setenv("machine", machine)
}

// scriptEmulator returns the script's emulator.
func scriptEmulator(ts *testscript.TestScript) *locatetest.Server {
	emu := *ts.Value(emulatorKey{}).(**locatetest.Server)
	if emu == nil {
		ts.Fatalf("no emulator: start one with the emulator command")
	}
	return emu
}

func cmdAnswer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: answer FILE")
	}
	scriptEmulator(ts).Inject(status(http.StatusOK, "application/json", ts.ReadFile(args[0])))
}

func cmdRequests(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: requests N")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	if got := scriptEmulator(ts).Requests(); got != want {
		ts.Fatalf("locate was asked %d times, want %d", got, want)
	}
}

func cmdTokens(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tokens FILE")
	}
	for line := range strings.Lines(ts.ReadFile(args[0])) {
		name, _, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		for _, tok := range jwtPattern.FindAllString(line, -1) {
			fmt.Fprintf(ts.Stdout(), "%s: %s\n", name, token.Describe(tok))
		}
	}
}

func cmdKeygen(ts *testscript.TestScript, neg bool, args []string) {
	kid := "k1"
	if len(args) > 0 && strings.HasPrefix(args[0], "-kid=") {
		kid, args = strings.TrimPrefix(args[0], "-kid="), args[1:]
	}
	if neg || len(args) != 3 {
		ts.Fatalf("usage: keygen [-kid=ID] ALG PRIVATE.jwk PUBLIC.jwk")
	}
	kp, err := token.GenerateKey(args[0], kid, token.MinRSABits)
	ts.Check(err)
	private, public := kp.Private, kp.Public
	if kid == "" {
		// GenerateKey makes one from the key when none is given.
		private, public = withoutKid(ts, private), withoutKid(ts, public)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), private, 0o600))
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), public, 0o600))
}

// withoutKid returns the JWK without its "kid".
func withoutKid(ts *testscript.TestScript, jwk []byte) []byte {
	var m map[string]any
	ts.Check(json.Unmarshal(jwk, &m))
	delete(m, "kid")
	b, err := json.Marshal(m)
	ts.Check(err)
	return b
}

func cmdJWK(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: jwk SRC DST [NAME=VALUE...]")
	}
	m := map[string]string{}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &m))
	for _, kv := range args[2:] {
		name, value, _ := strings.Cut(kv, "=")
		m[name] = value
	}
	b, err := json.Marshal(m)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b, 0o600))
}

func cmdJWKGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: jwk-get FILE NAME VAR")
	}
	m := map[string]string{}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &m))
	ts.Setenv(args[2], m[args[1]])
}

func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exitErr *osexec.ExitError
		if !errors.As(err, &exitErr) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got, _ = statusOf(exitErr.ProcessState)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
