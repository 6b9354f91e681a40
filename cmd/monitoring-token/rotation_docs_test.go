package main

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/monitoring-token/monitoring-token/internal/poll"
	"github.com/monitoring-token/monitoring-token/token"
)

// rotationSteps are the steps of docs/operations.md's key rotation, in the
// order the doc must give them.
var rotationSteps = []string{
	"add the public key to locate",
	"switch the exporters to the new private key",
	"disable the old version",
}

// startEmulator runs locate-emulator with the public keys given, as locate
// runs with every enabled version of its verify secret, and returns its
// URL. It stops when stop is called or the test ends.
func startEmulator(t *testing.T, publicKeys ...string) (url string, stop func()) {
	t.Helper()
	urlFile := filepath.Join(t.TempDir(), "url")
	args := []string{"-url-file", urlFile}
	for _, k := range publicKeys {
		args = append(args, "-verify-key", k)
	}
	cmd := osexec.Command(filepath.Join(binDir, "locate-emulator"), args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
	}
	t.Cleanup(stop)
	poll.Until(t, "the emulator's URL file", func() bool {
		b, err := os.ReadFile(urlFile)
		url = strings.TrimSpace(string(b))
		return err == nil && url != ""
	})
	return url, stop
}

// TestKeyRotationAsDocumented follows docs/operations.md's key rotation
// with the emulator standing in for locate: a probe passes at every step,
// with the key the exporters hold at that step, and after the last step a
// token signed with the old key is refused.
func TestKeyRotationAsDocumented(t *testing.T) {
	section := docSection(t, "../../docs/operations.md", "## Key rotation")
	at := 0
	for _, step := range rotationSteps {
		i := strings.Index(strings.ToLower(section[at:]), step)
		if i < 0 {
			t.Fatalf("docs/operations.md's key rotation does not say %q after the steps before it", step)
		}
		at += i
	}

	r := newDocRun(t)
	dir := r.dir
	oldKey := filepath.Join(dir, "monitoring")
	if res := r.run(t, "", "monitoring-keygen -private monitoring.jwk -public monitoring.pub.jwk"); res.status != 0 {
		t.Fatalf("keygen: %s", res.output())
	}
	// The new pair, made by the doc's own command.
	var keygen docBlock
	for _, b := range docBlocks(t) {
		if b.testName() == "rotate_keygen" {
			keygen = b
		}
	}
	if keygen.text == "" {
		t.Fatal("docs/operations.md has no block marked test: rotate_keygen")
	}
	if res := r.run(t, "", keygen.text); res.status != 0 {
		t.Fatalf("the doc's keygen: %s", res.output())
	}
	newKey := filepath.Join(dir, "monitoring-2")

	probe := func(step, locateURL, key string, want int) {
		t.Helper()
		res := runBinary(t, nil, "-locate-url="+locateURL, "-monitoring-signer-key="+key+".jwk", "-machine="+machine, "--", "true")
		if res.status != want {
			t.Errorf("%s: probe signed with %s: status %d, want %d: %s", step, filepath.Base(key), res.status, want, token.Redact(res.stderr))
		}
		if want == statusFailed && !strings.Contains(res.stderr, "401") {
			t.Errorf("%s: the refusal does not name locate's 401: %s", step, res.stderr)
		}
	}

	url, stop := startEmulator(t, oldKey+".pub.jwk")
	probe("before", url, oldKey, 0)
	stop()

	// 1. Locate holds both versions; exporters still sign with the old key,
	// and one that switched early passes too.
	url, stop = startEmulator(t, oldKey+".pub.jwk", newKey+".pub.jwk")
	probe("step 1", url, oldKey, 0)
	probe("step 1", url, newKey, 0)
	// 2. Every exporter signs with the new key.
	probe("step 2", url, newKey, 0)
	stop()

	// 3. The old version is disabled.
	url, _ = startEmulator(t, newKey+".pub.jwk")
	probe("step 3", url, newKey, 0)
	probe("after step 3", url, oldKey, statusFailed)
}

// docSection returns the text of a Markdown file from a heading to the
// next heading of the same level.
func docSection(t *testing.T, path, heading string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("%s has no %q", path, heading)
	}
	rest := text[start+len(heading)+2:]
	level := heading[:strings.Index(heading, " ")+1]
	if end := strings.Index(rest, "\n"+level); end >= 0 {
		rest = rest[:end]
	}
	return rest
}
