package main

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/monitoring-token/monitoring-token/exec"
)

// TestJudge: the exit status, the signal to end by, who produced the
// status and -pass-if-cannot-run's pass, decided once from how a run
// ended, in-process.
func TestJudge(t *testing.T) {
	stopped := &exec.ExitError{Name: "client", Code: -1, Signal: syscall.SIGTERM, TimedOut: true}
	tests := []struct {
		name string
		err  error
		want verdict // with -pass-if-cannot-run
	}{
		{name: "success", err: nil, want: verdict{by: byCommand}},
		{name: "the command's failure", err: &exec.ExitError{Name: "client", Code: 3}, want: verdict{status: 3, by: byCommand}},
		{name: "the command's own 125", err: &exec.ExitError{Name: "client", Code: 125}, want: verdict{status: 125, by: byCommand}},
		{name: "killed by a signal it got from elsewhere", err: &exec.ExitError{Name: "client", Code: -1, Signal: syscall.SIGKILL}, want: verdict{status: 137, by: byCommand}},
		{name: "killed by a forwarded SIGINT", err: &exec.ExitError{Name: "client", Code: -1, Signal: syscall.SIGINT, Received: syscall.SIGINT}, want: verdict{status: 130, signal: syscall.SIGINT, by: byCommand}},
		{name: "stopped at -timeout", err: stopped, want: verdict{status: 124, by: timedOut}},
		{name: "stopped at -timeout, wrapped with the deadline's reason", err: fmt.Errorf("%w; raise scrape_timeout", stopped), want: verdict{status: 124, by: timedOut}},
		{name: "cut short by locate's time", err: &cutShort{err: stopped}, want: verdict{status: 125, by: cannotRun, passed: true}},
		{name: "a signal before the command started", err: &exec.SignalError{Signal: syscall.SIGTERM}, want: verdict{status: 143, signal: syscall.SIGTERM, by: cannotRun}},
		{name: "locate failed", err: &locateFailure{errors.New("locate answered HTTP 503 (3 attempts)")}, want: verdict{status: 125, by: cannotRun, passed: true}},
		{name: "the command not found", err: &exec.StartError{Name: "client", Err: fs.ErrNotExist}, want: verdict{status: 127, by: cannotRun, passed: true}},
		{name: "another run's timeout, shared", err: &sharedStatus{status: 124, by: timedOut}, want: verdict{status: 124, by: timedOut}},
		{name: "another run's failure, shared", err: &sharedStatus{status: 3, by: byCommand}, want: verdict{status: 3, by: byCommand}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := judge(tt.err, true); got != tt.want {
				t.Errorf("judge(%v, pass) = %+v, want %+v", tt.err, got, tt.want)
			}
			want := tt.want
			want.passed = false
			if got := judge(tt.err, false); got != want {
				t.Errorf("judge(%v, no pass) = %+v, want %+v", tt.err, got, want)
			}
		})
	}
}
