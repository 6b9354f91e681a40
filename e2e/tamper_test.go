package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// The tamper wrapper sits between monitoring-token and the client, as
//
//	monitoring-token ... -- tamper MODE VAR -- COMMAND [ARG...]
//
// It changes the service URL in the environment variable VAR as MODE says
// and then executes COMMAND in its own place (same process, so
// monitoring-token supervises the client itself). It is the test binary,
// run under the name "tamper" (TestMain). The negative controls use it to
// hand the server a URL that monitoring-token got right but that is wrong
// in one known way.

// tamperModes are the changes the wrapper makes to a URL.
var tamperModes = map[string]func(string) (string, error){
	// none changes nothing: the control that shows the wrapper itself
	// does not make a probe fail.
	"none": func(u string) (string, error) { return u, nil },
	// drop-token removes the access_token parameter.
	"drop-token": dropToken,
	// corrupt-signature changes one character in the middle of the
	// access token's signature.
	"corrupt-signature": corruptSignature,
	// unresolvable-host points the URL at a machine name that does not
	// resolve (.invalid, RFC 6761): a wrong name.
	"unresolvable-host": withHost("ndt-mlab1-zzz99.mlab-oti.measurement-lab.invalid"),
	// dead-server points the URL at a loopback port where nothing
	// listens (port 1): a server that is down.
	"dead-server": withHost("127.0.0.1:1"),
}

// withHost returns a change that puts host in place of the URL's host and
// port.
func withHost(host string) func(string) (string, error) {
	return func(u string) (string, error) {
		parsed, err := url.Parse(u)
		if err != nil {
			return "", err
		}
		parsed.Host = host
		return parsed.String(), nil
	}
}

// tamperMain runs the wrapper with args (MODE VAR -- COMMAND...) and env,
// and returns an exit status only if it cannot execute the command.
func tamperMain(args []string, env []string, stderr io.Writer) int {
	if len(args) < 4 || args[2] != "--" {
		fmt.Fprintln(stderr, "usage: tamper MODE VAR -- COMMAND [ARG...]")
		return 2
	}
	mode, name, command := args[0], args[1], args[3:]
	change, ok := tamperModes[mode]
	if !ok {
		fmt.Fprintf(stderr, "tamper: unknown mode %q\n", mode)
		return 2
	}
	i := slices.IndexFunc(env, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
	if i < 0 {
		fmt.Fprintf(stderr, "tamper: %s is not set\n", name)
		return 2
	}
	changed, err := change(strings.TrimPrefix(env[i], name+"="))
	if err != nil {
		fmt.Fprintf(stderr, "tamper: %s: %v\n", name, err)
		return 2
	}
	env = slices.Clone(env)
	env[i] = name + "=" + changed
	path, err := lookPath(command[0], env)
	if err != nil {
		fmt.Fprintf(stderr, "tamper: %v\n", err)
		return 127
	}
	err = syscall.Exec(path, command, env)
	fmt.Fprintf(stderr, "tamper: exec %s: %v\n", path, err)
	return 126
}

// lookPath finds command in the PATH of env, not of this process.
func lookPath(command string, env []string) (string, error) {
	if strings.Contains(command, "/") {
		return command, nil
	}
	for _, kv := range env {
		if dirs, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, dir := range strings.Split(dirs, ":") {
				if p, err := exec.LookPath(dir + "/" + command); err == nil {
					return p, nil
				}
			}
		}
	}
	return "", fmt.Errorf("%s: %w", command, exec.ErrNotFound)
}

// errNoToken is a URL without an access token to tamper with.
var errNoToken = errors.New("URL has no access_token")

// dropToken returns u without its access_token parameter.
func dropToken(u string) (string, error) {
	parsed, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	q := parsed.Query()
	if q.Get("access_token") == "" {
		return "", errNoToken
	}
	q.Del("access_token")
	parsed.RawQuery = q.Encode()
	return parsed.String(), nil
}

// corruptSignature returns u with one base64url character in the middle of
// its access token's signature replaced. A middle character carries six
// whole bits of the signature, so the signature no longer verifies, while
// the header and claims stay as they were.
func corruptSignature(u string) (string, error) {
	parsed, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	q := parsed.Query()
	parts := strings.Split(q.Get("access_token"), ".")
	if len(parts) != 3 || len(parts[2]) < 8 {
		return "", errNoToken
	}
	sig := []byte(parts[2])
	mid := len(sig) / 2
	if sig[mid] == 'A' {
		sig[mid] = 'B'
	} else {
		sig[mid] = 'A'
	}
	parts[2] = string(sig)
	q.Set("access_token", strings.Join(parts, "."))
	parsed.RawQuery = q.Encode()
	return parsed.String(), nil
}

func TestTamperModes(t *testing.T) {
	const tok = "aGVhZGVy.Y2xhaW1z.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	const u = "wss://127.0.0.1:4443/ndt/v7/download?access_token=" + tok + "&early_exit=250"
	tests := []struct {
		name      string
		mode      string
		in        string
		wantToken string // the access_token after; "" for none
		wantErr   error
	}{
		{name: "none", mode: "none", in: u, wantToken: tok},
		{name: "drop-token", mode: "drop-token", in: u, wantToken: ""},
		{name: "corrupt-signature", mode: "corrupt-signature", in: u, wantToken: "aGVhZGVy.Y2xhaW1z.c2lnbmF0dXJlLANpZ25hdHVyZQ"},
		{name: "drop-token without token", mode: "drop-token", in: "wss://127.0.0.1:4443/ndt/v7/download", wantErr: errNoToken},
		{name: "corrupt-signature without token", mode: "corrupt-signature", in: "wss://127.0.0.1:4443/ndt/v7/download?early_exit=250", wantErr: errNoToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tamperModes[tt.mode](tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("%s(%q) = %v, want error %v", tt.mode, tt.in, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			parsed, err := url.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			q := parsed.Query()
			if q.Get("access_token") != tt.wantToken || q.Get("early_exit") != "250" || parsed.Host != "127.0.0.1:4443" || parsed.Path != "/ndt/v7/download" {
				t.Errorf("%s(%q) = %q, want the same URL with access_token %q", tt.mode, tt.in, got, tt.wantToken)
			}
		})
	}
}
