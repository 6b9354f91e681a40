package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// localServerCommand is the ndt-server command the docs give for probing a
// local server, run by an ordinary user: every listener on loopback (by
// default ndt-server binds :443 and :80, which need root, and :3001,
// :3010 and :9990 on every interface), a data directory of the user's,
// the certificate for 127.0.0.1 and the emulator's key. $tmp is the
// directory of the docs' emulator snippet. The docs' block marked
// <!-- e2e: ndt-server --> must be exactly this line.
const localServerCommand = `ndt-server -ndt7.token.required -token.verify-key="$tmp/locate.pub.jwk" -token.machine=mlab1-lga01.mlab-oti.measurement-lab.org -cert="$tmp/cert.pem" -key="$tmp/key.pem" -datadir="$tmp/ndt-data" -ndt7_addr=127.0.0.1:4443 -ndt7_addr_cleartext=127.0.0.1:8080 -ndt5_addr=127.0.0.1:3001 -ndt5_ws_addr=127.0.0.1:3002 -ndt5_wss_addr=127.0.0.1:3010 -health_addr=127.0.0.1:8000 -prometheusx.listen-address=127.0.0.1:9990`

// The local server's machine and the addresses its command gives.
const (
	localServerMachine = "mlab1-lga01.mlab-oti.measurement-lab.org"
	localServerTLS     = "127.0.0.1:4443"
	localServerMetrics = "127.0.0.1:9990"
)

// localServerBlock is the marker name of the docs' block that holds
// localServerCommand.
const localServerBlock = "ndt-server"

// ordinaryUID is the user a test running as root runs the server as
// (nobody).
const ordinaryUID = 65534

// TestLocalServerCommand runs localServerCommand, as written, under sh as an
// ordinary user, with the emulator's URLs pointing at it, and probes it as
// the other tests do: the server must accept locate's token and count a
// monitoring download, and run as that user.
func TestLocalServerCommand(t *testing.T) {
	c := &chain{dir: t.TempDir()}
	certFile, keyFile, roots := writeCert(t, c.dir)
	trap := c.startTrap(t)
	_, locateURL, err := c.startEmulator(t, localServerTLS)
	if err != nil {
		t.Fatal(err)
	}
	prefix := asOrdinaryUser(t, c.dir, keyFile)
	argv := append(prefix, "sh", "-c", localServerCommand)
	srv, err := startProcess(t, "ndt-server", serviceLife, []string{"PATH=" + binDir + ":/usr/bin:/bin", "tmp=" + c.dir}, argv...)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitServer(srv, localServerTLS, localServerMetrics, roots); err != nil {
		t.Fatalf("%s: %v", localServerCommand, err)
	}
	uids, err := groupUIDs(srv.pid)
	if err != nil {
		t.Fatal(err)
	}
	for name, uid := range uids {
		if uid == 0 {
			t.Errorf("%s runs as root", name)
		}
	}
	if _, ok := uids["ndt-server"]; !ok {
		t.Errorf("no ndt-server among the command's processes %v", uids)
	}
	c.setProbeEnv(t, localServerMetrics, certFile, trap, locateURL)
	c.expect(t, shellProbe("local server", "monitoring-token -machine="+localServerMachine+" -env-name=SERVICE_URL -- ndt7-client -quiet"),
		want{exit: 0, locate: true, server: counts([]string{"download"})})
}

// asOrdinaryUser returns the command prefix that runs a command as an
// ordinary user: none when the test is not root; as root, setpriv to
// ordinaryUID, with dir and the server's key handed to that user and the
// directories above dir and the binaries opened to it.
func asOrdinaryUser(t *testing.T, dir, keyFile string) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skipf("running as root and no setpriv (util-linux) to run ndt-server as an ordinary user: %v", err)
	}
	for _, f := range []string{dir, keyFile} {
		if err := os.Chown(f, ordinaryUID, ordinaryUID); err != nil {
			t.Fatal(err)
		}
	}
	// t.TempDir and TestMain make their directories 0700.
	for _, d := range []string{filepath.Dir(dir), filepath.Dir(binDir)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	id := strconv.Itoa(ordinaryUID)
	return []string{setpriv, "--reuid=" + id, "--regid=" + id, "--clear-groups", "--"}
}

// groupUIDs returns the real user of each process in process group pgid,
// by command name.
func groupUIDs(pgid int) (map[string]int, error) {
	procs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	uids := map[string]int{}
	for _, stat := range procs {
		b, err := os.ReadFile(stat)
		if err != nil {
			continue // Gone meanwhile.
		}
		// pid (comm) state ppid pgrp ...
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) < 3 || fields[2] != strconv.Itoa(pgid) {
			continue
		}
		uid, err := realUID(filepath.Join(filepath.Dir(stat), "status"))
		if err != nil {
			return nil, err
		}
		uids[s[open+1:end]] = uid
	}
	if len(uids) == 0 {
		return nil, fmt.Errorf("no process in group %d", pgid)
	}
	return uids, nil
}

// realUID reads the real user ID from a /proc/PID/status file.
func realUID(status string) (int, error) {
	f, err := os.Open(status)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			return strconv.Atoi(fields[0])
		}
	}
	return 0, fmt.Errorf("%s: no Uid line", status)
}

// TestLocalServerCommandInDocs checks that the docs give localServerCommand
// in a block marked <!-- e2e: ndt-server --> in README.md or docs/*.md.
func TestLocalServerCommandInDocs(t *testing.T) {
	found := docBlocksNamed(t, localServerBlock)
	for _, blk := range found {
		if got := strings.Join(joinContinuations(blk.body), "\n"); got != localServerCommand {
			t.Errorf("%s:%d: the ndt-server block is\n%s\nwant exactly\n%s", blk.file, blk.line, got, localServerCommand)
		}
	}
	if len(found) != 1 {
		t.Errorf("want one block marked <!-- e2e: %s --> in README.md and docs/*.md, found %d", localServerBlock, len(found))
	}
}
