package main

import (
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEvalPrint: the line the README gives for a shell, run by a shell with
// both commands built: the emulator's URL goes to stderr, so eval gets
// monitoring-token's exports alone.
func TestEvalPrint(t *testing.T) {
	dir := t.TempDir()
	build := osexec.Command("go", "build", "-o", dir+"/", ".", "../monitoring-token")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	line := `eval "$(locate-emulator -- monitoring-token -machine=` + machine + ` -print)" && printf %s "$MONITORING_URL"`
	cmd := osexec.Command("sh", "-c", line)
	cmd.Env = []string{"PATH=" + dir + ":" + os.Getenv("PATH")}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v; stderr %q", line, err, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "wss://ndt-"+machine+"/ndt/v7/download?") {
		t.Errorf("MONITORING_URL = %q, want the ndt7 download URL of %s", stdout.String(), machine)
	}
	if got := stderr.String(); !strings.HasPrefix(got, "http://127.0.0.1:") || !strings.HasSuffix(got, "/v2/platform/monitoring/\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("stderr %q, want the emulator's URL alone", got)
	}
}

// TestRunDelayAndClockOffset: -delay holds every answer back and
// -clock-offset moves the emulator's Date.
func TestRunDelayAndClockOffset(t *testing.T) {
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "url")
	const delay, offset = 50 * time.Millisecond, -2 * time.Hour
	e := startRun(t, "-generate-key", filepath.Join(dir, "key.jwk"), "-url-file", urlFile, "-delay", delay.String(), "-clock-offset", offset.String())
	base := e.waitURLFile(t, urlFile, "")
	start := time.Now()
	resp, err := http.Get(base + "ndt/ndt7")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// A lower bound, so not subject to a slow machine.
	if took := time.Since(start); took < delay {
		t.Errorf("answered after %v, want at least -delay %v", took, delay)
	}
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
	}
	if lo, hi := start.Add(offset).Add(-time.Second), time.Now().Add(offset); resp.StatusCode != http.StatusUnauthorized || date.Before(lo) || date.After(hi) {
		t.Errorf("HTTP %d dated %v, want 401 dated between %v and %v", resp.StatusCode, date, lo, hi)
	}
	if code := e.stop(t); code != exitOK {
		t.Errorf("exit %d", code)
	}
}
