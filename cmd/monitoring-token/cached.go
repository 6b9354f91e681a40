package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
		r := cache.Report{Status: p.status, By: string(p.by), Finished: p.finished,
			Inconclusive: errors.As(p.err, new(*locateFailure)), Stopped: p.signal != 0, Own: own(cfg, p)}
		if p.by == timedOut {
			// A run allowed a longer -timeout probes for itself.
			r.TimedOutAfter = cfg.timeout
		}
		return r
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
			p.finished.Sub(got.LastSuccess).Round(time.Second), cfg.staleIfError, token.Redact(p.err.Error()+commandHint(p.err)))
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

// cacheKey is what makes a probe the same probe: the value the run uses of
// every flag that inCacheKey does not leave out, and the command. Runs with
// the same key share a fresh success, one lock, and the status of the probe
// one made while the others waited (see internal/cache).
func cacheKey(cfg *config) string {
	var parts []string
	cfg.flags.VisitAll(func(f *flag.Flag) {
		if in, classified := inCacheKey[f.Name]; in || !classified {
			parts = append(parts, "-"+f.Name+"="+cfg.used(f))
		}
	})
	// Every run has the same flags, so the command's parts start at the
	// same place in every key.
	return cache.Key(append(parts, cfg.command...)...)
}

// used returns the value of flag f that the run uses, once settle has
// settled it: the machine's canonical name, the mode and the URL key for
// the service, and (here) the locate URL as parsed and the variables that
// get the URL, -env-name's or the service's.
func (cfg *config) used(f *flag.Flag) string {
	switch f.Name {
	case "locate-url":
		return cfg.locateURL.String()
	case "env-name":
		return strings.Join(cfg.envNames, " ")
	}
	return f.Value.String()
}

// inCacheKey says for every flag whether its value is part of a probe's
// identity, and so of the cache key. TestCacheKeyClassifiesEveryFlag fails
// for a flag that is not here, so that each new flag gets a decision; until
// then cacheKey counts it in, the side on which runs share less.
var inCacheKey = map[string]bool{
	// What is probed, and what the command gets.
	"locate-url":           true, // another locate may answer otherwise
	"machine":              true, // canonical
	"service":              true,
	"service-url":          true, // the mode, settled for the service
	"service-url-key-name": true, // settled: the service's key by default
	"env-name":             true, // settled: the variables that get the URL
	"export":               true,
	"export-all":           true,
	"token-env-name":       true, // the command gets locate's token too
	// A run that may take an answer over plain http (a redirect from
	// locate included) must not hand its status to one that may not.
	"insecure": true,
	// Which CAs are trusted for locate decides, as -insecure does, which
	// answers a run may take.
	"ca-file": true,
	// A printing run tests nothing. -print refuses -cache-dir today;
	// this keeps the two apart if that changes.
	"print": true,

	// Not part of the identity.
	//
	// The credentials: a hit reads no key at all, and a key or token
	// locate refuses is the run's own 125, which is never shared.
	"monitoring-signer-key": false,
	"token-lifetime":        false,
	// -timeout: runs with different timeouts (a scrape's and a cron's)
	// probing the same machine still take turns on one lock instead of
	// loading the server twice (TestCacheWaitTimesOut waits with 1s on a
	// run with 60s). A 124 is not handed to a run allowed longer
	// (cache.Report.TimedOutAfter and Cache.Limit), and one that the
	// run's own SCRIPT_DEADLINE caused is never shared.
	"timeout": false,
	// How a command already timed out or signalled is stopped: its status
	// is 124 or 128+N either way.
	"kill-after": false,
	// Where output and outcome go.
	"show-output":  false,
	"logx.debug":   false,
	"metrics-file": false,
	// The cache's own settings: where the key is used; how old a success
	// this run takes for fresh (the reader's TTL bounds an entry written
	// under a longer one) and how old a stale one, each run's own policy.
	"cache-dir":      false,
	"cache-ttl":      false,
	"stale-if-error": false,
	// Whether a could-not-run status exits 0: that status is the run's
	// own and never shared, and a passed probe is never recorded.
	"pass-if-cannot-run": false,
	// Where the values came from: the values are in the key.
	"read-env": false,
	// Prints the version and exits before any probe.
	"version": false,
}
