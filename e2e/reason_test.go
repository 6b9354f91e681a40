package e2e

import (
	"strings"
	"testing"
)

// TestFailureLineSaysWhy: the real ndt7-client prints why it failed
// ("download failed: …") and then a summary longer than the ten lines the
// failure line quotes; the line keeps the reason, so a rejected token, a
// wrong machine name and a dead server read differently. (A token for
// another machine is refused with the same 401 as any rejected token:
// ndt7-client prints the same "bad handshake" for both, and only
// ndt-server's metrics say which.)
func TestFailureLineSaysWhy(t *testing.T) {
	c := startChain(t)
	const own = "monitoring-token -machine=" + machine + " -env-name=SERVICE_URL -- "
	tests := []struct {
		name, mode string
		server     tally
		reason     string // in the failure line
	}{
		{"rejected token", "corrupt-signature", counts(nil, "download "+reasonSignature), "download failed: websocket: bad handshake"},
		{"wrong machine name", "unresolvable-host", counts(nil), "no such host"},
		{"dead server", "dead-server", counts(nil), "connection refused"},
	}
	lines := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No -quiet: the summary follows the reason, as in M-Lab's
			// production line.
			p := shellProbe(tt.name, own+"tamper "+tt.mode+" SERVICE_URL -- ndt7-client -client-name=monitoring")
			w := want{exit: exitFailed, locate: true, server: tt.server}
			o := c.run(t, p, w)
			if err := o.check(w); err != nil {
				t.Fatal(err)
			}
			line := strings.TrimSpace(o.output)
			if strings.Count(line, "\n") != 0 || !strings.Contains(line, tt.reason) || !strings.Contains(line, "Retransmission") {
				t.Errorf("the failure line %q: want one line with %q and the summary's end", line, tt.reason)
			}
			for other, l := range lines {
				if l == line {
					t.Errorf("%s and %s give the same line %q", tt.name, other, line)
				}
			}
			lines[tt.name] = line
		})
	}
}
