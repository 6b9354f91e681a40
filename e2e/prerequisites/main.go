// Command prerequisites checks that this machine can build ndt-server for
// the end-to-end tests: ndt-server needs cgo, so a C compiler, the C
// library's headers and Linux's headers. It installs nothing. When
// something is missing it names it, prints the Debian (or Ubuntu) command
// that installs it and exits 1; `make e2e` runs it first.
//
// With -packages it prints only the names of the missing Debian packages,
// on one line (empty when none), and exits 0: CI's set-up (.ci/run)
// installs them.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// requirement is one thing the cgo build needs and the Debian package that
// provides it.
type requirement struct {
	pkg  string // the Debian package
	what string // what it provides, for the message
	// command is a program that must be on PATH, or file a file that
	// must exist.
	command, file string
}

// requirements are what ndt-server's cgo build uses (m-lab/tcp-info reads
// TCP_INFO and inet_diag through C headers).
var requirements = []requirement{
	{pkg: "gcc", what: "a C compiler", command: "gcc"},
	{pkg: "libc6-dev", what: "the C library's headers", file: "/usr/include/netinet/tcp.h"},
	{pkg: "linux-libc-dev", what: "Linux's headers", file: "/usr/include/linux/inet_diag.h"},
}

// missing returns the requirements that are not met, given how to look a
// command up and whether a file exists.
func missing(lookPath func(string) (string, error), exists func(string) bool) []requirement {
	var out []requirement
	for _, r := range requirements {
		if r.command != "" {
			if _, err := lookPath(r.command); err != nil {
				out = append(out, r)
			}
			continue
		}
		if !exists(r.file) {
			out = append(out, r)
		}
	}
	return out
}

// report writes what is missing and the command that installs it.
func report(w io.Writer, m []requirement) {
	fmt.Fprintln(w, "make e2e builds ndt-server with cgo; this machine lacks:")
	var pkgs []string
	for _, r := range m {
		where := r.file
		if r.command != "" {
			where = r.command + " on PATH"
		}
		fmt.Fprintf(w, "  %s: %s (%s)\n", r.pkg, r.what, where)
		pkgs = append(pkgs, r.pkg)
	}
	fmt.Fprintln(w, "Install them (Debian, Ubuntu) with:")
	fmt.Fprintln(w, "  sudo apt-get install --no-install-recommends "+strings.Join(pkgs, " "))
}

func main() {
	packages := flag.Bool("packages", false, "print only the missing Debian packages, on one line, and exit 0")
	flag.Parse()
	m := missing(exec.LookPath, func(path string) bool {
		_, err := os.Stat(path)
		return err == nil
	})
	if *packages {
		var pkgs []string
		for _, r := range m {
			pkgs = append(pkgs, r.pkg)
		}
		fmt.Println(strings.Join(pkgs, " "))
		return
	}
	if len(m) > 0 {
		report(os.Stderr, m)
		os.Exit(1)
	}
}
