package registry_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki/durable"
)

// TestANewDataDirectoryIsSyncedWithWhatItNames: raft-boltdb syncs the log
// file it creates, and raft the snapshots directory as it puts a snapshot
// in, but neither the data directory that names them. Until that is on
// disk a crash may lose the node's whole raft log (votes and terms raft
// must never forget) or every snapshot (the trust a node restarting cut
// off from the leader serves, and, once the log is compacted behind them,
// the registry's state). Opening a registry in a new data directory syncs
// it once each is in it.
func TestANewDataDirectoryIsSyncedWithWhatItNames(t *testing.T) {
	var mu sync.Mutex
	named := map[string]map[string]bool{} // directory synced -> names it held then
	defer durable.SetSyncForTest(func(f *os.File) error {
		mu.Lock()
		defer mu.Unlock()
		for _, name := range []string{"raft.db", "snapshots"} {
			if _, err := os.Stat(filepath.Join(f.Name(), name)); err == nil {
				if named[f.Name()] == nil {
					named[f.Name()] = map[string]bool{}
				}
				named[f.Name()][name] = true
			}
		}
		return f.Sync()
	})()
	c := regtest.NewCluster(t, 1, 0, nil)
	n := c.WaitLeader()
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"raft.db", "snapshots"} {
		if !named[n.Config.DataDir][name] {
			t.Errorf("the data directory %q was never synced with %s in it", n.Config.DataDir, name)
		}
	}
}
