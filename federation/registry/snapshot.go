package registry

import (
	"encoding/json"
	"fmt"
	"io"
)

// SnapshotVersion is the format version of snapshots and backups.
const SnapshotVersion = 1

// snapshotDoc is the snapshot and backup format: the whole state, versioned.
type snapshotDoc struct {
	V int `json:"v"`
	// Applied is the raft index of the last command applied to State, in
	// the log of the cluster that took it. A backup restored into a
	// cluster gets that cluster's index instead, and so do the indices
	// State holds (Registry.Restore, state.rebase).
	Applied uint64 `json:"applied"`
	State   *state `json:"state"`
}

// frozen is a point-in-time view of the state for Persist. Taking it copies
// the top-level maps only: records are immutable, so it is cheap and apply
// can go on while Persist encodes.
type frozen struct {
	applied uint64
	st      *state
}

func (s *Store) freeze() frozen {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := *s.st
	c.Members = cloneMap(s.st.Members)
	c.Nodes = cloneMap(s.st.Nodes)
	c.Agreements = cloneMap(s.st.Agreements)
	c.Revoked = cloneMap(s.st.Revoked)
	c.Issued = cloneMap(s.st.Issued)
	c.Retired = cloneMap(s.st.Retired)
	c.Policies = append([]*PolicyVersion(nil), s.st.Policies...)
	c.Nonces = make(map[string]*nonceEntry, len(s.st.Nonces))
	for k, v := range s.st.Nonces {
		e := *v
		c.Nonces[k] = &e
	}
	return frozen{applied: s.applied.Load(), st: &c}
}

func cloneMap[V any](m map[string]*V) map[string]*V {
	out := make(map[string]*V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// WriteTo writes the frozen state as a snapshot document.
func (f frozen) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	err := json.NewEncoder(cw).Encode(snapshotDoc{V: SnapshotVersion, Applied: f.applied, State: f.st})
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Backup writes the whole state to w in the snapshot format.
func (s *Store) Backup(w io.Writer) error {
	_, err := s.freeze().WriteTo(w)
	return err
}

// decodeSnapshot reads a snapshot or backup document.
func decodeSnapshot(r io.Reader) (*snapshotDoc, error) {
	var doc snapshotDoc
	dec := json.NewDecoder(r)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("read registry snapshot: %w", err)
	}
	if doc.V != SnapshotVersion {
		return nil, fmt.Errorf("registry snapshot format %d is not supported (want %d)", doc.V, SnapshotVersion)
	}
	if doc.State == nil {
		return nil, fmt.Errorf("registry snapshot has no state")
	}
	st := newState()
	merge(st, doc.State)
	if st.initialized() {
		if err := st.rebuildDerived(); err != nil {
			return nil, fmt.Errorf("registry snapshot: %w", err)
		}
	}
	doc.State = st
	return &doc, nil
}

// merge fills nil maps of a decoded state with empty ones: a snapshot of an
// older release has no retired CA keys.
func merge(dst, src *state) {
	members, nodes, ags, rev, issued, retired, nonces := dst.Members, dst.Nodes, dst.Agreements, dst.Revoked, dst.Issued, dst.Retired, dst.Nonces
	*dst = *src
	if dst.Members == nil {
		dst.Members = members
	}
	if dst.Nodes == nil {
		dst.Nodes = nodes
	}
	if dst.Agreements == nil {
		dst.Agreements = ags
	}
	if dst.Revoked == nil {
		dst.Revoked = rev
	}
	if dst.Issued == nil {
		dst.Issued = issued
	}
	if dst.Retired == nil {
		dst.Retired = retired
	}
	if dst.Nonces == nil {
		dst.Nonces = nonces
	}
}

// Restore replaces the whole state with a snapshot or backup document.
func (s *Store) Restore(r io.Reader) error {
	doc, err := decodeSnapshot(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = doc.State
	s.applied.Store(doc.Applied)
	s.publish()
	return nil
}
