package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/m-lab/go/logx"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/internal/cache"
	"github.com/monitoring-token/monitoring-token/token"
)

// The result cache around a probe: internal/cache runs the protocol (a
// hit, one probe at a time, stale results, recording the outcome); this
// file wires it to the run.

// probeThroughCache answers the probe from the cache in -cache-dir, or
// runs it with locateAndRun there, and says in p.out what the cache did.
func (p *prober) probeThroughCache(ctx context.Context) error {
	cfg := p.cfg
	c := &cache.Cache{Dir: cfg.cacheDir, TTL: cfg.cacheTTL, StaleIfError: cfg.staleIfError, OnMiss: p.prepare, Debugf: logx.Debug.Printf}
	var err error
	o, werr := c.Do(ctx, cacheKey(cfg), func(wctx context.Context) cache.Report {
		err = p.locateAndRun(wctx)
		_, stopped := exec.DeathSignal(err)
		return cache.Report{Status: exitStatus(err), By: string(producedBy(err, false)), Finished: p.finished, Inconclusive: errors.As(err, new(*locateFailure)), Stopped: stopped, Own: p.own(err)}
	})
	p.out.lastSuccess = o.LastSuccess
	if o.Problem != nil {
		if o.Unusable {
			fmt.Fprintf(p.std.stderr, "monitoring-token: result cache %s unusable, so probing without it: %v\n", cfg.cacheDir, o.Problem)
		} else {
			fmt.Fprintf(p.std.stderr, "monitoring-token: result cache %s: %v\n", cfg.cacheDir, o.Problem)
		}
	}
	var stopped *exec.SignalError
	switch {
	case errors.As(werr, &stopped):
		return stopped
	case errors.Is(werr, context.DeadlineExceeded):
		return fmt.Errorf("another run was still probing %s after -timeout %v; gave up waiting for its result", cfg.machine, cfg.timeout)
	case werr != nil:
		return werr
	}
	switch o.Served {
	case cache.Hit:
		p.out.cached = true
		return nil
	case cache.Shared:
		p.out.cached = true
		if o.Status != 0 {
			return &sharedStatus{status: o.Status, by: recordedProducer(o.By)}
		}
		return nil
	case cache.Stale:
		p.out.stale = true
		fmt.Fprintf(p.std.stderr, "monitoring-token: stale result: the last success was %v ago (-stale-if-error %v), and this run could not probe: %s\n",
			p.finished.Sub(o.LastSuccess).Round(time.Second), cfg.staleIfError, token.Redact(err.Error()))
		return nil
	}
	return err
}

// own reports whether the status of a probe that ended with err is this
// run's own rather than the machine's, and so not for the runs that waited
// for it: 125 (the command did not run, or locate's time cut it short),
// 126 and 127 (the command could not be run, with this run's PATH), and
// 124 when this run's SCRIPT_DEADLINE had shortened -timeout. A run that
// waited probes for itself instead, within its own deadline.
func (p *prober) own(err error) bool {
	var exited *exec.ExitError
	switch exitStatus(err) {
	case statusFailed, statusCannotRun, statusNotFound:
		return true
	case statusTimedOut:
		return p.cfg.deadlineCut && errors.As(err, &exited) && exited.TimedOut
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
// waited for it, and who produced it.
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
