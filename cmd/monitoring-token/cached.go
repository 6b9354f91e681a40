package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/internal/cache"
	"github.com/monitoring-token/monitoring-token/token"
)

// The result cache around a probe: internal/cache runs the protocol (one
// probe at a time, the others sharing its result, stale results, recording
// the outcome); this file hands it the probe and reads what it did.

// probeThroughCache waits for another run's probe of the same machine and
// takes its result, or probes (probeOnce) holding the lock, with the cache
// recording the result: watched bounds the wait and the reading of the key
// and locate, ctx the command. The outcome says what the cache did.
func probeThroughCache(ctx, watched context.Context, signals signalWatch, c *cache.Cache, cfg *config, std streams) outcome {
	var p probed // this run's own probe, if it made one
	got, err := c.Do(watched, cacheKey(cfg), func(watched context.Context) cache.Report {
		p = probeOnce(ctx, watched, signals, cfg, std)
		return cache.Report{Status: p.status, By: string(p.by), Finished: p.finished,
			Inconclusive: errors.As(p.err, new(*locateFailure)), Stopped: p.signal != 0, Own: own(cfg, p)}
	})
	if got.Problem != nil {
		if got.Unusable {
			fmt.Fprintf(std.stderr, "monitoring-token: result cache %s unusable, so probing without it: %v\n", cfg.cacheDir, got.Problem)
		} else {
			fmt.Fprintf(std.stderr, "monitoring-token: result cache %s: %v\n", cfg.cacheDir, got.Problem)
		}
	}
	var stopped *exec.SignalError
	switch {
	case errors.As(err, &stopped):
		err = stopped
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("another run was still probing %s after -timeout %v; gave up waiting for its result", cfg.machine, cfg.timeout)
	}
	var o outcome
	switch {
	case err != nil: // gave up waiting
		o = outcome{verdict: judge(err, cfg.passIfCannotRun), err: err}
	case got.Served == cache.Hit: // a success recorded since Fresh looked
		o = outcome{verdict: judge(nil, false), cached: true}
	case got.Served == cache.Shared:
		if got.Status != 0 {
			err = &sharedStatus{status: got.Status, by: recordedProducer(got.By)}
		}
		o = outcome{verdict: judge(err, cfg.passIfCannotRun), err: err, cached: true}
	case got.Served == cache.Stale:
		fmt.Fprintf(std.stderr, "monitoring-token: stale result: the last success was %v ago (-stale-if-error %v), and this run could not probe: %s\n",
			p.finished.Sub(got.LastSuccess).Round(time.Second), cfg.staleIfError, token.Redact(p.err.Error()))
		// An earlier success stands in for a probe that could not run.
		o = p.outcome()
		o.verdict, o.err, o.stale = verdict{by: cannotRun}, nil, true
	default:
		o = p.outcome()
	}
	o.lastSuccess = got.LastSuccess
	return o
}

// own reports whether the status of the probe p is this run's own rather
// than the machine's, and so not for the runs that waited for it: 125 (the
// command did not run, or locate's time cut it short), 126 and 127 (the
// command could not be run, with this run's PATH), and 124 when this run's
// SCRIPT_DEADLINE had shortened -timeout. A run that waited probes for
// itself instead, within its own deadline.
func own(cfg *config, p probed) bool {
	var exited *exec.ExitError
	switch p.status {
	case statusFailed, statusCannotRun, statusNotFound:
		return true
	case statusTimedOut:
		return cfg.deadlineCut && errors.As(p.err, &exited) && exited.TimedOut
	}
	return false
}

// Statuses that the exec package gives, as coreutils timeout and env do.
const (
	statusTimedOut  = 124
	statusCannotRun = 126
	statusNotFound  = 127
)

// sharedStatus is the failure of the probe another run made while this run
// waited for it, and who produced it (judge reads both).
type sharedStatus struct {
	status int
	by     producer
}

// recordedProducer reads who produced a status from the cache. An entry
// written before that was kept ("") or an unknown value counts as the
// command's, so that it is never taken for a probe that could not run.
func recordedProducer(s string) producer {
	if o := producer(s); o == cannotRun || o == timedOut {
		return o
	}
	return byCommand
}

func (e *sharedStatus) ExitStatus() int { return e.status }
func (e *sharedStatus) Error() string {
	return fmt.Sprintf("the probe another run made of this machine meanwhile ended with status %d", e.status)
}

// cacheKey is what makes a probe the same probe: where locate is, the
// machine and service, which URLs go into which variables, and the command.
func cacheKey(cfg *config) string {
	parts := []string{cfg.locateURL.String(), cfg.machine, cfg.service, strconv.FormatBool(cfg.serviceURL),
		cfg.urlKey, strings.Join(cfg.envNames, " "), cfg.exports.String(), cfg.exportAll, cfg.tokenEnvName, "--"}
	return cache.Key(append(parts, cfg.command...)...)
}
