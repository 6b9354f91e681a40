package main

import (
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/monitoring-token/monitoring-token/internal/poll"
)

// TestFailureLine: a command that fails gives one stderr line with how it
// ended, the status monitoring-token exits with, and the end of its output,
// tokens redacted; a command killed by a signal monitoring-token did not
// send gives 128+N as a normal exit; the metrics file's exit code is the
// process's status.
func TestFailureLine(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// The command saves its URL, so that the test knows the token in it,
	// then runs the script.
	urlFile := filepath.Join(f.dir, "url")
	lines := "i=1; while [ $i -le 30 ]; do echo \"line $i\"; i=$((i+1)); done"
	tests := []struct {
		name    string
		script  string
		flags   []string
		status  int
		want    []string // in the line
		notWant []string // not in the line; "SIG" stands for the token's signature, "SIG20" for its last 20 characters
	}{
		{name: "success", script: `echo fine`, status: 0},
		{
			name: "exit 1, the last 10 lines", script: lines + "; echo error >&2; exit 1", status: 1,
			want:    []string{`monitoring-token: sh exited with status 1; its output ended with: "line 22\nline 23\n`, `line 30\nerror"` + "\n"},
			notWant: []string{"line 21\n", "exit status"},
		},
		{
			name: "a token in the output", script: `echo "probing $MONITORING_URL"; exit 2`, status: 2,
			want: []string{"REDACTED"}, notWant: []string{"SIG"},
		},
		{
			// The kept bytes begin inside the signature: the line
			// starts after it.
			name:   "the tail begins inside a token",
			script: `echo "$MONITORING_URL"; printf '%2026s\n' end; exit 3`, status: 3,
			want: []string{`its output ended with: "` + strings.Repeat(" ", 2023) + `end"`}, notWant: []string{"SIG20"},
		},
		{
			name:   "no line starts in the tail",
			script: `printf '%s%2027s' "$MONITORING_URL" end; exit 4`, status: 4,
			want: []string{`its output ended with: "...` + strings.Repeat(" ", 2024) + `end"`}, notWant: []string{"SIG20"},
		},
		{
			name: "SIGKILLed, as by the OOM killer", script: `echo dying; kill -KILL $$`, status: 137,
			want: []string{`sh killed by signal 9 (killed); exit status 137; its output ended with: "dying"`},
		},
		{
			name: "killed by its own SIGSEGV", script: `ulimit -c 0; kill -SEGV $$`, status: 139,
			want: []string{`sh killed by signal 11 (segmentation fault); exit status 139; it wrote no output`},
		},
		{
			name: "timed out", script: `echo started; exec sleep 30`, flags: []string{"-timeout=3s"}, status: 124,
			want: []string{"sh timed out and was stopped after", "; exit status 124; its output ended with: \"started\""},
		},
		{
			name: "debug: the output was shown", script: `echo shown; exit 5`, flags: []string{"-logx.debug"}, status: 5,
			want: []string{"monitoring-token: sh exited with status 5\n"}, notWant: []string{"output ended"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(urlFile)
			metricsFile := filepath.Join(t.TempDir(), "probe.prom")
			script := fmt.Sprintf(`printf %%s "$MONITORING_URL" > %s; %s`, urlFile, tt.script)
			args := append(f.flags(append(tt.flags, "-metrics-file="+metricsFile)...), "--", "sh", "-c", script)
			r := runBinary(t, nil, args...)
			if r.status != tt.status || r.signal != 0 {
				t.Errorf("status %d (signal %v), want %d as a normal exit; stderr %q", r.status, r.signal, tt.status, r.stderr)
			}
			if m := probeMetrics(t, metricsFile); m["monitoring_probe_exit_code"] != float64(r.status) {
				t.Errorf("metrics exit code %v, process status %d", m["monitoring_probe_exit_code"], r.status)
			}
			line := r.stderr
			if tt.flags != nil && tt.flags[0] == "-logx.debug" {
				line = line[strings.LastIndex(strings.TrimSuffix(line, "\n"), "\n")+1:]
			}
			if tt.status == 0 {
				if line != "" {
					t.Errorf("stderr %q after a success, want nothing", line)
				}
				return
			}
			if strings.Count(line, "\n") != 1 || !strings.HasPrefix(line, "monitoring-token: sh ") {
				t.Errorf("stderr %q, want one line about sh", line)
			}
			for _, want := range tt.want {
				if !strings.Contains(line, want) {
					t.Errorf("stderr %q\nlacks %q", line, want)
				}
			}
			sig := tokenSignature(t, readFile(t, urlFile))
			for _, not := range tt.notWant {
				switch not {
				case "SIG":
					not = sig
				case "SIG20":
					not = sig[len(sig)-20:]
				}
				if strings.Contains(line, not) {
					t.Errorf("stderr %q\nholds %q", line, not)
				}
			}
		})
	}
}

// tokenSignature returns the signature of the token in a URL.
func tokenSignature(t *testing.T, u string) string {
	t.Helper()
	tok := jwtPattern.FindString(u)
	if tok == "" {
		t.Fatalf("no token in %q", u)
	}
	return tok[strings.LastIndexByte(tok, '.')+1:]
}

// TestReceivedSignalIsReraised: a signal sent to monitoring-token, which
// it forwards and which kills the command, ends monitoring-token too, and
// the metrics file says 128+N.
func TestReceivedSignalIsReraised(t *testing.T) {
	f := newFixture(t)
	metricsFile := filepath.Join(f.dir, "probe.prom")
	ready := filepath.Join(f.dir, "ready")
	cmd := osexec.Command(binary, append(f.flags("-metrics-file="+metricsFile), "--", "sh", "-c", fmt.Sprintf("touch %s; exec sleep 30", ready))...)
	cmd.Env = baseEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	poll.Until(t, "the command to start", func() bool {
		_, err := os.Stat(ready)
		return err == nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if status, sig := statusOf(cmd.ProcessState); sig != syscall.SIGTERM || status != 143 {
		t.Errorf("monitoring-token ended with %v, want killed by SIGTERM", cmd.ProcessState)
	}
	if m := probeMetrics(t, metricsFile); m["monitoring_probe_exit_code"] != 143 {
		t.Errorf("metrics exit code %v, want 143", m["monitoring_probe_exit_code"])
	}
	if !strings.HasPrefix(stderr.String(), "monitoring-token: sh killed by signal 15 (terminated); it wrote no output\n") {
		t.Errorf("stderr %q", stderr.String())
	}
}
