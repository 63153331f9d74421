package registry

import (
	"encoding/json"
	"testing"

	"github.com/hashicorp/raft"
)

// logOp is a raft log entry of a test: the op of a command, or "" for a
// leader's no-op, written at term.
type logOp struct {
	op   Op
	term uint64
}

// logOf writes entries to a raft log in memory, from index 1 on.
func logOf(t *testing.T, entries ...logOp) *raft.InmemStore {
	t.Helper()
	s := raft.NewInmemStore()
	for i, e := range entries {
		if err := s.StoreLog(entry(t, uint64(i+1), e.term, e.op)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func entry(t *testing.T, index, term uint64, op Op) *raft.Log {
	t.Helper()
	if op == "" {
		return &raft.Log{Index: index, Term: term, Type: raft.LogNoop}
	}
	data, err := json.Marshal(&Envelope{V: 1, Op: op, Body: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: index, Term: term, Type: raft.LogCommand, Data: data}
}

// TestReplayAwaitsTheBundlesOfTheLog: a node that restarts with policy
// bundles in its raft log past its snapshot has them once it has applied
// the last; one the leader replaced, never committed, is not awaited, the
// ones before it are.
func TestReplayAwaitsTheBundlesOfTheLog(t *testing.T) {
	logs := logOf(t,
		logOp{OpPolicyPublish, 1}, // 1: in the snapshot
		logOp{OpCertRevoke, 1},    // 2: the snapshot's last command
		logOp{OpPolicyPublish, 1}, // 3
		logOp{OpNodeJoin, 2},      // 4
		logOp{OpPolicyPublish, 2}, // 5
		logOp{"", 3},              // 6: a leader's no-op
	)
	p, err := scanReplay(logs, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []logEntry{{3, 1}, {5, 2}}; len(p.pending) != 2 || p.pending[0] != want[0] || p.pending[1] != want[1] {
		t.Fatalf("pending %v; want %v: the bundles past the snapshot's index", p.pending, want)
	}
	for applied, want := range map[uint64]bool{2: false, 3: false, 4: false, 5: true, 6: true} {
		if got := p.caughtUp(applied, logs); got != want {
			t.Errorf("applied %d: caught up %v, want %v", applied, got, want)
		}
	}

	// A new leader that never had entries 5 on writes its own from 5.
	if err := logs.DeleteRange(5, 6); err != nil {
		t.Fatal(err)
	}
	if err := logs.StoreLog(entry(t, 5, 3, "")); err != nil {
		t.Fatal(err)
	}
	for applied, want := range map[uint64]bool{2: false, 3: true, 4: true} {
		if got := p.caughtUp(applied, logs); got != want {
			t.Errorf("entry 5 replaced, applied %d: caught up %v, want %v", applied, got, want)
		}
	}
	// And one that had none past the snapshot drops them all.
	if err := logs.DeleteRange(3, 5); err != nil {
		t.Fatal(err)
	}
	if !p.caughtUp(2, logs) {
		t.Error("every bundle past the snapshot dropped: not caught up")
	}
}

// TestReplayOfALogWithoutBundles: a log with no bundle past the snapshot,
// or no log at all, is caught up at once.
func TestReplayOfALogWithoutBundles(t *testing.T) {
	for name, logs := range map[string]*raft.InmemStore{
		"empty":           raft.NewInmemStore(),
		"in the snapshot": logOf(t, logOp{OpPolicyPublish, 1}, logOp{OpCertRevoke, 1}, logOp{"", 2}),
	} {
		p, err := scanReplay(logs, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.pending) != 0 || !p.caughtUp(2, logs) {
			t.Errorf("%s: pending %v, caught up %v; want none, and caught up", name, p.pending, p.caughtUp(2, logs))
		}
	}
}
