package metrics

import (
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monitoring-token/monitoring-token/internal/metrics/metricstest"
)

const (
	machine = "mlab1-lga01.mlab-oti.measurement-lab.org"
	service = "ndt/ndt7"
)

// parseFile reads path with the Prometheus text parser, as node_exporter's
// textfile collector does (legacy metric and label names), and fails the
// test if it does not parse or if a sample carries a timestamp, which
// node_exporter refuses.
func parseFile(t *testing.T, path string) map[string]metricstest.Family {
	t.Helper()
	fams, err := metricstest.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, fam := range fams {
		for _, s := range fam.Series {
			if s.Timestamp {
				t.Errorf("%s carries a timestamp", name)
			}
		}
	}
	return fams
}

// allNames are the names every file holds.
var allNames = []string{
	"monitoring_probe_success",
	"monitoring_probe_exit_code",
	"monitoring_probe_cannot_run",
	"monitoring_probe_timed_out",
	"monitoring_probe_duration_seconds",
	"monitoring_probe_phase_duration_seconds",
	"monitoring_probe_locate_attempts",
	"monitoring_probe_locate_http_status",
	"monitoring_probe_cached",
	"monitoring_probe_stale",
	"monitoring_probe_last_success_timestamp_seconds",
}

// values checks that fams holds exactly the probe metrics, each a gauge
// with HELP, labelled with machine and service (and phase for the
// phases), and returns their values by name, the phases by
// "NAME{PHASE}".
func values(t *testing.T, fams map[string]metricstest.Family, machine, service string) map[string]float64 {
	t.Helper()
	if got := slices.Sorted(maps.Keys(fams)); !slices.Equal(got, slices.Sorted(slices.Values(allNames))) {
		t.Fatalf("families %q, want %q", got, allNames)
	}
	vals := map[string]float64{}
	for name, fam := range fams {
		if fam.Type != "GAUGE" || fam.Help == "" {
			t.Errorf("%s: TYPE %s, HELP %q; want a gauge with HELP", name, fam.Type, fam.Help)
		}
		for _, s := range fam.Series {
			key := name
			want := map[string]string{"machine": machine, "service": service}
			if name == "monitoring_probe_phase_duration_seconds" {
				key = s.Key()
				want["phase"] = s.Labels["phase"]
			}
			if !maps.Equal(s.Labels, want) {
				t.Errorf("%s labels %q, want %q", name, s.Labels, want)
			}
			if _, dup := vals[key]; dup {
				t.Errorf("%s twice", key)
			}
			vals[key] = s.Value
		}
	}
	return vals
}

func TestWriteOutcomes(t *testing.T) {
	lastWeek := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
	tests := []struct {
		name        string
		probe       Probe
		wantSuccess float64
	}{
		{
			name: "success",
			probe: Probe{ExitCode: 0, Duration: 2 * time.Second, Sign: 300 * time.Microsecond, Locate: 20 * time.Millisecond, Command: 1900 * time.Millisecond,
				LocateAttempts: 1, LocateHTTPStatus: 200, LastSuccess: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)},
			wantSuccess: 1,
		},
		{
			name: "command failed",
			probe: Probe{ExitCode: 1, Duration: 3 * time.Second, Sign: time.Millisecond, Locate: 15 * time.Millisecond, Command: 2 * time.Second,
				LocateAttempts: 1, LocateHTTPStatus: 200, LastSuccess: lastWeek},
		},
		{
			name: "timed out",
			probe: Probe{ExitCode: 124, Duration: 50 * time.Second, Sign: time.Millisecond, Locate: 10 * time.Millisecond, Command: 49980 * time.Millisecond,
				LocateAttempts: 1, LocateHTTPStatus: 200, LastSuccess: lastWeek, TimedOut: true},
		},
		{
			name: "locate refused after retries",
			probe: Probe{ExitCode: 125, Duration: 12 * time.Second, Sign: time.Millisecond, Locate: 11 * time.Second,
				LocateAttempts: 3, LocateHTTPStatus: 503, LastSuccess: lastWeek, CannotRun: true},
		},
		{
			name: "locate refused, passed",
			probe: Probe{ExitCode: 125, Duration: 12 * time.Second, Sign: time.Millisecond, Locate: 11 * time.Second,
				LocateAttempts: 3, LocateHTTPStatus: 400, LastSuccess: lastWeek, CannotRun: true, Passed: true},
			wantSuccess: 1,
		},
		{
			name: "the command's own 125",
			probe: Probe{ExitCode: 125, Duration: 3 * time.Second, Sign: time.Millisecond, Locate: 15 * time.Millisecond, Command: 2 * time.Second,
				LocateAttempts: 1, LocateHTTPStatus: 200, LastSuccess: lastWeek},
		},
		{
			name: "locate never answered",
			probe: Probe{ExitCode: 125, Duration: 50 * time.Second, Sign: time.Millisecond, Locate: 49990 * time.Millisecond,
				LocateAttempts: 4, LocateHTTPStatus: 0, CannotRun: true},
		},
		{
			name: "not executable",
			probe: Probe{ExitCode: 126, Duration: 40 * time.Millisecond, Sign: time.Millisecond, Locate: 20 * time.Millisecond, Command: time.Millisecond,
				LocateAttempts: 1, LocateHTTPStatus: 200, LastSuccess: lastWeek},
		},
		{
			name: "not found",
			probe: Probe{ExitCode: 127, Duration: 40 * time.Millisecond, Sign: time.Millisecond, Locate: 20 * time.Millisecond, Command: time.Millisecond,
				LocateAttempts: 1, LocateHTTPStatus: 200, LastSuccess: lastWeek},
		},
		{
			name: "killed by SIGKILL",
			probe: Probe{ExitCode: 128 + 9, Duration: 5 * time.Second, Sign: time.Millisecond, Locate: 20 * time.Millisecond, Command: 4 * time.Second,
				LocateAttempts: 2, LocateHTTPStatus: 200, LastSuccess: lastWeek},
		},
		{
			name:        "cache hit",
			probe:       Probe{ExitCode: 0, Duration: 900 * time.Microsecond, Cached: true, LastSuccess: lastWeek},
			wantSuccess: 1,
		},
		{
			name: "stale",
			probe: Probe{ExitCode: 0, Duration: 30 * time.Second, Sign: time.Millisecond, Locate: 29 * time.Second,
				LocateAttempts: 3, LocateHTTPStatus: 400, Stale: true, CannotRun: true, LastSuccess: lastWeek},
			wantSuccess: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.probe
			p.Machine, p.Service = machine, service
			path := filepath.Join(t.TempDir(), "probe.prom")
			if err := Write(path, p); err != nil {
				t.Fatal(err)
			}
			got := values(t, parseFile(t, path), machine, service)
			bit := func(b bool) float64 {
				if b {
					return 1
				}
				return 0
			}
			var last float64
			if !p.LastSuccess.IsZero() {
				last = float64(p.LastSuccess.UnixNano()) / 1e9
			}
			want := map[string]float64{
				"monitoring_probe_success":                         tt.wantSuccess,
				"monitoring_probe_exit_code":                       float64(p.ExitCode),
				"monitoring_probe_cannot_run":                      bit(p.CannotRun),
				"monitoring_probe_timed_out":                       bit(p.TimedOut),
				"monitoring_probe_duration_seconds":                p.Duration.Seconds(),
				"monitoring_probe_phase_duration_seconds{sign}":    p.Sign.Seconds(),
				"monitoring_probe_phase_duration_seconds{locate}":  p.Locate.Seconds(),
				"monitoring_probe_phase_duration_seconds{command}": p.Command.Seconds(),
				"monitoring_probe_locate_attempts":                 float64(p.LocateAttempts),
				"monitoring_probe_locate_http_status":              float64(p.LocateHTTPStatus),
				"monitoring_probe_cached":                          bit(p.Cached),
				"monitoring_probe_stale":                           bit(p.Stale),
				"monitoring_probe_last_success_timestamp_seconds":  last,
			}
			for key, w := range want {
				// Durations and times pass through float64 seconds.
				if g, ok := got[key]; !ok || math.Abs(g-w) > 1e-6 {
					t.Errorf("%s = %v, want %v", key, g, w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d series, want %d: %v", len(got), len(want), got)
			}
			phases := got["monitoring_probe_phase_duration_seconds{sign}"] + got["monitoring_probe_phase_duration_seconds{locate}"] + got["monitoring_probe_phase_duration_seconds{command}"]
			if total := got["monitoring_probe_duration_seconds"]; phases > total {
				t.Errorf("phases add up to %vs, more than the whole run's %vs", phases, total)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644 so that node_exporter can read it as any user", fi.Mode().Perm())
			}
		})
	}
}

func TestWriteEscapesLabels(t *testing.T) {
	tests := []struct {
		name, machine, service string
		// want* are the label values after parsing: the input, except
		// that invalid UTF-8 becomes U+FFFD.
		wantMachine, wantService string
	}{
		{name: "double quote", machine: `mlab1-lga01"x`, service: `ndt/"ndt7"`},
		{name: "backslash", machine: `mlab1\lga01`, service: `ndt\ndt7\`},
		{name: "line feed", machine: "mlab1\nlga01", service: "ndt/ndt7\n"},
		{name: "all three", machine: "\\\"\n\\n\"", service: `\\"`},
		{name: "empty", machine: "", service: ""},
		{name: "unicode", machine: "mlab1-lga01.例え.テスト", service: "ndt/ndt7 ✓"},
		{name: "invalid UTF-8", machine: "mlab1-\xff-lga01", service: "ndt\xc3", wantMachine: "mlab1-\uFFFD-lga01", wantService: "ndt\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantMachine, wantService := tt.machine, tt.service
			if tt.wantMachine != "" {
				wantMachine, wantService = tt.wantMachine, tt.wantService
			}
			path := filepath.Join(t.TempDir(), "probe.prom")
			if err := Write(path, Probe{Machine: tt.machine, Service: tt.service, ExitCode: 3}); err != nil {
				t.Fatal(err)
			}
			got := values(t, parseFile(t, path), wantMachine, wantService)
			if got["monitoring_probe_exit_code"] != 3 {
				t.Errorf("exit code %v, want 3", got["monitoring_probe_exit_code"])
			}
		})
	}
}

// TestHelpAndTypeAreConstant checks what lets node_exporter merge the
// files of many probes: the same families with the same HELP and TYPE,
// whatever the probe.
func TestHelpAndTypeAreConstant(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.prom"), filepath.Join(dir, "b.prom")
	if err := Write(a, Probe{Machine: machine, Service: service, Duration: time.Second, LocateAttempts: 1, LocateHTTPStatus: 200, LastSuccess: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := Write(b, Probe{Machine: "mlab2-syd02.mlab-oti.measurement-lab.org", Service: "wehe/replay", ExitCode: 125, Cached: true, Stale: true}); err != nil {
		t.Fatal(err)
	}
	fa, fb := parseFile(t, a), parseFile(t, b)
	if len(fa) != len(allNames) || len(fb) != len(allNames) {
		t.Fatalf("%d and %d families, want %d in each", len(fa), len(fb), len(allNames))
	}
	for _, name := range allNames {
		if fa[name].Help == "" || fa[name].Help != fb[name].Help || fa[name].Type != fb[name].Type {
			t.Errorf("%s: HELP %q TYPE %s in one file, HELP %q TYPE %s in the other", name, fa[name].Help, fa[name].Type, fb[name].Help, fb[name].Type)
		}
	}
}

func TestLastSuccess(t *testing.T) {
	// Nanoseconds, which the file does not keep: it reads back to the
	// microsecond.
	when := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	wantWhen := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
	tests := []struct {
		name    string
		file    func(t *testing.T, path string) // makes the file at path
		want    time.Time
		wantErr string // a fragment of the error; "" for none
	}{
		{
			name: "round trip",
			file: writeProbe(Probe{Machine: machine, Service: service, LastSuccess: when}),
			want: wantWhen,
		},
		{
			name: "survives a failure written over it",
			file: func(t *testing.T, path string) {
				writeProbe(Probe{Machine: machine, Service: service, LastSuccess: when})(t, path)
				last, err := LastSuccess(path, machine, service)
				if err != nil {
					t.Fatal(err)
				}
				writeProbe(Probe{Machine: machine, Service: service, ExitCode: 1, LastSuccess: last})(t, path)
			},
			want: wantWhen,
		},
		{
			name: "never",
			file: writeProbe(Probe{Machine: machine, Service: service, ExitCode: 125}),
		},
		{
			name: "no file",
			file: func(*testing.T, string) {},
		},
		{
			name:    "another machine's file",
			file:    writeProbe(Probe{Machine: "mlab2-syd02.mlab-oti.measurement-lab.org", Service: service, LastSuccess: when}),
			wantErr: "no monitoring_probe_last_success_timestamp_seconds for machine",
		},
		{
			name:    "another service's file",
			file:    writeProbe(Probe{Machine: machine, Service: "wehe/replay", LastSuccess: when}),
			wantErr: "no monitoring_probe_last_success_timestamp_seconds for machine",
		},
		{
			name:    "not a metrics file",
			file:    writeText("{\"machine\": \"x\"}\n"),
			wantErr: "no monitoring_probe_last_success_timestamp_seconds",
		},
		{
			name:    "cut short",
			file:    writeText(lastSuccessLine("1.7")),
			wantErr: `bad value "1.7"`,
		},
		{
			name:    "not a number",
			file:    writeText(lastSuccessLine("yesterday\n")),
			wantErr: `bad value "yesterday"`,
		},
		{
			name:    "negative",
			file:    writeText(lastSuccessLine("-1\n")),
			wantErr: `bad value "-1"`,
		},
		{
			name:    "NaN",
			file:    writeText(lastSuccessLine("NaN\n")),
			wantErr: `bad value "NaN"`,
		},
		{
			name:    "beyond int64 microseconds",
			file:    writeText(lastSuccessLine("1e13\n")),
			wantErr: `bad value "1e13"`,
		},
		{
			name: "a directory",
			file: func(t *testing.T, path string) {
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "is not a regular file",
		},
		{
			// Opening it for reading would wait for a writer forever.
			name: "a FIFO",
			file: func(t *testing.T, path string) {
				if err := syscall.Mkfifo(path, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "is not a regular file",
		},
		{
			name:    "a link to /dev/zero",
			file:    symlink("/dev/zero"),
			wantErr: "is a symbolic link",
		},
		{
			name: "a link to a good file",
			file: func(t *testing.T, path string) {
				good := path + ".real"
				writeProbe(Probe{Machine: machine, Service: service, LastSuccess: when})(t, good)
				symlink(good)(t, path)
			},
			wantErr: "is a symbolic link",
		},
		{
			name:    "too large",
			file:    writeText(strings.Repeat("# padding\n", MaxFileSize/10+1) + lastSuccessLine("1\n")),
			wantErr: "is larger than",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "probe.prom")
			tt.file(t, path)
			got, err := LastSuccess(path, machine, service)
			if !got.Equal(tt.want) {
				t.Errorf("LastSuccess = %v, want %v", got, tt.want)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path)):
				t.Errorf("error %v, want one naming %s and saying %q", err, path, tt.wantErr)
			}
		})
	}
}

// writeProbe returns a LastSuccess test's file maker that writes p.
func writeProbe(p Probe) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := Write(path, p); err != nil {
			t.Fatal(err)
		}
	}
}

// writeText returns a LastSuccess test's file maker that writes text.
// lastSuccessLine is the last-success series for the test's machine and
// service with the given value text.
func lastSuccessLine(value string) string {
	return `monitoring_probe_last_success_timestamp_seconds{machine="` + machine + `",service="` + service + `"} ` + value
}

func writeText(text string) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteFails(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T, dir string) string // makes the target in dir
		want string                                // a fragment of the error besides the path
	}{
		{
			name: "an empty directory in the way",
			path: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "probe.prom")
				if err := os.Mkdir(p, 0o755); err != nil {
					t.Fatal(err)
				}
				return p
			},
			want: "rename",
		},
		{
			name: "a directory in the way",
			path: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "probe.prom")
				if err := os.MkdirAll(filepath.Join(p, "inside"), 0o755); err != nil {
					t.Fatal(err)
				}
				return p
			},
			want: "rename",
		},
		{
			name: "under a regular file",
			path: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "file")
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(p, "probe.prom")
			},
			want: "not a directory",
		},
		{
			name: "no such directory",
			path: func(t *testing.T, dir string) string { return filepath.Join(dir, "missing", "probe.prom") },
			want: "no such file or directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.path(t, dir)
			err := Write(path, Probe{Machine: machine, Service: service})
			if err == nil || !strings.Contains(err.Error(), path+":") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write error %v, want one naming %s and saying %q", err, path, tt.want)
			}
			// Nothing left behind: only what the test made.
			var left []string
			filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error {
				if strings.HasPrefix(filepath.Base(p), tempPrefix) {
					left = append(left, p)
				}
				return nil
			})
			if len(left) > 0 {
				t.Errorf("left behind %q", left)
			}
		})
	}
}

// TestConcurrentWrites checks that overlapping runs writing one file
// leave a whole file and no temporary files.
func TestConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "probe.prom")
	const writers, writes = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*writes)
	for w := range writers {
		wg.Go(func() {
			for range writes {
				errs <- Write(path, Probe{Machine: machine, Service: service, ExitCode: w})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := values(t, parseFile(t, path), machine, service)
	if code := got["monitoring_probe_exit_code"]; code < 0 || code >= writers {
		t.Errorf("exit code %v, want one of the writers' 0..%d", code, writers-1)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only probe.prom: %v", len(entries), entries)
	}
}

// BenchmarkWrite is the cost -metrics-file adds to a run once the
// process is warm: render, temporary file, fsync, rename. The directory is
// t.TempDir's, so the file system decides most of it (see the README).
func BenchmarkWrite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "probe.prom")
	p := Probe{Machine: machine, Service: service, Duration: 2 * time.Second, Sign: time.Millisecond, Locate: 20 * time.Millisecond, Command: time.Second,
		LocateAttempts: 1, LocateHTTPStatus: 200, LastSuccess: time.Now()}
	for b.Loop() {
		if err := Write(path, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLastSuccess is the cost of reading the last success back.
func BenchmarkLastSuccess(b *testing.B) {
	path := filepath.Join(b.TempDir(), "probe.prom")
	if err := Write(path, Probe{Machine: machine, Service: service, LastSuccess: time.Now()}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := LastSuccess(path, machine, service); err != nil {
			b.Fatal(err)
		}
	}
}

// symlink makes path a symbolic link to target.
func symlink(target string) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLastSuccessOnlyOwnFiles: a file another user put at the path is not
// read, as the cache reads only its own entries.
func TestLastSuccessOnlyOwnFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "probe.prom")
	writeProbe(Probe{Machine: machine, Service: service, LastSuccess: time.Unix(1e9, 0)})(t, path)
	const nobody = 65534
	if err := os.Chown(path, nobody, nobody); err != nil {
		t.Skipf("cannot give the file to uid %d: %v", nobody, err)
	}
	got, err := LastSuccess(path, machine, service)
	if !got.IsZero() || err == nil || !strings.Contains(err.Error(), "is owned by uid 65534") {
		t.Errorf("LastSuccess = %v, %v; want nothing read from another user's file", got, err)
	}
}
