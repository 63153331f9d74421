package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
)

// Backup writes a linearizable copy of the whole registry state to w, in the
// snapshot format.
func (r *Registry) Backup(ctx context.Context, w io.Writer) error {
	if err := r.Consistent(ctx); err != nil {
		return err
	}
	return r.store.Backup(w)
}

// Restore replaces the registry's state with a backup, on the leader only:
// a steward admin's request must reach the leader itself (Client.Restore
// finds it), because nothing else signs a backup. The restored state keeps
// this cluster's nodes (IDs and addresses), because raft keeps this
// cluster's configuration, and this cluster's applied index, the one raft
// installs the backup at: a backup can be restored into a fresh cluster.
// Everything else, members, agreements with their history, policies,
// revocations, comes from the backup. Use it for disaster recovery, not in
// normal operation: raft.Restore has the leader commit ahead of its
// followers until they install it.
func (r *Registry) Restore(ctx context.Context, backup io.Reader) error {
	if err := r.requireLeader(); err != nil {
		return err
	}
	data, err := io.ReadAll(backup)
	if err != nil {
		return fmt.Errorf("read backup: %w", err)
	}
	doc, err := decodeSnapshot(bytes.NewReader(data))
	if err != nil {
		return Errorf(EInvalid, "%v", err)
	}
	if !doc.State.initialized() {
		return Errorf(EInvalid, "the backup holds an uninitialized registry")
	}
	cur := r.store.freeze()
	if cur.st.initialized() && cur.st.Domain != doc.State.Domain {
		return Errorf(EInvalid, "the backup is of federation %q, this registry is %q", doc.State.Domain, cur.st.Domain)
	}
	doc.State.Nodes = cur.st.Nodes
	// The backup's applied index is of the log it was taken from, which
	// has nothing to do with this cluster's. raft installs the snapshot at
	// an index past its last one (restoreUserSnapshot): record that index
	// as applied, so that AppliedIndex goes on rising with this cluster's
	// log (Freshness, Consistent and the nodes' audit watermark count on
	// it). meta.Index asks raft for at least that index; should a write
	// slip in before raft takes the snapshot, it takes a later one, and
	// AppliedIndex is below raft's, as it is after any entry the state
	// machine does not see.
	at := r.raft.LastIndex() + 1
	var buf bytes.Buffer
	if _, err := (frozen{applied: at, st: doc.State}).WriteTo(&buf); err != nil {
		return err
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: at - 1, Size: int64(buf.Len())}
	if err := r.raft.Restore(meta, &buf, r.cfg.ApplyTimeout); err != nil {
		return fmt.Errorf("restore registry: %w", err)
	}
	return nil
}
