package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/monitoring-token/monitoring-token/internal/services"
)

const usageHead = `monitoring-token runs a probe against one M-Lab machine with a monitoring
access token from the locate service.

Usage:
  monitoring-token [flags] [--] COMMAND [ARG...]
  monitoring-token [flags] -print

It signs a short-lived token with the private key, asks locate for the
machine's service URL, puts the URL in the command's environment (the
variables per service are below) and runs the command. The command's
output is discarded unless -show-output or -logx.debug is given.

Flags (each also read from the environment variables in brackets, the first
one set winning, unless -read-env=false; a flag on the command line wins
over both). The command does not inherit these variables, except LOGX_DEBUG.
A flag from the environment that has no effect with the others is ignored
(debug says so); on the command line it is an error:
`

// usageTail follows the defaults per service.
const usageTail = `
Exit status:
  0-123    the command's own status
  124      -timeout expired while the command ran; the command was killed
  125      monitoring-token failed; the command did not run, or -timeout
           stopped it after locate took more than a tenth of -timeout
  126      the command was found but could not be executed
  127      the command was not found
  128+N    the command died from signal N, as a normal exit (exporters read a
           death by signal as -1); when monitoring-token itself received N
           (Ctrl-C, a forwarded SIGTERM) or N came before the command
           started, it ends by N instead (on Linux), so a shell sees 128+N

Examples:
  monitoring-token -monitoring-signer-key=/secrets/monitoring.jwk \
    -machine=mlab1-lga01.mlab-oti.measurement-lab.org \
    -- ndt7-client -quiet

  monitoring-token -machine=mlab1-lga01.mlab-oti.measurement-lab.org \
    -export DL=wss:///ndt/v7/download -export UL=wss:///ndt/v7/upload \
    -- sh -c 'ndt7-client -service-url="$DL" && ndt7-client -service-url="$UL"'

  vars=$(monitoring-token -monitoring-signer-key=key.jwk \
    -machine=mlab1-lga01.mlab-oti.measurement-lab.org -print) && eval "$vars"

  monitoring-token -logx.debug -machine=... -- sh -c 'echo "$MONITORING_URL"'
`

// usage writes the help text with every flag, its environment variables and
// its default.
func usage(w io.Writer) error {
	var b strings.Builder
	b.WriteString(usageHead)
	// Shown instead of flag's own argument name or default.
	argNames := map[string]string{"export": "NAME=KEY"}
	perService := map[string]bool{"service-url": true, "service-url-key-name": true, "env-name": true}
	fs := newFlagSet(&config{}, new(string))
	fs.VisitAll(func(f *flag.Flag) {
		arg, help := flag.UnquoteUsage(f)
		if name, ok := argNames[f.Name]; ok {
			arg = name
		}
		if _, ok := f.Value.(durationValue); ok && arg == "value" {
			arg = "duration"
		}
		fmt.Fprintf(&b, "  -%s", f.Name)
		if arg != "" {
			fmt.Fprintf(&b, " %s", arg)
		}
		if names := configNames.Of(f.Name); len(names) > 0 {
			fmt.Fprintf(&b, "  [%s]", strings.Join(names, ", "))
		}
		fmt.Fprintf(&b, "\n        %s", help)
		switch {
		case perService[f.Name]:
			b.WriteString(" (default per service, see below)")
		case f.DefValue == "0s":
			b.WriteString(" (default 0s: off)")
		case f.DefValue != "" && f.DefValue != "false":
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteString("\n")
	})
	writeServiceDefaults(&b)
	b.WriteString(usageTail)
	_, err := io.WriteString(w, b.String())
	return writeError("help", err)
}

// writeServiceDefaults writes the table of defaults per service: the mode,
// the URL key and the variables that get the URL, from internal/services.
func writeServiceDefaults(b *strings.Builder) {
	b.WriteString("\nDefaults per service: the URL each gets, and the variables it goes in. A\n-service-url, -service-url-key-name or -env-name given wins; -export and\n-export-all name the variables themselves.\n")
	other, _ := services.Lookup("")
	for _, s := range append(services.All(), other) {
		key, name := s.URLKey, s.Name
		if name == "" {
			key, name = "the answer's only URL", "other"
		}
		if s.AsksLocate {
			fmt.Fprintf(b, "  %-12s the locate request URL -> %s (-service-url=false: %s);\n", name, services.DefaultEnvName, s.Why)
			fmt.Fprintf(b, "  %-12s with -service-url or a flag only it uses (%s):\n", "", "-"+strings.Join(serviceURLOnly, ", -"))
			fmt.Fprintf(b, "  %-12s %s -> %s\n", "", key, services.DefaultEnvName)
			continue
		}
		fmt.Fprintf(b, "  %-12s %s -> %s", name, key, strings.Join(s.EnvNames, " and "))
		if s.Why != "" {
			fmt.Fprintf(b, " (%s)", s.Why)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "Locate hands monitoring tokens for %s.\n", tokenServices())
	fmt.Fprintf(b, "\nUnder ricoberger/script_exporter v3, %s (set by the exporter) shortens\n-timeout and -kill-after so that the run ends %v before it.\n", scriptDeadlineVar, deadlineMargin)
}

// tokenServices names the services locate hands monitoring tokens for, as
// a phrase: "ndt/ndt7 and wehe/replay".
func tokenServices() string {
	names := services.Enforced()
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
