package e2e

import (
	"bufio"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The docs' "Probing a local server" is three blocks pasted into two
// shells: the set-up (a directory, a certificate, the emulator) and then
// the probe in the first, ndt-server in the second. They hold no
// monitoring-token line for TestREADMEExamples to take; this test runs them.
const (
	localSetupBlock = "local-setup"
	localProbeBlock = "local-probe"
)

// TestProbingALocalServerAsDocumented pastes the docs' three blocks as the
// doc says, as an ordinary user, with nothing the reader would not have:
// the first shell gets the set-up, the second the tmp=… line the first
// printed and the ndt-server block, the first then the probe. The probe
// must exit 0, the server must count a monitoring download, and no
// connection may leave loopback.
func TestProbingALocalServerAsDocumented(t *testing.T) {
	setup, server, probe := docBlockText(t, localSetupBlock), docBlockText(t, localServerBlock), docBlockText(t, localProbeBlock)
	home := t.TempDir()
	prefix := asOrdinaryUser(t, home, home)
	c := &chain{dir: home}
	trap := c.startTrap(t)
	env := []string{
		"PATH=" + binDir + ":/usr/bin:/bin",
		"HOME=" + home,
		// Only for what would leave loopback: a client not given the
		// machine's URL asks public locate, and the trap counts it.
		"HTTPS_PROXY=http://" + trap,
		"HTTP_PROXY=http://" + trap,
	}

	first := startShell(t, append(prefix, "bash", "-s"), env)
	first.paste(t, setup)
	var tmp string
	err := waitFor(startTimeout, "the first shell's tmp= line and the emulator's URL file", func() (bool, error) {
		if first.exited() {
			return false, fmt.Errorf("the first shell exited: %s", first.output())
		}
		tmp = first.printed("tmp=")
		if tmp == "" {
			return false, nil
		}
		b, err := os.ReadFile(filepath.Join(tmp, "url"))
		return err == nil && len(b) > 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if pem, err := os.ReadFile(filepath.Join(tmp, "cert.pem")); err != nil || !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("the set-up's certificate: %v; first shell: %s", err, first.output())
	}

	second := "tmp=" + shellQuote(tmp) + "\n" + server
	srv, err := startProcess(t, "ndt-server", serviceLife, env, append(prefix, "bash", "-c", second)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitServer(srv, localServerTLS, localServerMetrics, roots); err != nil {
		t.Fatal(err)
	}
	metricsURL := "http://" + localServerMetrics + "/metrics"
	before, err := scrape(metricsURL)
	if err != nil {
		t.Fatal(err)
	}

	first.paste(t, probe)
	first.endInput(t)
	if err := first.wait(probeTimeout); err != nil {
		t.Fatalf("the first shell: %v; output:\n%s", err, first.output())
	}
	out := first.output()
	if !strings.Contains(out, "probe status 0\n") {
		t.Errorf("the probe block did not print \"probe status 0\"; output:\n%s", out)
	}
	if !strings.Contains(out, `request="accepted"`) {
		t.Errorf("the probe block's curl shows no token accepted; output:\n%s", out)
	}
	wanted := counts([]string{"download"})
	var got tally
	err = waitFor(settleTimeout, "ndt-server to count the monitoring download", func() (bool, error) {
		after, err := scrape(metricsURL)
		got = after.minus(before)
		return err == nil && got.equal(wanted), err
	})
	if err != nil {
		t.Errorf("ndt-server counted %v, want %v: %v; output:\n%s", got, wanted, err, out)
	}
	if n := c.trapHits.Load(); n != 0 {
		t.Errorf("%d connections left loopback", n)
	}
}

// docBlock is a marked block of README.md or docs/*.md.
type docBlock struct {
	file string
	markedBlock
}

// docBlocksNamed returns the blocks marked <!-- e2e: NAME --> in README.md
// and docs/*.md.
func docBlocksNamed(t *testing.T, name string) []docBlock {
	t.Helper()
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	var found []docBlock
	for _, f := range append([]string{"../README.md"}, files...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := markedBlocks(string(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, blk := range blocks {
			if blk.name == name {
				found = append(found, docBlock{f, blk})
			}
		}
	}
	return found
}

// docBlockText returns the text of the block marked <!-- e2e: NAME --> in
// README.md or docs/*.md, as a reader would paste it.
func docBlockText(t *testing.T, name string) string {
	t.Helper()
	found := docBlocksNamed(t, name)
	if len(found) == 0 {
		t.Fatalf("no block marked <!-- e2e: %s --> in README.md or docs/*.md", name)
	}
	return strings.Join(found[0].body, "\n") + "\n"
}

// shell is a shell reading commands from its standard input, as a
// terminal's shell reads what is pasted into it, in a process group of its
// own that is killed when the test ends.
type shell struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   syncBuffer // stdout and stderr
	done  chan struct{}
	err   error // from Wait, once done is closed
}

// startShell starts argv, a shell that reads its commands from stdin.
func startShell(t *testing.T, argv, env []string) *shell {
	t.Helper()
	s := &shell{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	s.cmd.Env = env
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	s.cmd.WaitDelay = 5 * time.Second
	stdin, err := s.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stdin = stdin
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		s.wait(10 * time.Second)
	})
	return s
}

// paste writes text to the shell.
func (s *shell) paste(t *testing.T, text string) {
	t.Helper()
	if _, err := io.WriteString(s.stdin, text); err != nil {
		t.Fatalf("paste into the shell: %v; output:\n%s", err, s.output())
	}
}

// endInput closes the shell's input, as Ctrl-D does: it exits once it has
// run what it was given.
func (s *shell) endInput(t *testing.T) {
	t.Helper()
	if err := s.stdin.Close(); err != nil {
		t.Fatal(err)
	}
}

// wait waits up to timeout for the shell to exit.
func (s *shell) wait(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-s.done:
		return s.err
	case <-timer.C:
		return fmt.Errorf("still running after %v", timeout)
	}
}

// exited reports whether the shell has ended.
func (s *shell) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// printed returns what follows prefix on the first output line that
// starts with it, or "".
func (s *shell) printed(prefix string) string {
	sc := bufio.NewScanner(strings.NewReader(s.out.String()))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return v
		}
	}
	return ""
}

// output returns what the shell wrote so far, tokens redacted.
func (s *shell) output() string { return redact(s.out.String()) }
