package node

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// TestADamagedAuditLogMakesTheNodeUnready: once the audit log refuses to
// sign a head over a damaged tree, no flow through the node can be
// checked by its auditors; the node says so in its readiness and status
// until the log is restored, rather than serve on unaudited.
func TestADamagedAuditLogMakesTheNodeUnready(t *testing.T) {
	n, _ := singleNode(t)
	flows(t, n, 5) // 10 entries
	ctx := context.Background()
	if _, err := n.audit.SignedHead(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Ready(); err != nil {
		t.Fatalf("before the damage: %v", err)
	}
	// The tree hash of [0,8), which the root of 10 reads, flipped on
	// disk (the audit log keeps its hashes in blocks of 64).
	x := tlog.StoredHashIndex(3, 0)
	err := n.store.DB().Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(auditBucket)).Bucket([]byte("hashblocks"))
		k := binary.BigEndian.AppendUint64(nil, uint64(x/64))
		v := append([]byte(nil), b.Get(k)...)
		at := x % 64 * tlog.HashSize
		if int64(len(v)) <= at {
			t.Fatalf("block %d holds %d bytes, want the hash at %d", x/64, len(v), at)
		}
		v[at] ^= 1
		return b.Put(k, v)
	})
	if err != nil {
		t.Fatal(err)
	}
	flows(t, n, 1)
	if _, err := n.audit.SignedHead(ctx); err == nil {
		t.Fatal("signed a head over a damaged tree")
	}
	err = n.Ready()
	if err == nil || !strings.Contains(err.Error(), "audit log") {
		t.Fatalf("after the damage: ready = %v; want not ready, naming the audit log", err)
	}
	if st := n.status(ctx).(Status); !strings.Contains(st.Ready, "audit log") {
		t.Errorf("status ready = %q; want it to name the audit log", st.Ready)
	}
}
