package deploy_test

import (
	"strings"
	"testing"
	"time"
)

// TestManifestStopWindows checks what the operator guide says of every
// install: each gives the node the same time to stop before a hard kill,
// enough for the drain of 10s and the close of raft and the store after
// it.
func TestManifestStopWindows(t *testing.T) {
	windows := map[string]time.Duration{}
	for name, s := range readCompose(t) {
		if len(s.Command) > 0 && s.Command[0] == "node" {
			d, err := time.ParseDuration(s.StopGracePeriod)
			if err != nil {
				t.Fatalf("compose.yaml %s: stop_grace_period %q: %v", name, s.StopGracePeriod, err)
			}
			windows["compose.yaml "+name] = d
		}
	}
	for _, o := range readManifests(t) {
		if o.Kind == "StatefulSet" {
			windows[o.file+" "+o.Metadata.Name] = time.Duration(o.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
		}
	}
	stop := unitDirectives(t)["Service.TimeoutStopSec"]
	d, err := time.ParseDuration(strings.Join(stop, ""))
	if err != nil {
		t.Fatalf("systemd TimeoutStopSec=%v: %v", stop, err)
	}
	windows["laborlink.service"] = d
	want := 30 * time.Second // docs/operator-guide.md, "Graceful shutdown"
	for where, d := range windows {
		if d != want {
			t.Errorf("%s gives the node %s to stop; the operator guide says every install gives it %s", where, d, want)
		}
	}
	if len(windows) < 7 {
		t.Errorf("found %d installs' stop windows, want 3 compose nodes, 3 StatefulSets and the unit", len(windows))
	}
}
