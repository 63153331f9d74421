package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/laborlink/laborlink/gateway/boltfile"
	"github.com/laborlink/laborlink/gateway/boltfile/bolttest"
)

// TestTruncatedRaftLogIsRefused: the registry's raft.db cut short is
// refused by name before the registry's raft-boltdb opens it, which would
// read past the end of the file and kill the process.
func TestTruncatedRaftLogIsRefused(t *testing.T) {
	dataDir := t.TempDir()
	path := filepath.Join(dataDir, "raft", "raft.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	bs, err := raftboltdb.NewBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := make([]*raft.Log, 3000)
	for i := range logs {
		logs[i] = &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: make([]byte, 300)}
	}
	if err := bs.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := bs.Close(); err != nil {
		t.Fatal(err)
	}
	bolttest.Truncate(t, path, bolttest.Half)
	n := &Node{cfg: Config{DataDir: dataDir}}
	reg, err := n.openRegistry()
	if err == nil {
		reg.Close()
		t.Fatal("a raft.db cut to half its size opened")
	}
	if !errors.Is(err, boltfile.ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "restore it from a backup") {
		t.Errorf("err = %v; want ErrDamaged naming %s and what to do", err, path)
	}
}
