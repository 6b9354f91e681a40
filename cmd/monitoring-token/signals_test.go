package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/internal/poll"
)

// TestCtrlCStopsAShellLoop: a script that runs monitoring-token in a loop
// stops when its process group gets SIGINT, as it would with the command
// run directly: bash ends a loop only when its child was killed by SIGINT.
func TestCtrlCStopsAShellLoop(t *testing.T) {
	f := newFixture(t)
	log := filepath.Join(f.dir, "loop.log")
	script := fmt.Sprintf(`for i in 1 2 3; do
  echo "iteration $i" >> %[1]s
  %[2]s -locate-url=%[3]s -monitoring-signer-key=%[4]s -machine=%[5]s -- sleep 30
  echo "iteration $i ended with $?" >> %[1]s
done`, log, binary, f.emu.URL, f.keyPath, machine)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := osexec.CommandContext(ctx, "bash", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	poll.Until(t, "sleep to run", func() bool {
		out, _ := osexec.Command("pgrep", "-s", fmt.Sprint(cmd.Process.Pid), "-x", "sleep").Output()
		return len(bytes.TrimSpace(out)) > 0
	})
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	got, _ := os.ReadFile(log)
	if strings.Contains(string(got), "iteration 2") {
		t.Errorf("the loop went on after Ctrl-C:\n%s", got)
	}
	if status, sig := statusOf(cmd.ProcessState); sig != syscall.SIGINT && status != 130 {
		t.Errorf("bash ended with %v, want killed by SIGINT", cmd.ProcessState)
	}
}

// TestBrokenStderr: a stderr nobody reads changes neither the status nor
// whether the command runs, with the debug log on or a failure to report.
func TestBrokenStderr(t *testing.T) {
	f := newFixture(t)
	ran := filepath.Join(f.dir, "ran")
	tests := []struct {
		name   string
		args   []string
		status int
		ran    bool
	}{
		{name: "debug log", args: f.flags("-logx.debug", "--", "touch", ran), status: 0, ran: true},
		{name: "failure line", args: f.flags("--", "no-such-command-here"), status: 127},
		{name: "usage error", args: []string{"-nope"}, status: statusFailed},
		{name: "timeout line", args: f.flags("-timeout=3s", "--", "sleep", "10"), status: 124},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(ran)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			r.Close() // nobody reads
			defer w.Close()
			cmd := osexec.Command(binary, tt.args...)
			cmd.Env = baseEnv()
			cmd.Stderr = w
			cmd.Run()
			status, sig := statusOf(cmd.ProcessState)
			if status != tt.status || sig != 0 {
				t.Errorf("status %d (signal %v), want %d", status, sig, tt.status)
			}
			if _, err := os.Stat(ran); (err == nil) != tt.ran {
				t.Errorf("command ran: %v, want %v", err == nil, tt.ran)
			}
		})
	}
	t.Run("print to a closed pipe", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		defer w.Close()
		cmd := osexec.Command(binary, f.flags("-print")...)
		cmd.Env = baseEnv()
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = w, &stderr
		cmd.Run()
		if status, sig := statusOf(cmd.ProcessState); status != statusFailed || sig != 0 || !strings.Contains(stderr.String(), "broken pipe") {
			t.Errorf("status %d (signal %v) stderr %q; want %d and a line on the failed write", status, sig, stderr.String(), statusFailed)
		}
	})
}
