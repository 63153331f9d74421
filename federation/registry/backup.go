package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/laborlink/laborlink/pki"
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
// revocations, issuances, comes from the backup, except the raft indices
// it holds: they count the log the backup was taken from, so each is
// rebased to the index of the restore, which the state records as
// RestoredAt (rebase). Writes that reach the leader meanwhile wait until
// raft has installed the backup, and apply to the restored state. Use it
// for disaster recovery, not in normal operation: raft.Restore has the
// leader commit ahead of its followers until they install it.
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
	// Replicas of the previous release would drop what the rebase
	// records (restored_at, restore_id, bundles' indices) from their
	// snapshots, and their nodes would audit the restored history again.
	if err := levelRefusal(opRestore, restoreLevel, r.levelsOf(ctx, r.askLevel)); err != nil {
		return err
	}
	if err := r.checkVoters(ctx, doc.State); err != nil {
		return err
	}
	id, err := newRestoreID()
	if err != nil {
		return err
	}
	r.appends.Lock()
	defer r.appends.Unlock()
	return r.install(doc.State, id)
}

// checkVoters refuses a backup under which a raft voter of this cluster
// would be refused at the raft handshake (authorizePeer): its province is
// no member in the backup, or the backup lists no CA that issued the
// certificate it presents (a backup taken before the province joined or
// rotated its CA). Restored, the state would shut those voters out of
// raft, and without a majority the registry could commit nothing more,
// a restore to mend it included. Voters that cannot be asked for their
// certificate are not held against the backup: a restore is for a
// disaster, in which some may be gone.
func (r *Registry) checkVoters(ctx context.Context, st *state) error {
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return Errorf(EUnavailable, "read raft's voters: %v", err)
	}
	var out []string
	for _, v := range f.Configuration().Servers {
		if v.Suffrage != raft.Voter {
			continue
		}
		cert, err := r.presentedBy(ctx, v)
		if err != nil {
			continue
		}
		id, err := pki.IdentityFromCert(cert)
		if err != nil {
			continue
		}
		switch m := st.Members[id.Province]; {
		case m == nil:
			out = append(out, fmt.Sprintf("%s: province %s is not a member in the backup", v.ID, id.Province))
		case !m.issued(cert):
			out = append(out, fmt.Sprintf("%s: the backup lists no CA of province %s that issued its certificate (serial %s)", v.ID, id.Province, serialKey(cert.SerialNumber.Bytes())))
		}
	}
	if len(out) > 0 {
		return Errorf(EConflict, "the backup would shut raft voters of this cluster out of the registry: %s; restore a backup taken after they were admitted with their CAs, or remove them from raft first (laborlink registry remove)", strings.Join(out, "; "))
	}
	return nil
}

// install hands st, the state of a backup, to raft as the restore named id.
// It runs holding r.appends alone, so that no command or barrier of this
// node enters the log between reading this cluster's nodes and choosing
// the index, and raft installing the backup. raft installs a user snapshot
// one past its last index (restoreUserSnapshot) without telling the state
// machine or the caller which, and the rebase to that index must be in the
// snapshot, the same on every replica. An entry slipping in between would
// take the index the restore records, raft installing the backup past it;
// and a command raft had not committed on the leader would be aborted
// (ErrAbortedByRestore) and resubmitted, applied again where followers
// had applied it already.
func (r *Registry) install(st *state, id string) error {
	cur := r.store.freeze()
	if cur.st.initialized() && cur.st.Domain != st.Domain {
		return Errorf(EInvalid, "the backup is of federation %q, this registry is %q", st.Domain, cur.st.Domain)
	}
	st.Nodes = cur.st.Nodes
	// The backup's applied index is of the log it was taken from, which
	// has nothing to do with this cluster's: record the index raft
	// installs the snapshot at, one past its last, which meta.Index asks
	// for, so that AppliedIndex goes on rising with this cluster's log
	// (Freshness, Consistent and the nodes' audit watermark count on it).
	at := r.raft.LastIndex() + 1
	st.rebase(at, id)
	var buf bytes.Buffer
	if _, err := (frozen{applied: at, st: st}).WriteTo(&buf); err != nil {
		return err
	}
	if r.cfg.restoring != nil {
		r.cfg.restoring()
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: at - 1, Size: int64(buf.Len())}
	if err := r.raft.Restore(meta, &buf, r.cfg.ApplyTimeout); err != nil {
		return fmt.Errorf("restore registry: %w", err)
	}
	return nil
}

// holdAppends holds off a restore while a command or barrier enters the
// log and is applied, or waits for the restore under way; it returns the
// release. A restore aborts what raft has not committed and installs its
// snapshot past whatever entered the log after it chose its index
// (install).
func (r *Registry) holdAppends() (release func()) {
	if !r.appends.TryRLock() {
		if r.cfg.appendHeld != nil {
			r.cfg.appendHeld()
		}
		r.appends.RLock()
	}
	return r.appends.RUnlock
}

// rebase makes st, decoded from a backup, the state of a restore installed
// at index at of this cluster's log. The raft indices it holds (the Index of
// every agreement event, issuance, revocation, policy bundle and remembered
// nonce) count the log the backup was taken from: left as they are, a
// reader that follows this log by index (a node's audit watermark, a client
// waiting for a command's index) would take a restored event for a new one
// once this log passed it, or wait for an index this log has not reached.
// They become at, the index at which they entered this log, so that none is
// above RestoredAt and every command applied after the restore is above it;
// their order in a record's history, the bundles' versions and their times
// are the backup's. Records are replaced rather than changed, as apply
// does.
func (st *state) rebase(at uint64, id string) {
	st.RestoredAt, st.RestoreID = at, id
	for id, rec := range st.Agreements {
		c := rec.clone()
		for i := range c.History {
			c.History[i].Index = at
		}
		st.Agreements[id] = c
	}
	for k, is := range st.Issued {
		c := *is
		c.Index = at
		st.Issued[k] = &c
	}
	for k, r := range st.Revoked {
		c := *r
		c.Index = at
		st.Revoked[k] = &c
	}
	for i, p := range st.Policies {
		c := *p
		c.Index = at
		st.Policies[i] = &c
	}
	for k, n := range st.Nonces {
		c := *n
		c.Index = at
		st.Nonces[k] = &c
	}
}

// A restore is no command in the log, but it needs every node on a release
// that keeps what it records: restoreLevel, the level that added it, named
// opRestore in the refusal.
const (
	restoreLevel = 5
	opRestore    = Op("registry.restore")
)

// newRestoreID is a restore's random id (State.RestoreID).
func newRestoreID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("restore id: %w", err)
	}
	return hex.EncodeToString(b), nil
}
