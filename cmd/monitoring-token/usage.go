package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

const usageHead = `monitoring-token runs a probe against one M-Lab machine with a monitoring
access token from the locate service.

Usage:
  monitoring-token [flags] [--] COMMAND [ARG...]
  monitoring-token [flags] -print

It signs a short-lived token with the private key, asks locate for the
machine's service URL, puts the URL in the command's environment
(MONITORING_URL by default) and runs the command. The command's output is
discarded unless -show-output or -logx.debug is given.

Flags (each also read from the environment variables in brackets, the first
one set winning; a flag on the command line wins over both). The command
does not inherit these variables, except LOGX_DEBUG:
`

const usageTail = `
Default -service-url-key-name per service:
  ndt/ndt7     wss:///ndt/v7/download
  ndt/ndt5     wss://:3010/ndt_protocol
  wehe/replay  wss://:4443/v0/envelope/access
  neubot/dash  https:///negotiate/dash
  iperf3/test  wss:///v0/envelope/access
  other        the answer's only URL
Locate hands monitoring tokens for ndt/ndt7 and wehe/replay.

Exit status:
  0-123    the command's own status
  124      -timeout expired while the command ran; the command was killed
  125      monitoring-token failed; the command did not run
  126      the command was found but could not be executed
  127      the command was not found
  128+N    the command died from signal N, or signal N came before it started

Examples:
  monitoring-token -monitoring-signer-key=/secrets/monitoring.jwk \
    -machine=mlab1-lga01.mlab-oti.measurement-lab.org \
    -env-name=SERVICE_URL -- ndt7-client -quiet

  monitoring-token -machine=mlab1-lga01.mlab-oti.measurement-lab.org \
    -export DL=wss:///ndt/v7/download -export UL=wss:///ndt/v7/upload \
    -- sh -c 'ndt7-client -service-url="$DL" && ndt7-client -service-url="$UL"'

  eval "$(monitoring-token -monitoring-signer-key=key.jwk \
    -machine=mlab1-lga01.mlab-oti.measurement-lab.org -print)"

  monitoring-token -logx.debug -machine=... -- sh -c 'echo "$MONITORING_URL"'
`

// usage writes the help text with every flag, its environment variables and
// its default.
func usage(w io.Writer) error {
	var b strings.Builder
	b.WriteString(usageHead)
	fs := newFlagSet(&config{}, new(string))
	fs.VisitAll(func(f *flag.Flag) {
		arg, help := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  -%s", f.Name)
		if arg != "" {
			fmt.Fprintf(&b, " %s", arg)
		}
		if names := envNames(f.Name); len(names) > 0 {
			fmt.Fprintf(&b, "  [%s]", strings.Join(names, ", "))
		}
		fmt.Fprintf(&b, "\n        %s", help)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteString("\n")
	})
	b.WriteString(usageTail)
	_, err := io.WriteString(w, b.String())
	return writeError("help", err)
}
