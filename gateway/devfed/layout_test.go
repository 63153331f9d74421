package devfed

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/pki/durable"
)

// TestInitRefusesConfigsNodesRefuse: Init checks every node's config as the
// node will, and writes nothing when one would be refused.
func TestInitRefusesConfigsNodesRefuse(t *testing.T) {
	nodes := func(api, raft int) []NodeAddr {
		return []NodeAddr{{Province: "51", Host: "p51", APIPort: api, RaftPort: raft}, {Province: "44", Host: "p44", APIPort: api, RaftPort: raft}, {Province: "33", Host: "p33", APIPort: api, RaftPort: raft}}
	}
	for _, tt := range []struct {
		name string
		opts InitOptions
		want string
	}{
		{"api port out of range", InitOptions{Nodes: nodes(70000, 0)}, "listen"},
		{"api port is the raft port", InitOptions{Nodes: nodes(8300, 8300)}, "raft.listen"},
		{"ops listener on the api port", InitOptions{Nodes: nodes(0, 0), OpsListen: "0.0.0.0:8443"}, "ops_listen"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Dir = filepath.Join(t.TempDir(), "fed")
			_, err := Init(tt.opts)
			if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), "node of 51") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Init: %v; want ErrOptions naming the node of 51 and %s", err, tt.want)
			}
			if _, err := os.Stat(tt.opts.Dir); err == nil {
				t.Errorf("Init wrote %s; want nothing written", tt.opts.Dir)
			}
		})
	}
}

// TestInitCutShortIsNoFederation: a federation directory whose init failed
// before every node's directory was written is not taken for one by
// ReadLayout, so that an init step with --keep does not keep it and leave
// a node without its config.
func TestInitCutShortIsNoFederation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fed")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The last node's directory cannot be made: a dangling link stands
	// where it goes, which clear neither refuses nor removes.
	if err := os.Symlink(filepath.Join(t.TempDir(), "gone"), filepath.Join(dir, "p33")); err != nil {
		t.Fatal(err)
	}
	_, err := Init(InitOptions{Dir: dir, Nodes: []NodeAddr{{Province: "51", Host: "p51"}, {Province: "44", Host: "p44"}, {Province: "33", Host: "p33"}}})
	if err == nil || !strings.Contains(err.Error(), "node of 33") {
		t.Fatalf("Init: %v; want it to fail on the node of 33", err)
	}
	if _, err := ReadLayout(dir); err == nil {
		t.Error("ReadLayout takes a federation whose init failed for a federation")
	}
}

// TestInitFailsWhenANodeConfigIsNotOnDisk: Init wrote the nodes' configs
// without syncing them, then the top genesis that says the federation is
// whole: after a crash an init step with --keep could keep a node with a
// torn config. A config that cannot be synced now fails Init, before the
// top genesis is written.
func TestInitFailsWhenANodeConfigIsNotOnDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fed")
	errSync := errors.New("injected sync failure")
	defer durable.SetSyncForTest(func(f *os.File) error {
		if strings.HasPrefix(filepath.Base(f.Name()), "."+ConfigFile+".tmp") {
			return errSync
		}
		return f.Sync()
	})()
	_, err := Init(InitOptions{Dir: dir, Nodes: []NodeAddr{{Province: "51", Host: "p51"}, {Province: "44", Host: "p44"}}})
	if !errors.Is(err, errSync) || !strings.Contains(err.Error(), ConfigFile) {
		t.Fatalf("Init: %v; want the sync failure, naming %s", err, ConfigFile)
	}
	if _, err := ReadLayout(dir); err == nil {
		t.Error("ReadLayout takes a federation whose node config was not synced for a federation")
	}
}
