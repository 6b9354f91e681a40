package main

import (
	"fmt"
	"strings"
	"syscall"

	"github.com/monitoring-token/monitoring-token/exec"
	"github.com/monitoring-token/monitoring-token/token"
)

// The end of a failed command's output that its failure line quotes.
const (
	outputTail  = 2 << 10 // bytes exec keeps (Command.Tail)
	outputLines = 10      // lines the failure line shows, at most
)

// tokenChars are the characters of a compact JWT: base64url and the dots.
const tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

// commandFailed is the one line about a command that ran and failed: how
// it ended, the status monitoring-token exits with when that is not the
// command's own, and the end of its output when it was kept (not shown).
// err is e with what the run adds (the exporter's deadline); dying is the
// signal monitoring-token is about to die by, or 0.
func commandFailed(err error, e *exec.ExitError, status int, dying syscall.Signal) string {
	line := token.Redact(err.Error())
	if dying == 0 && (e.Signal != 0 || e.TimedOut) {
		line += fmt.Sprintf("; exit status %d", status)
	}
	switch {
	case e.Output == nil: // shown as it was written, or not kept
	case len(e.Output) == 0:
		line += "; it wrote no output"
	default:
		line += fmt.Sprintf("; its output ended with: %q", outputEnd(e.Output, len(e.Output) >= outputTail))
	}
	return line
}

// outputEnd returns the last lines of out, at most outputLines, with every
// token's signature redacted. cut says out is the end of a longer output,
// so that it may begin inside a line, a character or a token: then it
// starts at the first line that begins in out, and when no line does, after
// the characters a token is made of, since Redact cannot tell the end of a
// token's signature from other text.
func outputEnd(out []byte, cut bool) string {
	s := strings.TrimRight(string(out), "\n")
	if cut {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		} else {
			s = "..." + strings.TrimLeft(s, tokenChars)
		}
	}
	if lines := strings.Split(s, "\n"); len(lines) > outputLines {
		s = strings.Join(lines[len(lines)-outputLines:], "\n")
	}
	return token.Redact(s)
}
