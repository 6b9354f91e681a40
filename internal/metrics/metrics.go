// Package metrics writes what one probe did in the Prometheus text
// exposition format: as a file for node_exporter's textfile collector
// (Write), or to a writer such as stdout for script_exporter v3 (Encode).
//
// The text is written by hand. client_golang (a private registry and
// WriteToTextfile) and expfmt with client_model were measured linked into
// monitoring-token: their package initialisation (protobuf descriptors,
// client_golang's default collectors) runs on every probe, metrics file or
// not, and they grow the binary and its peak RSS past the project's
// budgets (figures in bench/README.md). The format is small; the tests
// read the files with expfmt's parser (metricstest), as node_exporter
// does.
//
// Every series carries the labels machine and service, and the HELP and
// TYPE lines are constants, so that node_exporter can merge one file per
// machine and service from one directory: it reads only files whose names
// end in ".prom" and drops a family whose HELP differs from another
// file's.
package metrics

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/renameio/v2"
)

// Probe is what one run of monitoring-token did, as the metrics show it.
type Probe struct {
	// Machine (the canonical name) and Service label every series.
	Machine, Service string
	// ExitCode is the probe's exit status: the process's own, except
	// when Passed.
	ExitCode int
	// CannotRun says that monitoring-token, not the command, produced the
	// status because the probe could not test the machine: it did not
	// start the command (125, 126, 127), lost its status (125), or a stale
	// success stood in. TimedOut says that monitoring-token stopped the
	// command at -timeout (124). With neither, the command produced the
	// status, whatever its value: a command may exit 124 or 125 itself.
	CannotRun, TimedOut bool
	// Passed says that the probe could not run and the process exited 0
	// anyway (-pass-if-cannot-run): success, with ExitCode the probe's.
	Passed bool
	// Duration is the whole run.
	Duration time.Duration
	// Sign, Locate and Command are disjoint phases of the run, so they
	// add up to at most Duration.
	Sign, Locate, Command time.Duration
	// LocateAttempts counts the requests made to locate, and
	// LocateHTTPStatus is the status of the last answer: 0 when no answer
	// came. Both are 0 when locate was not asked (a cache hit).
	LocateAttempts, LocateHTTPStatus int
	// Cached says that the result came from the cache without probing.
	Cached bool
	// Stale says that the probe could not run and an earlier success
	// was reported instead.
	Stale bool
	// LastSuccess is when a probe last really succeeded (not cached, not
	// stale); the zero time means never, or not known.
	LastSuccess time.Time
}

// Names and HELP texts of the metrics, all gauges. The texts must not
// change with the probe: node_exporter drops a family whose HELP differs
// from another file's.
const (
	nameSuccess = "monitoring_probe_success"
	helpSuccess = "1 if the run exited 0, cached and stale results and passes of -pass-if-cannot-run included, else 0."

	nameExitCode = "monitoring_probe_exit_code"
	helpExitCode = "Exit status of the probe: the command's own, 124 timed out, 125 the probe could not run, 126 not executable, 127 not found, 128+N killed by signal N; monitoring_probe_cannot_run and monitoring_probe_timed_out say whether monitoring-token produced it."

	nameCannotRun = "monitoring_probe_cannot_run"
	helpCannotRun = "1 if monitoring-token, not the command, produced the status because the probe could not test the machine (the command did not start, its status was lost, or a stale success stood in), else 0."

	nameTimedOut = "monitoring_probe_timed_out"
	helpTimedOut = "1 if monitoring-token stopped the command at -timeout and produced status 124, else 0."

	nameDuration = "monitoring_probe_duration_seconds"
	helpDuration = "Wall time of the whole probe run in seconds."

	namePhase = "monitoring_probe_phase_duration_seconds"
	helpPhase = "Wall time of each phase of the run in seconds; the phases do not overlap, so they add up to at most the whole run."

	nameAttempts = "monitoring_probe_locate_attempts"
	helpAttempts = "Requests made to locate in this run; 0 when locate was not asked."

	nameHTTPStatus = "monitoring_probe_locate_http_status"
	helpHTTPStatus = "HTTP status of locate's last answer; 0 when no answer came or locate was not asked."

	nameCached = "monitoring_probe_cached"
	helpCached = "1 if the result came from the result cache without probing, else 0."

	nameStale = "monitoring_probe_stale"
	helpStale = "1 if the probe could not run and an earlier success was reported instead, else 0."

	nameLastSuccess = "monitoring_probe_last_success_timestamp_seconds"
	helpLastSuccess = "Unix time of the last probe that really succeeded, not cached or stale; 0 if none is known."
)

// text renders p in the Prometheus text exposition format (version
// 0.0.4): each family's HELP and TYPE lines, then its samples.
func (p Probe) text() []byte {
	labels := `machine="` + escape(p.Machine) + `",service="` + escape(p.Service) + `"`
	b := make([]byte, 0, 4096)
	gauge := func(name, help string, v float64) {
		b = appendHeader(b, name, help)
		b = appendSample(b, name, labels, v)
	}
	gauge(nameSuccess, helpSuccess, boolValue(p.ExitCode == 0 || p.Passed))
	gauge(nameExitCode, helpExitCode, float64(p.ExitCode))
	gauge(nameCannotRun, helpCannotRun, boolValue(p.CannotRun))
	gauge(nameTimedOut, helpTimedOut, boolValue(p.TimedOut))
	gauge(nameDuration, helpDuration, p.Duration.Seconds())
	b = appendHeader(b, namePhase, helpPhase)
	for _, ph := range [...]struct {
		name string
		d    time.Duration
	}{{"sign", p.Sign}, {"locate", p.Locate}, {"command", p.Command}} {
		b = appendSample(b, namePhase, labels+`,phase="`+ph.name+`"`, ph.d.Seconds())
	}
	gauge(nameAttempts, helpAttempts, float64(p.LocateAttempts))
	gauge(nameHTTPStatus, helpHTTPStatus, float64(p.LocateHTTPStatus))
	gauge(nameCached, helpCached, boolValue(p.Cached))
	gauge(nameStale, helpStale, boolValue(p.Stale))
	gauge(nameLastSuccess, helpLastSuccess, timestamp(p.LastSuccess))
	return b
}

// appendHeader appends a gauge family's HELP and TYPE lines. The HELP
// texts hold no backslash or line feed, so they need no escapes.
func appendHeader(b []byte, name, help string) []byte {
	return append(b, "# HELP "+name+" "+help+"\n# TYPE "+name+" gauge\n"...)
}

// appendSample appends one sample line: name, labels (already escaped)
// and value, without a timestamp (node_exporter refuses files with one).
func appendSample(b []byte, name, labels string, v float64) []byte {
	b = append(b, name+"{"+labels+"} "...)
	return append(strconv.AppendFloat(b, v, 'g', -1, 64), '\n')
}

func boolValue(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}

// timestamp is t in Unix seconds to the microsecond, which a float64
// holds exactly enough to read back (see LastSuccess); 0 for the zero time.
func timestamp(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMicro()) / 1e6
}

// labelEscaper escapes a label value as the text format requires: a
// backslash, a double quote and a line feed each become a backslash
// escape.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// escape makes s a valid label value: valid UTF-8 (the parser rejects
// anything else) with the text format's escapes.
func escape(s string) string {
	return labelEscaper.Replace(strings.ToValidUTF8(s, "\uFFFD"))
}

// Write writes p's metrics to path atomically, with
// github.com/google/renameio/v2: it writes a temporary file in the same
// directory, named "." + NAME + a random number so that node_exporter,
// which reads only "*.prom", never reads it, readable by all (0644),
// syncs it to disk and renames it over path. A run killed at any moment
// leaves either the old file or the new one at path, and at worst a stray
// temporary file that node_exporter ignores; after a crash of the machine
// itself the file is whole too.
func Write(path string, p Probe) error {
	return write(path, p, nil)
}

// Stages of write, at which tests stop it.
const (
	stageCreated = "created" // the temporary file exists, empty
	stageWritten = "written" // it holds the text; next it is synced, closed and renamed
)

// write is Write with a hook called at each stage, for the tests that
// kill a writer half-way.
func write(path string, p Probe, hook func(stage string)) error {
	text := p.text()
	dir := filepath.Dir(path)
	// WithTempDir keeps renameio from trying $TMPDIR first, with two more
	// files; WithStaticPermissions, because node_exporter may run as
	// another user.
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithStaticPermissions(0o644))
	if err != nil {
		return failed(path, "create a temporary file in "+dir, err)
	}
	defer f.Cleanup() // a no-op once replaced
	if hook != nil {
		hook(stageCreated)
	}
	if _, err := f.Write(text); err != nil {
		return failed(path, "write "+f.Name(), err)
	}
	if hook != nil {
		hook(stageWritten)
	}
	if err := f.CloseAtomicallyReplace(); err != nil {
		step := "sync and close " + f.Name()
		if errors.As(err, new(*os.LinkError)) {
			step = "rename " + f.Name() + " over it"
		}
		return failed(path, step, err)
	}
	return nil
}

// failed wraps the cause of a failed write with the file's name and the
// step that failed, without repeating the path a *fs.PathError carries.
func failed(path, step string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("write metrics file %s: %s: %w", path, step, err)
}

// LastSuccess reads back the last-success time that Write put in the
// file at path for machine and service, to the microsecond. A missing
// file is no error: it returns the zero time, as it does for a file that
// says 0 (never). Anything else that keeps it from finding the time (the
// file is unreadable, was not written by Write, or is about another
// machine or service) returns the zero time and an error naming the file.
//
// The directory may be shared or writable by others (a textfile
// directory), so the file is opened without following a symbolic link and
// without waiting for a FIFO's writer, it must be a regular file of this
// user's, as the cache's entries must, and at most MaxFileSize bytes are
// read: what someone planted there can neither hang the run nor fill its
// memory.
func LastSuccess(path, machine, service string) (time.Time, error) {
	b, err := readOwn(path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read last success from metrics file %s: %w", path, err)
	}
	// Write puts the series on a line of its own, labels in this order.
	prefix := nameLastSuccess + `{machine="` + escape(machine) + `",service="` + escape(service) + `"} `
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		v, whole := strings.CutSuffix(v, "\n")
		sec, err := strconv.ParseFloat(v, 64)
		// A line without its line feed was cut short. The negation
		// catches NaN; the bound, an overflow of int64 microseconds.
		if err != nil || !whole || !(sec >= 0 && sec*1e6 < math.MaxInt64) {
			return time.Time{}, fmt.Errorf("read last success from metrics file %s: bad value %q", path, v)
		}
		if sec == 0 {
			return time.Time{}, nil
		}
		return time.UnixMicro(int64(math.Round(sec * 1e6))), nil
	}
	return time.Time{}, fmt.Errorf("read last success from metrics file %s: no %s for machine %q and service %q", path, nameLastSuccess, machine, service)
}

// Encode writes p's metrics to w, the same text Write puts in a file: for
// ricoberger/script_exporter v3, which appends the Prometheus lines of a
// script's stdout to the scrape.
func Encode(w io.Writer, p Probe) error {
	_, err := w.Write(p.text())
	return err
}

// MaxFileSize bounds what LastSuccess reads: Write's files are under a
// kilobyte.
const MaxFileSize = 64 << 10

// readOwn reads path if it is a regular file owned by this user, at most
// MaxFileSize bytes, without following a link or blocking on a FIFO.
func readOwn(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, errors.New("is a symbolic link, which is not followed")
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("is not a regular file (%v)", fi.Mode().Type())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return nil, fmt.Errorf("is owned by uid %d, not by this user (uid %d)", st.Uid, os.Getuid())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err == nil && len(b) > MaxFileSize {
		err = fmt.Errorf("is larger than %d bytes", MaxFileSize)
	}
	return b, err
}
