package registry_test

import (
	"os"
	"path/filepath"
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

// TestANewSnapshotsDirectoryIsSynced: raft makes the snapshots directory
// in the data directory and syncs it as it puts a snapshot in, but never
// the data directory that names it: a crash could then lose every
// snapshot, and with them the trust a node restarting cut off from the
// leader serves (snapshotTrust), or, once the log was compacted behind
// them, the registry's state. Opening a registry in a new data directory
// syncs it once the snapshots directory is in it.
func TestANewSnapshotsDirectoryIsSynced(t *testing.T) {
	var mu sync.Mutex
	named := map[string]bool{} // data directories synced while naming snapshots/
	defer durable.SetSyncForTest(func(f *os.File) error {
		if _, err := os.Stat(filepath.Join(f.Name(), "snapshots")); err == nil {
			mu.Lock()
			named[f.Name()] = true
			mu.Unlock()
		}
		return f.Sync()
	})()
	c := regtest.NewCluster(t, 1, 0, nil)
	n := c.WaitLeader()
	mu.Lock()
	defer mu.Unlock()
	if !named[n.Config.DataDir] {
		t.Errorf("the data directory %q was never synced with the snapshots directory in it", n.Config.DataDir)
	}
}
