package e2e

import (
	"strings"
	"testing"
)

// shellProbe is a probe run with sh -c, as cron runs a crontab line.
func shellProbe(name, line string) probe {
	return probe{name: name, argv: []string{"sh", "-c", line}}
}

// TestDownload runs the chain with the token, and with it withheld or
// wrong in each way the server must refuse: the probe must exit non-zero
// and the server must say why it refused.
func TestDownload(t *testing.T) {
	c := startChain(t)
	const own = "monitoring-token -machine=" + machine + " -env-name=SERVICE_URL -- "
	tests := []struct {
		name string
		line string
		want want
	}{
		{
			name: "with locate's token",
			line: own + "ndt7-client -quiet",
			want: want{exit: 0, locate: true, server: counts([]string{"download"})},
		},
		{
			// The wrapper the negative controls use changes nothing
			// by itself.
			name: "through the tamper wrapper, unchanged",
			line: own + "tamper none SERVICE_URL -- ndt7-client -quiet",
			want: want{exit: 0, locate: true, server: counts([]string{"download"})},
		},
		{
			name: "no token",
			line: own + "tamper drop-token SERVICE_URL -- ndt7-client -quiet",
			want: want{exit: exitFailed, locate: true, server: counts(nil, "download "+reasonMissing)},
		},
		{
			name: "altered signature",
			line: own + "tamper corrupt-signature SERVICE_URL -- ndt7-client -quiet",
			want: want{exit: exitFailed, locate: true, server: counts(nil, "download "+reasonSignature)},
		},
		{
			// Locate answers for any machine; the token names the one
			// asked for, which is not this server.
			name: "token for another machine",
			line: "monitoring-token -machine=" + otherMachine + " -env-name=SERVICE_URL -- ndt7-client -quiet",
			want: want{exit: exitFailed, locate: true, server: counts(nil, "download "+reasonAudience)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.expect(t, shellProbe(tt.name, tt.line), tt.want)
		})
	}
}

// TestMachineSpellings runs each spelling of the server's machine that
// people write: monitoring-token must turn a v2 name with a service prefix,
// an instance-group suffix or upper case into the bare v2 name, which the
// server accepts, and refuse a v1 name with 125 before asking locate.
func TestMachineSpellings(t *testing.T) {
	c := startChain(t)
	accepted := want{exit: 0, locate: true, server: counts([]string{"download"})}
	refused := want{exit: 125, locate: false, server: counts(nil)}
	tests := []struct {
		spelling string
		want     want
	}{
		{spelling: machine, want: accepted},
		{spelling: "ndt-" + machine, want: accepted},
		{spelling: strings.ToUpper(machine), want: accepted},
		{spelling: machine + "-d9h6", want: accepted},
		{spelling: "mlab1.lga03.measurement-lab.org", want: refused},
		{spelling: "mlab1-lga03.measurement-lab.org", want: refused},
	}
	for _, tt := range tests {
		t.Run(tt.spelling, func(t *testing.T) {
			c.expect(t, shellProbe(tt.spelling, "monitoring-token -machine="+tt.spelling+" -env-name=SERVICE_URL -- ndt7-client -quiet"), tt.want)
		})
	}
}

// TestFullProbe runs the README's full ndt7 probe (issue 14): download and
// upload against the same machine from one locate answer. The server must
// accept both as monitoring; refusing either direction fails the probe.
func TestFullProbe(t *testing.T) {
	c := startChain(t)
	full := fixtureProbes(t, c)["full-probe"]
	line := full.argv[2]
	own, command, ok := strings.Cut(line, " -- ")
	if !ok {
		t.Fatalf("full probe %q has no command", line)
	}
	tests := []struct {
		name string
		line string
		want want
	}{
		{
			name: "as in the README",
			line: line,
			want: want{exit: 0, locate: true, server: counts([]string{"download", "upload"})},
		},
		{
			// The download passes; the upload's token is refused.
			name: "upload refused",
			line: own + " -- tamper corrupt-signature UL -- " + command,
			want: want{exit: exitFailed, locate: true, server: counts([]string{"download"}, "upload "+reasonSignature)},
		},
		{
			// The download's token is refused, so the upload never
			// starts.
			name: "download refused",
			line: own + " -- tamper drop-token DL -- " + command,
			want: want{exit: exitFailed, locate: true, server: counts(nil, "download "+reasonMissing)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.expect(t, shellProbe(tt.name, tt.line), tt.want)
		})
	}
}
