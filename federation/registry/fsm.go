package registry

import (
	"encoding/json"
	"io"

	"github.com/hashicorp/raft"
)

// fsm adapts Store to raft.FSM. raft calls Apply, Snapshot and Restore from
// one goroutine; Persist runs concurrently with Apply, which is why
// Snapshot only freezes immutable pointers and Persist does the encoding.
type fsm struct{ s *Store }

var (
	_ raft.FSM         = (*fsm)(nil)
	_ raft.FSMSnapshot = (*fsmSnapshot)(nil)
)

// Apply decodes the envelope and applies it. A malformed entry is refused
// like any invalid command: it is in the log, and every replica refuses it.
func (f *fsm) Apply(l *raft.Log) any {
	var env Envelope
	if err := json.Unmarshal(l.Data, &env); err != nil {
		f.s.applied.Store(l.Index)
		return &Result{Index: l.Index, Err: Errorf(EInvalid, "malformed command: %v", err)}
	}
	return f.s.Apply(l.Index, &env)
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) { return &fsmSnapshot{f.s.freeze()}, nil }

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	return f.s.Restore(rc)
}

type fsmSnapshot struct{ frozen }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.WriteTo(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
