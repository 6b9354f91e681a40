package e2e

import "testing"

// TestBareNDT7Client runs the plain command line of issue 17: no -env-name,
// only the machine (and the key and locate, from the environment, as every
// probe here). monitoring-token must hand ndt7-client the machine's URL in
// the variable it reads (SERVICE_URL), so that the server counts a
// monitoring download and no connection leaves for public locate (the
// trap stands for it).
func TestBareNDT7Client(t *testing.T) {
	c := startChain(t)
	trapped := c.trapHits.Load()
	c.expect(t, shellProbe("bare ndt7-client", "monitoring-token -machine="+machine+" -- ndt7-client"),
		want{exit: 0, locate: true, server: counts([]string{"download"})})
	if n := c.trapHits.Load() - trapped; n != 0 {
		t.Errorf("ndt7-client made %d connections towards public locate: it was not given the machine's URL", n)
	}
}
