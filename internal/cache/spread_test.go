package cache_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/internal/cache"
)

// The fleet of the issue: 500 machines scraped once a minute, TTL 10m, one
// day, all starting with an empty cache at the same minute.
const (
	fleetSize   = 500
	scrapeEvery = time.Minute
	fleetTTL    = 10 * time.Minute
	simulated   = 24 * time.Hour
	window      = 5 * time.Minute
	// From the second TTL on, each window's probes stay within this
	// fraction of the mean.
	tolerance = 0.30
)

// fleetStart is an arbitrary moment, aligned with nothing.
var fleetStart = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// The failing machine fails every probe that starts in [failFrom, failTo).
const (
	failing  = 7
	failFrom = 2 * time.Hour
	failTo   = 3 * time.Hour
)

// fleetOutcome is what a simulated day shows.
type fleetOutcome struct {
	// windows holds the probes started in each window since fleetStart.
	windows []int
	// afterRestart is the most probes started in one minute of the first
	// TTL, after the first minute.
	afterRestart int
	// maxAge is the age of the oldest success served from the cache.
	maxAge time.Duration
	// Scrapes of the failing machine after its first failure within the
	// failure hour, and how many of them were served from the cache.
	failingScrapes, failingHits int
}

// simulateFleet runs the fleet on a fake clock. Each machine's entry goes
// through what Record does to it, then altExpiry, if not nil, replaces the
// expiry of a success. A probe takes probeTime; with randomOffsets each
// machine is scraped at its own second of the minute.
func simulateFleet(probeTime time.Duration, randomOffsets bool, altExpiry func(key string, finished time.Time) time.Time) fleetOutcome {
	keys := make([]string, fleetSize)
	offsets := make([]time.Duration, fleetSize)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range keys {
		machine := fmt.Sprintf("mlab%d-abc%02d.mlab-oti.measurement-lab.org", i%4+1, i/4)
		keys[i] = cache.Key("https://locate.measurementlab.net/", machine, "ndt/ndt7", "wss:///ndt/v7/download", "SERVICE_URL", "ndt7-client", "-format=json")
		if randomOffsets {
			offsets[i] = time.Duration(rng.Int64N(int64(scrapeEvery)))
		}
	}
	out := fleetOutcome{windows: make([]int, simulated/window)}
	entries := make([]cache.Entry, fleetSize)
	failedAt := time.Time{}
	for m := time.Duration(0); m < simulated; m += scrapeEvery {
		probes := out.windows[m/window]
		for i, key := range keys {
			now := fleetStart.Add(m + offsets[i])
			e := &entries[i]
			fails := i == failing && m >= failFrom && m < failTo
			if i == failing && !failedAt.IsZero() && m < failTo {
				out.failingScrapes++
			}
			if e.Fresh(now) {
				out.maxAge = max(out.maxAge, now.Sub(e.LastSuccess))
				if i == failing && !failedAt.IsZero() && m < failTo {
					out.failingHits++
				}
				continue
			}
			out.windows[now.Sub(fleetStart)/window]++
			status := 0
			if fails {
				status = 1
				if failedAt.IsZero() {
					failedAt = now
				}
			}
			finished := now.Add(probeTime)
			cache.RecordIn(e, key, status, finished, fleetTTL)
			if altExpiry != nil && status == 0 {
				e.Expires = altExpiry(key, finished)
			}
		}
		if m > 0 && m < fleetTTL {
			out.afterRestart = max(out.afterRestart, out.windows[m/window]-probes)
		}
	}
	return out
}

// spread returns the least, mean and most probes per window from the
// second TTL on.
func spread(windows []int) (least int, mean float64, most int) {
	later := windows[fleetTTL/window:]
	least, most = later[0], later[0]
	sum := 0
	for _, n := range later {
		least, most, sum = min(least, n), max(most, n), sum+n
	}
	return least, float64(sum) / float64(len(later)), most
}

func TestFleetSpread(t *testing.T) {
	// perKeyPeriod keeps each success for its own fixed share of the TTL.
	perKeyPeriod := func(key string, finished time.Time) time.Time {
		h, _ := strconv.ParseUint(key[:15], 16, 64)
		return finished.Add(fleetTTL/2 + time.Nanosecond + time.Duration(h%uint64(fleetTTL/2)))
	}
	naive := func(_ string, finished time.Time) time.Time { return finished.Add(fleetTTL) }
	// halfGrid keeps each success until the first point of the key's grid
	// of period TTL/2 that lies more than TTL/2 later.
	halfGrid := func(key string, finished time.Time) time.Time {
		h, _ := strconv.ParseUint(key[:15], 16, 64)
		period := int64(fleetTTL / 2)
		from := finished.Add(fleetTTL / 2).UnixNano()
		next := ((int64(h)-from)%period + period) % period
		return time.Unix(0, from+cmp.Or(next, period))
	}
	tests := []struct {
		name          string
		probeTime     time.Duration
		randomOffsets bool
		altExpiry     func(key string, finished time.Time) time.Time
		wantEven      bool
	}{
		{name: "instant probes, scrapes on the minute", wantEven: true},
		{name: "instant probes, scrapes at random seconds", randomOffsets: true, wantEven: true},
		{name: "20s probes, scrapes at random seconds", probeTime: 20 * time.Second, randomOffsets: true, wantEven: true},
		{name: "50s probes, scrapes at random seconds", probeTime: 50 * time.Second, randomOffsets: true, wantEven: true},
		// The checks below must catch rules known to be wrong.
		{name: "naive: expire after the TTL", altExpiry: naive},
		{name: "naive, 20s probes at random seconds", probeTime: 20 * time.Second, randomOffsets: true, altExpiry: naive},
		{name: "fixed period per key", altExpiry: perKeyPeriod},
		{name: "phase modulo half the TTL", altExpiry: halfGrid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := simulateFleet(tt.probeTime, tt.randomOffsets, tt.altExpiry)
			least, mean, most := spread(out.windows)
			t.Logf("probes per %v from %v on: min %d, mean %.1f, max %d (first windows %v, busiest minute after the first %d)", window, fleetTTL, least, mean, most, out.windows[:fleetTTL/window], out.afterRestart)
			even := float64(least) >= (1-tolerance)*mean && float64(most) <= (1+tolerance)*mean
			if even != tt.wantEven {
				t.Errorf("within ±%.0f%% of the mean: %v, want %v", 100*tolerance, even, tt.wantEven)
			}
			if tt.wantEven && out.afterRestart >= fleetSize/2 {
				t.Errorf("%d probes in one minute of the first TTL after the restart, want fewer than half the fleet", out.afterRestart)
			}
			if out.maxAge > fleetTTL {
				t.Errorf("a result %v old was served, TTL %v", out.maxAge, fleetTTL)
			}
			if out.failingScrapes < 50 || out.failingHits != 0 {
				t.Errorf("failing machine: %d of %d scrapes after its first failure were served from the cache, want none of at least 50", out.failingHits, out.failingScrapes)
			}
		})
	}
}

// onPhase reports whether t lies on the phase's grid.
func onPhase(t time.Time, ttl, phase time.Duration) bool {
	return ((t.UnixNano()-int64(phase))%int64(ttl)+int64(ttl))%int64(ttl) == 0
}

func TestExpiryRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, ttl := range []time.Duration{time.Second, 3*time.Second + time.Nanosecond, fleetTTL, time.Hour, 24 * time.Hour} {
		t.Run(ttl.String(), func(t *testing.T) {
			for range 20000 {
				phase := time.Duration(rng.Int64N(int64(ttl)))
				now := fleetStart.Add(time.Duration(rng.Int64N(int64(100 * ttl))))
				// Four successes in a row, each finishing less than a
				// quarter TTL after the previous one expired.
				for i := range 4 {
					exp := cache.Expiry(now, ttl, phase)
					if kept := exp.Sub(now); 2*kept <= ttl || kept > ttl {
						t.Fatalf("phase %v, success at %v kept %v, want more than half and at most the TTL", phase, now, kept)
					}
					if i >= 2 && !onPhase(exp, ttl, phase) {
						t.Fatalf("phase %v: the %d. success at %v expires at %v, off the phase", phase, i+1, now, exp)
					}
					now = exp.Add(time.Duration(rng.Int64N(int64(ttl / 4))))
				}
			}
		})
	}
}
