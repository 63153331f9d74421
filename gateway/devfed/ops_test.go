package devfed

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStartedNodesServeOps: each node Start runs has an ops listener of
// its own, which answers the probes and /metrics, and PrintReady shows
// its address with the commands to paste. The nodes ran none, so what the
// operator guide says of the probes could not be tried on them.
func TestStartedNodesServeOps(t *testing.T) {
	f, err := Start(context.Background(), Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	client := &http.Client{Timeout: 10 * time.Second}
	seen := map[string]string{}
	for _, p := range f.Provinces {
		u := f.OpsURL(p)
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("node %s: ops listener %q, want http://127.0.0.1:PORT", p, u)
		}
		if other, ok := seen[u]; ok {
			t.Errorf("nodes %s and %s share the ops listener %s", other, p, u)
		}
		seen[u] = p
		for path, want := range map[string]string{"/readyz": "ready", "/metrics": "laborlink_"} {
			resp, err := client.Get(u + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
				t.Errorf("node %s: GET %s: %s, body without %q", p, path, resp.Status, want)
			}
		}
	}
	// What Seed fills in, which the printed commands name.
	f.Traffic = Traffic{Agreements: []string{"AGR-1"}, TransferRef: "REF-1"}
	var out bytes.Buffer
	f.PrintReady(&out, time.Second)
	for _, want := range []string{"ops " + f.OpsURL("51"), "ops " + f.OpsURL("44"), "ops " + f.OpsURL("33"), "\ncurl " + f.OpsURL("51") + "/metrics\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("PrintReady does not print %q:\n%s", want, out.String())
		}
	}
}
