package registry_test

import (
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki/durable"
)

// TestANewRaftLogsDirectoryIsSynced: raft-boltdb syncs the log file it
// creates, not the directory that names it; until that is on disk a crash
// may lose the node's whole raft log, votes and terms with it, which raft
// must never forget. Opening a registry in a new data directory syncs it.
func TestANewRaftLogsDirectoryIsSynced(t *testing.T) {
	var mu sync.Mutex
	var synced []string
	defer durable.SetSyncForTest(func(f *os.File) error {
		mu.Lock()
		synced = append(synced, f.Name())
		mu.Unlock()
		return f.Sync()
	})()
	c := regtest.NewCluster(t, 1, 0, nil)
	n := c.WaitLeader()
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(synced, n.Config.DataDir) {
		t.Errorf("synced %q; want the data directory %q, which names the new raft log", synced, n.Config.DataDir)
	}
}
