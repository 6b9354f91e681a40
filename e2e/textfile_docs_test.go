package e2e

import (
	"strings"
	"testing"

	"github.com/monitoring-token/monitoring-token/internal/metrics/metricstest"
)

// The docs' node_exporter command: the block marked
// <!-- e2e: node_exporter --> holds it, with the textfile directory the
// docs' cron line writes to and the address below.
const (
	nodeExporterBlock    = "node_exporter"
	docsTextfileDir      = "/var/lib/node_exporter/textfile"
	docsNodeExporterAddr = "127.0.0.1:9100"
)

// TestNodeExporterCommandAsDocumented runs the docs' node_exporter command
// under sh, with only the directory and the port replaced by the test's,
// on a file monitoring-token wrote: the scrape must have no error and
// serve the probe's success.
func TestNodeExporterCommandAsDocumented(t *testing.T) {
	text := docBlockText(t, nodeExporterBlock)
	for _, s := range []string{docsTextfileDir, docsNodeExporterAddr} {
		if !strings.Contains(text, s) {
			t.Fatalf("the node_exporter block does not name %s:\n%s", s, text)
		}
	}
	r := newTextfileRun(t)
	if exit, _ := r.probe(t, "ndt7_mlab1-lga01", "-machine=mlab1-lga01.mlab-oti.measurement-lab.org", "--", "true"); exit != 0 {
		t.Fatalf("the probe exited %d", exit)
	}
	addr := freeAddr(t)
	line := strings.NewReplacer(docsTextfileDir, r.dir, docsNodeExporterAddr, addr).Replace(text)
	p, err := startProcess(t, "node_exporter", serviceLife, []string{"PATH=" + binDir + ":/usr/bin:/bin"}, "sh", "-c", line)
	if err != nil {
		t.Fatal(err)
	}
	n, err := waitNodeExporter(p, addr)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	families, err := n.scrape()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := gauge(families, "node_textfile_scrape_error"); !ok || v != 0 {
		t.Errorf("node_textfile_scrape_error = %v (present %v), want 0", v, ok)
	}
	if got := probeSeries(metricstest.Of(families))[""]["monitoring_probe_success"]; got != 1 {
		t.Errorf("monitoring_probe_success = %v, want 1; families: %v", got, len(families))
	}
}
