// Command wholerun times whole runs of monitoring-token against the floor
// (bench/floor, the least a run must do) and against the bare command, with
// the locate emulator in this process. It builds nothing: give it the
// binaries. It prints figures and PASS/MISS per target and exits 0 either
// way; it is a benchmark, not a test.
//
//	go run ./bench/wholerun -n 100 -monitoring-token bin/monitoring-token -floor bin/floor
//
// -delay adds latency to every answer of the emulator, as a distant locate
// has; -ab times a second monitoring-token build in the same shuffled
// rounds, for deciding whether a change pays.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/monitoring-token/monitoring-token/locate/locatetest"
	"github.com/monitoring-token/monitoring-token/token"
)

// machine is the M-Lab machine the tokens name.
const machine = "mlab1-lga01.mlab-oti.measurement-lab.org"

// Targets.
const (
	maxWallRatio   = 1.05             // whole run time, monitoring-token / floor
	maxExtraRSSKiB = 1024             // peak RSS over the floor's
	maxBinaryBytes = 7.5e6            // size of the monitoring-token binary
	minThroughput  = 0.95             // debug-mode stdout throughput, through / direct
	maxMetricsCost = time.Millisecond // -metrics-file on, over off
	maxHitRatio    = 0.3              // a cache hit / a full run
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wholerun:", err)
		os.Exit(1)
	}
}

// config is what the flags say.
type config struct {
	n          int
	monitoring string
	floor      string
	quick      bool
	gnuTime    string
	delay      time.Duration
	ab         string
	wallOnly   bool
}

func parse(args []string) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("wholerun", flag.ContinueOnError)
	fs.IntVar(&cfg.n, "n", 100, "runs of each program")
	fs.StringVar(&cfg.monitoring, "monitoring-token", "bin/monitoring-token", "monitoring-token binary")
	fs.StringVar(&cfg.floor, "floor", "bin/floor", "floor binary (go build ./bench/floor)")
	fs.BoolVar(&cfg.quick, "quick", false, "stream 256 MiB instead of 1 GiB for the throughput figure")
	fs.StringVar(&cfg.gnuTime, "time", "/usr/bin/time", "GNU time, to read each program's own peak RSS (empty: use wait4's, see README)")
	fs.DurationVar(&cfg.delay, "delay", 0, "add this to every answer of the emulator, as a distant locate would (e.g. 20ms)")
	fs.StringVar(&cfg.ab, "ab", "", "another monitoring-token build to time in the same rounds, against -monitoring-token")
	fs.BoolVar(&cfg.wallOnly, "wall-only", false, "time whole runs only: no peak RSS, size or throughput figures")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if cfg.n < 1 {
		return nil, errors.New("-n must be at least 1")
	}
	return cfg, nil
}

// throughputRounds is how many times each way of streaming runs.
const throughputRounds = 20

// rssRuns is how many times each variant runs for its peak RSS, which
// varies far less than its wall time.
const rssRuns = 10

// sample is one timed run.
type sample struct {
	wall time.Duration
}

// variant is one way of running /bin/true.
type variant struct {
	name    string
	args    []string
	env     []string
	samples []sample
	rssKiB  []int64 // peak RSS of each run in the RSS pass
}

func run(args []string, out io.Writer) error {
	cfg, err := parse(args)
	if err != nil {
		return err
	}
	for _, p := range []string{cfg.monitoring, cfg.floor, cfg.ab} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w (build it first)", err)
		}
	}
	kp, err := token.GenerateKey("EdDSA", "", 0)
	if err != nil {
		return err
	}
	srv, err := locatetest.Config{VerifyKeys: [][]byte{kp.Public}, Delay: cfg.delay}.Start()
	if err != nil {
		return err
	}
	defer srv.Close()
	dir, err := os.MkdirTemp("", "wholerun")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Run copies, so that both programs start from the same page-cache
	// state: a binary the Go linker has just written (through mmap) sits
	// in the page cache in small pieces and, on the VM these figures come
	// from, takes ~1 ms longer to start than a copy of itself, which is
	// what an installed binary, or one read back from disk, looks like.
	installed := cfg.monitoring
	for _, p := range []*string{&cfg.monitoring, &cfg.floor, &cfg.ab} {
		if *p == "" {
			continue
		}
		name := "monitoring-token-ab"
		if p != &cfg.ab {
			name = filepath.Base(*p)
		}
		if *p, err = copyExecutable(*p, dir, name); err != nil {
			return err
		}
	}
	keyPath := filepath.Join(dir, "key.jwk")
	if err := os.WriteFile(keyPath, kp.Private, 0o600); err != nil {
		return err
	}
	env := append(os.Environ(),
		"LOCATE_URL="+srv.URL,
		"MONITORING_SIGNER_KEY="+keyPath,
		"MACHINE="+machine)

	variants := []*variant{
		{name: "/bin/true", args: []string{"/bin/true"}},
		{name: "floor", args: []string{cfg.floor, "/bin/true"}, env: env},
		{name: "monitoring-token", args: []string{cfg.monitoring, "-machine=" + machine, "--", "/bin/true"}, env: env},
		{name: "-metrics-file", args: []string{cfg.monitoring, "-machine=" + machine, "-metrics-file=" + filepath.Join(dir, "probe.prom"), "--", "/bin/true"}, env: env},
		// The unmeasured round below stores the success the others hit.
		{name: "cache hit", args: []string{cfg.monitoring, "-machine=" + machine, "-cache-dir=" + filepath.Join(dir, "cache"), "-cache-ttl=24h", "--", "/bin/true"}, env: env},
	}
	if cfg.ab != "" {
		variants = append(variants, &variant{name: "-ab", args: []string{cfg.ab, "-machine=" + machine, "--", "/bin/true"}, env: env})
	}
	// One unmeasured round warms the page cache and the emulator.
	for _, v := range variants {
		if _, err := once(v); err != nil {
			return err
		}
	}
	// Each round runs the variants in a fresh random order: a run pays for
	// some of the work of the one before it (the kernel tearing down the
	// exited process, this process's emulator closing its connection), so a
	// fixed order A B C would charge B for A and C for B every time.
	for range cfg.n {
		order := slices.Clone(variants)
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, v := range order {
			s, err := once(v)
			if err != nil {
				return err
			}
			v.samples = append(v.samples, s)
		}
	}
	if cfg.wallOnly {
		printWall(out, cfg, variants, nil)
		return nil
	}
	// Peak RSS in a pass of its own, so that the runs under GNU time do not
	// sit between the timed ones.
	rss := rssViaWait4
	if _, err := os.Stat(cfg.gnuTime); cfg.gnuTime != "" && err == nil {
		rss = func(v *variant) (int64, error) { return rssViaTime(cfg.gnuTime, dir, v) }
	} else {
		fmt.Fprintf(out, "note: no GNU time (-time %q); peak RSS is from wait4 and never below this program's own (%d KiB)\n", cfg.gnuTime, ownPeakKiB())
	}
	for range rssRuns {
		for _, v := range variants {
			kib, err := rss(v)
			if err != nil {
				return err
			}
			v.rssKiB = append(v.rssKiB, kib)
		}
	}

	printWall(out, cfg, variants, []string{fmt.Sprintf("; median peak RSS of %d more", rssRuns)})
	floor, mt := variants[1], variants[2]
	mw := median(mt.samples, wallOf)
	fr, mr := medianInt(floor.rssKiB), medianInt(mt.rssKiB)
	fmt.Fprintf(out, "  RSS  monitoring-token-floor = %+d KiB, ratio %.3f (target <= +%d KiB) %s\n", mr-fr, float64(mr)/float64(fr), maxExtraRSSKiB, verdict(mr-fr <= maxExtraRSSKiB))
	withMetrics, hit := variants[3], variants[4]
	metricsCost := time.Duration(median(withMetrics.samples, wallOf) - mw)
	fmt.Fprintf(out, "  wall -metrics-file on - off = %v (target <= %v; the file is in %s) %s\n", metricsCost.Round(time.Microsecond), maxMetricsCost, dir, verdict(metricsCost <= maxMetricsCost))
	hitRatio := float64(median(hit.samples, wallOf)) / float64(mw)
	fmt.Fprintf(out, "  wall cache hit/full run = %.3f (target <= %.2f) %s\n", hitRatio, maxHitRatio, verdict(hitRatio <= maxHitRatio))

	fi, err := os.Stat(cfg.monitoring)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "binary %s: %d bytes (%.2f MB; target <= %.1f MB) %s\n", installed, fi.Size(), float64(fi.Size())/1e6, maxBinaryBytes/1e6, verdict(float64(fi.Size()) <= maxBinaryBytes))

	size := int64(1 << 30)
	if cfg.quick {
		size = 256 << 20
	}
	stream := []string{"sh", "-c", fmt.Sprintf("head -c %d /dev/zero", size)}
	direct := &variant{name: "sh directly", args: stream}
	through := &variant{name: "monitoring-token", args: append([]string{cfg.monitoring, "-logx.debug", "-machine=" + machine, "--"}, stream...), env: env}
	// Alternating rounds, each variant first in every other one.
	var dr, tr []rates
	for i := range throughputRounds {
		pair := []*variant{direct, through}
		if i%2 == 1 {
			pair[0], pair[1] = through, direct
		}
		for _, v := range pair {
			r, err := throughput(v, size)
			if err != nil {
				return err
			}
			if v == direct {
				dr = append(dr, r)
			} else {
				tr = append(tr, r)
			}
		}
	}
	// The verdict is on the output stream, from its first byte to its
	// last: the target is about how output passes, and the whole run's
	// start-up has a target of its own above. The stream does not pass
	// through monitoring-token, so both kinds of run do the same work and
	// the ratio of their medians should be 1; the best runs are printed
	// too, and the whole-run rates, start-up included.
	streamed := func(r rates) float64 { return r.stream }
	whole := func(r rates) float64 { return r.whole }
	fmt.Fprintf(out, "debug-mode stdout throughput, %d MiB to a pipe, %d runs each (best and median MB/s; stream: first byte to last, whole: start to exit):\n", size>>20, throughputRounds)
	for _, row := range []struct {
		name string
		rs   []rates
	}{{direct.name, dr}, {through.name, tr}} {
		fmt.Fprintf(out, "  %-17s stream %6.0f %6.0f   whole %6.0f %6.0f\n", row.name,
			best(row.rs, streamed), medianOf(row.rs, streamed), best(row.rs, whole), medianOf(row.rs, whole))
	}
	ratio := medianOf(tr, streamed) / medianOf(dr, streamed)
	fmt.Fprintf(out, "  ratio monitoring-token/direct = %.3f stream, median (best %.3f; whole run: median %.3f, best %.3f) (target >= %.2f) %s\n",
		ratio, best(tr, streamed)/best(dr, streamed), medianOf(tr, whole)/medianOf(dr, whole), best(tr, whole)/best(dr, whole), minThroughput, verdict(ratio >= minThroughput))
	return nil
}

// printWall prints the wall times of the variants (and their peak RSS when
// rssNote is given), the ratio to the floor and, with -ab, the ratio of
// the two builds.
func printWall(out io.Writer, cfg *config, variants []*variant, rssNote []string) {
	delay := ""
	if cfg.delay > 0 {
		delay = fmt.Sprintf(", locate answering after %v", cfg.delay)
	}
	fmt.Fprintf(out, "whole run, %d runs each in shuffled rounds%s (median wall, p90 wall%s):\n", cfg.n, delay, strings.Join(rssNote, ""))
	for _, v := range variants {
		fmt.Fprintf(out, "  %-17s %9v %9v", v.name,
			time.Duration(median(v.samples, wallOf)).Round(time.Microsecond),
			time.Duration(quantile(v.samples, wallOf, 0.9)).Round(time.Microsecond))
		if rssNote != nil {
			fmt.Fprintf(out, " %8d KiB", medianInt(v.rssKiB))
		}
		fmt.Fprintln(out)
	}
	fw, mw := median(variants[1].samples, wallOf), median(variants[2].samples, wallOf)
	wallRatio := float64(mw) / float64(fw)
	fmt.Fprintf(out, "  wall monitoring-token/floor = %.3f (target <= %.2f) %s\n", wallRatio, maxWallRatio, verdict(wallRatio <= maxWallRatio))
	if cfg.ab != "" {
		ab := variants[len(variants)-1]
		aw := median(ab.samples, wallOf)
		fmt.Fprintf(out, "  wall -ab/monitoring-token = %.3f (%+v a run; a change pays when it saves >= 2%%)\n", float64(aw)/float64(mw), time.Duration(aw-mw).Round(time.Microsecond))
	}
}

// copyExecutable copies the executable at path into dir under name and
// returns the copy's path.
func copyExecutable(path, dir, name string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, name)
	return dst, os.WriteFile(dst, b, 0o755)
}

// once runs v with its output to /dev/null and times it.
func once(v *variant) (sample, error) {
	cmd := exec.Command(v.args[0], v.args[1:]...)
	cmd.Env = v.env
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", v.name, err)
	}
	return sample{wall: wall}, nil
}

// rssViaWait4 runs v and returns ru_maxrss (KiB on Linux) from wait4. Go
// starts children with vfork semantics and Linux keeps the old image's
// high-water mark across exec, so this is max(our RSS, the child's): see
// golang/go#32054.
func rssViaWait4(v *variant) (int64, error) {
	cmd := exec.Command(v.args[0], v.args[1:]...)
	cmd.Env = v.env
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %w", v.name, err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, errors.New("no rusage on this platform")
	}
	return ru.Maxrss, nil
}

// rssViaTime runs v under GNU time, which forks from its own small image,
// so the figure is the program's own peak RSS (plus at most time's ~1 MiB).
func rssViaTime(gnuTime, dir string, v *variant) (int64, error) {
	outPath := filepath.Join(dir, "maxrss")
	cmd := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", outPath, "--"}, v.args...)...)
	cmd.Env = v.env
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s under %s: %w", v.name, gnuTime, err)
	}
	b, err := os.ReadFile(outPath)
	if err != nil {
		return 0, err
	}
	kib, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %s output %q: %w", v.name, gnuTime, b, err)
	}
	return kib, nil
}

// ownPeakKiB returns this process's VmHWM, or -1.
func ownPeakKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kib
			}
		}
	}
	return -1
}

// rates is one streaming run's throughput in MB/s.
type rates struct {
	stream float64 // from the first byte read to the end of output
	whole  float64 // from start to exit
}

// throughput runs v with stdout to a pipe that is read and discarded; the
// command must write exactly size bytes.
func throughput(v *variant, size int64) (rates, error) {
	cmd := exec.Command(v.args[0], v.args[1:]...)
	cmd.Env = v.env
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return rates{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return rates{}, fmt.Errorf("%s: %w", v.name, err)
	}
	buf := make([]byte, 1<<20)
	var (
		n, first   int64 // bytes read in all and in the first read
		firstAt    time.Time
		lastByteAt time.Time
	)
	for {
		k, err := pipe.Read(buf)
		if k > 0 && firstAt.IsZero() {
			firstAt, first = time.Now(), int64(k)
		}
		n += int64(k)
		if err == io.EOF {
			lastByteAt = time.Now()
			break
		}
		if err != nil {
			return rates{}, fmt.Errorf("%s: read: %w", v.name, err)
		}
	}
	if err := cmd.Wait(); err != nil {
		return rates{}, fmt.Errorf("%s: %w", v.name, err)
	}
	end := time.Now()
	if n != size {
		return rates{}, fmt.Errorf("%s: read %d bytes, want %d", v.name, n, size)
	}
	return rates{
		stream: float64(n-first) / 1e6 / lastByteAt.Sub(firstAt).Seconds(),
		whole:  float64(n) / 1e6 / end.Sub(start).Seconds(),
	}, nil
}

// best returns the highest f over rs.
func best(rs []rates, f func(rates) float64) float64 {
	b := 0.0
	for _, r := range rs {
		b = max(b, f(r))
	}
	return b
}

// medianOf returns the median of f over rs.
func medianOf(rs []rates, f func(rates) float64) float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	return medianFloat(vs)
}

func wallOf(s sample) int64 { return int64(s.wall) }

func medianInt(vs []int64) int64 {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	return vs[len(vs)/2]
}

// median returns the median of f over ss.
func median(ss []sample, f func(sample) int64) int64 { return quantile(ss, f, 0.5) }

// quantile returns the q-quantile (nearest rank) of f over ss.
func quantile(ss []sample, f func(sample) int64, q float64) int64 {
	vs := make([]int64, len(ss))
	for i, s := range ss {
		vs[i] = f(s)
	}
	slices.Sort(vs)
	return vs[int(q*float64(len(vs)-1)+0.5)]
}

func medianFloat(vs []float64) float64 {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	return vs[len(vs)/2]
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}
