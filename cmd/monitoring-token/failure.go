package main

import (
	"fmt"
	"slices"
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
		s = strings.Join(keepReasons(lines), "\n")
	}
	return token.Redact(s)
}

// reasonMarkers mark a line that says why a client failed, in any case:
// ndt7-client's "download failed: websocket: bad handshake", wehe's and
// most clients' errors and exceptions.
var reasonMarkers = []string{" failed: ", "error", "fatal", "exception", "panic:"}

// maxReasons bounds the lines that say why kept from before the last
// lines, so that the end of the output still shows.
const maxReasons = outputLines / 2

// keepReasons returns outputLines of lines, more than that: the first
// lines before the last outputLines that say why (a client that prints its
// error, then a summary, pushes it out of the last lines), at most
// maxReasons, then "..." and as many of the last lines as fit.
func keepReasons(lines []string) []string {
	var reasons []string
	for _, l := range lines[:len(lines)-outputLines] {
		// A progress line rewritten in place ("\rstarting download\rdownload
		// failed: …"): what the terminal shows last.
		if i := strings.LastIndexByte(strings.TrimRight(l, "\r"), '\r'); i >= 0 {
			l = l[i+1:]
		}
		if lower := strings.ToLower(l); len(reasons) < maxReasons && slices.ContainsFunc(reasonMarkers, func(m string) bool { return strings.Contains(lower, m) }) {
			reasons = append(reasons, l)
		}
	}
	if len(reasons) == 0 {
		return lines[len(lines)-outputLines:]
	}
	return append(append(reasons, "..."), lines[len(lines)-(outputLines-1-len(reasons)):]...)
}
