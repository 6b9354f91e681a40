package main

import (
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestKeyReadIsBounded: a key path that never delivers (a FIFO without a
// writer) is bounded by -timeout, and one that never ends (/dev/zero) by a
// size cap; process substitution and symlinked keys still work.
func TestKeyReadIsBounded(t *testing.T) {
	f := newFixture(t)
	fifo := filepath.Join(f.dir, "key.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key, want string
	}{
		{name: "FIFO without a writer", key: fifo, want: "could not be read in time"},
		{name: "/dev/zero", key: "/dev/zero", want: "is larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, nil, "-locate-url="+f.emu.URL, "-monitoring-signer-key="+tt.key, "-machine="+machine, "-timeout=1s", "--", "true")
			if r.status != statusFailed || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "from locate") {
				t.Errorf("status %d stderr %q; want %d and one line with %q", r.status, r.stderr, statusFailed, tt.want)
			}
		})
	}
	t.Run("symlinks and process substitution", func(t *testing.T) {
		data := filepath.Join(f.dir, "..2026_11_23")
		os.Mkdir(data, 0o700)
		os.Rename(f.keyPath, filepath.Join(data, "key.jwk"))
		os.Symlink(data, filepath.Join(f.dir, "..data"))
		os.Symlink(filepath.Join("..data", "key.jwk"), f.keyPath)
		for _, key := range []string{f.keyPath, "<(cat " + f.keyPath + ")"} {
			line := fmt.Sprintf("exec %s -locate-url=%s -monitoring-signer-key=%s -machine=%s -- true", binary, f.emu.URL, key, machine)
			if out, err := osexec.Command("bash", "-c", line).CombinedOutput(); err != nil {
				t.Errorf("key %s: %v: %s", key, err, out)
			}
		}
	})
}
