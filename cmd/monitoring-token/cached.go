package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/m-lab/go/logx"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/internal/cache"
	"github.com/monitoring-token/monitoring-token/token"
)

// The result cache around a probe: a hit, one probe at a time, stale
// results, and recording the outcome. See internal/cache.

// load reads the cache entry, and reports whether the cache is usable.
func (p *prober) load() bool {
	e, why, err := p.cache.Load(p.key)
	if err != nil {
		p.cacheProblem(err)
		return false
	}
	if why != "" {
		logx.Debug.Printf("cache: %s", why)
	}
	p.entry = e
	return true
}

// cacheProblem writes the run's one line about an unusable cache and
// carries on without it: the probe's own status is what counts.
func (p *prober) cacheProblem(err error) {
	if !p.cacheFailed {
		fmt.Fprintf(p.std.stderr, "monitoring-token: result cache %s unusable, so probing without it: %v\n", p.cfg.cacheDir, err)
	}
	p.cacheFailed = true
	p.cache, p.lock = nil, nil
}

// takeLock makes this run the one that probes its cache entry, waiting
// for a run that is probing already. If that run finished after this one
// began, its status is this run's too (p.out.cached).
func (p *prober) takeLock(ctx context.Context, began time.Time) error {
	if p.cache == nil {
		return nil
	}
	lock, err := p.cache.Lock(ctx, p.key)
	var stopped *exec.SignalError
	switch {
	case errors.As(context.Cause(ctx), &stopped):
		return stopped
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("another run was still probing %s after -timeout %v; gave up waiting for its result", p.cfg.machine, p.cfg.timeout)
	case err != nil:
		p.cacheProblem(err)
		return nil
	}
	if lock.Waited {
		logx.Debug.Printf("waited for another run's probe")
	}
	p.lock = lock
	if !p.load() || !p.entry.Last.Finished.After(began) {
		return nil
	}
	p.out.cached = true
	logx.Debug.Printf("another run's probe ended with status %d at %s", p.entry.Last.Status, p.entry.Last.Finished.Format(time.RFC3339))
	if p.entry.Last.Status == 0 {
		return nil
	}
	return &sharedStatus{status: p.entry.Last.Status}
}

// sharedStatus is the failure of the probe another run made while this run
// waited for it.
type sharedStatus struct{ status int }

func (e *sharedStatus) ExitStatus() int { return e.status }
func (e *sharedStatus) Error() string {
	return fmt.Sprintf("the probe another run made of this machine meanwhile ended with status %d", e.status)
}

// staleInstead reports whether a failure to ask locate is covered by
// -stale-if-error: the last real success is recent enough. It writes the
// run's one line, saying so.
func (p *prober) staleInstead(err error) bool {
	var failure *locateFailure
	if p.cfg.staleIfError <= 0 || p.cache == nil || !errors.As(err, &failure) || p.entry.LastSuccess.IsZero() {
		return false
	}
	age := p.finished.Sub(p.entry.LastSuccess)
	if age >= p.cfg.staleIfError {
		return false
	}
	p.out.stale = true
	fmt.Fprintf(p.std.stderr, "monitoring-token: stale result: the last success was %v ago (-stale-if-error %v), and this run could not probe: %s: %s\n",
		age.Round(time.Second), p.cfg.staleIfError, whyLocateFailed(err, p.out.httpStatus), token.Redact(err.Error()))
	return true
}

// whyLocateFailed sums up a locate failure: the HTTP status of locate's last
// answer, "connection refused" or "timeout".
func whyLocateFailed(err error, httpStatus int) string {
	switch {
	case httpStatus != 0:
		return fmt.Sprintf("HTTP %d", httpStatus)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "no usable answer"
}

// record stores the probe's status in the cache for the runs waiting on
// it, and a success for later runs. A run ended by a signal is not
// recorded: the waiters probe for themselves.
func (p *prober) record(err error) {
	if p.lock == nil {
		return
	}
	if _, killed := exec.DeathSignal(err); killed {
		return
	}
	status := exitStatus(err)
	if rerr := p.lock.Record(status, p.finished); rerr != nil {
		p.cacheProblem(rerr)
		return
	}
	if status == 0 {
		p.entry.LastSuccess = p.finished
	}
}

// cacheKey is what makes a probe the same probe: where locate is, the
// machine and service, which URLs go into which variables, and the command.
func cacheKey(cfg *config) string {
	parts := []string{cfg.locateURL.String(), cfg.machine, cfg.service, strconv.FormatBool(cfg.serviceURL),
		cfg.urlKey, strings.Join(cfg.envNames, " "), cfg.exports.String(), cfg.exportAll, cfg.tokenEnvName, "--"}
	return cache.Key(append(parts, cfg.command...)...)
}
