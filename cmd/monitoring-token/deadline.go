package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/monitoring-token/monitoring-token/exec"
)

// scriptDeadlineVar is set by ricoberger/script_exporter v3 (with
// SCRIPT_TIMEOUT) when a scrape has a timeout: the Unix time, in fractional
// seconds, at which the exporter SIGKILLs the script. Its grandchildren,
// the command's processes, would be left running.
const scriptDeadlineVar = "SCRIPT_DEADLINE"

// deadlineMargin is how long before SCRIPT_DEADLINE the run must have
// ended, the command's group killed and the metrics written. After the
// KILL, reaping the group and writing the metrics take milliseconds; the
// margin is there for a loaded host (the project's 2-core VM shows
// scheduling delays of a few hundred milliseconds under load), and it is
// the same as script_exporter's own --script.timeout-offset.
const deadlineMargin = 500 * time.Millisecond

// killAfterShare is the largest part of the time left that -kill-after
// keeps when the deadline shortens the run: a command gets SIGTERM first
// and most stop at once, so the probe itself gets the rest.
const killAfterShare = 10

// fitDeadline shortens -timeout and -kill-after so that the run, SIGKILL
// after -kill-after included, ends deadlineMargin before the deadline raw
// (SCRIPT_DEADLINE), measured from now. It never lengthens them. A value
// that is not a Unix time is warned about and ignored: it cannot come from
// the exporter. A deadline that leaves no time is an error; nothing runs.
func (cfg *config) fitDeadline(raw string, now time.Time) error {
	deadline, ok := parseUnixTime(raw)
	if !ok {
		log.Printf("warning: %s=%q is not a Unix time; ignored", scriptDeadlineVar, raw)
		return nil
	}
	cfg.deadline = deadline
	left := cfg.deadline.Sub(now) - deadlineMargin
	if left <= 0 {
		return fmt.Errorf("%s %s leaves %v, not more than the %v margin monitoring-token keeps; nothing was run: raise scrape_timeout (and the exporter's timeout)",
			scriptDeadlineVar, cfg.deadline.Format(time.RFC3339Nano), cfg.deadline.Sub(now).Round(time.Millisecond), deadlineMargin)
	}
	if cfg.timeout+cfg.killAfter <= left {
		return nil
	}
	cfg.deadlineCut = true
	cfg.killAfter = min(cfg.killAfter, left/killAfterShare)
	cfg.timeout = min(cfg.timeout, left-cfg.killAfter)
	return nil
}

// deadlineReached adds to a timeout of a run that SCRIPT_DEADLINE shortened
// what happened and what to do. Other errors are returned as they are.
func (cfg *config) deadlineReached(err error) error {
	var exited *exec.ExitError
	timedOut := errors.As(err, &exited) && exited.TimedOut || exited == nil && errors.Is(err, context.DeadlineExceeded)
	if !cfg.deadlineCut || !timedOut {
		return err
	}
	return fmt.Errorf("%w; the exporter's %s %s cut -timeout to %v and -kill-after to %v: raise scrape_timeout",
		err, scriptDeadlineVar, cfg.deadline.Format(time.RFC3339Nano), cfg.timeout.Round(time.Millisecond), cfg.killAfter.Round(time.Millisecond))
}

// parseUnixTime parses fractional Unix seconds, as script_exporter writes
// them ("1700000000.123456"), to the nanosecond: a float64 holds a current
// time only to about 0.2 µs. Other forms strconv.ParseFloat accepts are
// taken as floats.
func parseUnixTime(raw string) (time.Time, bool) {
	sec, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(sec) || sec <= 0 || sec >= math.MaxInt64/1e9 {
		return time.Time{}, false
	}
	whole, frac, _ := strings.Cut(raw, ".")
	w, werr := strconv.ParseInt(whole, 10, 64)
	n, nerr := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	if werr != nil || nerr != nil || len(frac) > 0 && frac[0] == '+' {
		return time.Unix(0, int64(sec*1e9)), true
	}
	return time.Unix(w, n), true
}
