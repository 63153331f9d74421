package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// replayPoll is how often a node that started with policy bundles in its
// raft log past its snapshot checks whether it has applied them: only
// until it has, a few heartbeats after the leader answers.
const replayPoll = 20 * time.Millisecond

// logEntry names one raft log entry: an index, and the term of the leader
// that wrote it, which tells it from an entry written at the same index by
// another leader.
type logEntry struct{ index, term uint64 }

// replay follows the policy.publish commands of the raft log a node holds
// on disk when it starts, past the state its snapshot restored. raft
// applies them only once a leader tells the node they are committed (a
// crash took no snapshot holding them): until then the replica holds an
// older bundle than the one the node will apply, and decisions made with
// it could let through what the newer bundle denies.
type replay struct {
	// pending are the commands in log order.
	pending []logEntry
	// done is closed once they are applied (replayed).
	done chan struct{}
}

// scanReplay lists the policy.publish commands of logs after index
// applied, the last command the snapshot restored.
func scanReplay(logs raft.LogStore, applied uint64) (*replay, error) {
	p := &replay{done: make(chan struct{})}
	first, err := logs.FirstIndex()
	if err != nil {
		return nil, fmt.Errorf("registry raft log: first index: %w", err)
	}
	last, err := logs.LastIndex()
	if err != nil {
		return nil, fmt.Errorf("registry raft log: last index: %w", err)
	}
	for i := max(first, applied+1); first != 0 && i <= last; i++ {
		var l raft.Log
		if err := logs.GetLog(i, &l); errors.Is(err, raft.ErrLogNotFound) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("registry raft log: entry %d: %w", i, err)
		}
		if publishesPolicy(&l) {
			p.pending = append(p.pending, logEntry{l.Index, l.Term})
		}
	}
	return p, nil
}

// publishesPolicy reports whether l is a policy.publish command. An entry
// that does not decode is none: apply refuses it.
func publishesPolicy(l *raft.Log) bool {
	if l.Type != raft.LogCommand {
		return false
	}
	var head struct {
		Op Op `json:"op"`
	}
	return json.Unmarshal(l.Data, &head) == nil && head.Op == OpPolicyPublish
}

// caughtUp reports whether the replica, having applied the commands up to
// index applied, holds every bundle of the pending commands it ever will.
// A command still in the log as it was is awaited: it may yet be
// committed. One the log no longer holds as it was was never committed:
// a new leader replaced the entries from it on (or dropped them), and raft
// never applies it; the commands before it are then the ones to await.
// One compacted away after it was applied is behind applied already.
func (p *replay) caughtUp(applied uint64, logs raft.LogStore) bool {
	for _, e := range slices.Backward(p.pending) {
		if applied >= e.index {
			return true
		}
		var l raft.Log
		err := logs.GetLog(e.index, &l)
		if err == nil && l.Term == e.term {
			return false
		}
		if err != nil && !errors.Is(err, raft.ErrLogNotFound) {
			return false // unreadable for now: asked again at the next poll
		}
	}
	return true
}

// followReplay lists the bundles the raft log holds past the snapshot
// raft restored, and closes PolicyReplayed's channel once the replica
// holds them: at once when it does already, else from a goroutine of bg.
func (r *Registry) followReplay() error {
	p, err := scanReplay(r.bolt, r.store.AppliedIndex())
	if err != nil {
		return err
	}
	r.replay = p
	if p.caughtUp(r.store.AppliedIndex(), r.bolt) {
		close(p.done)
		return nil
	}
	r.bg.Go(func() { r.awaitReplay(p) })
	return nil
}

// awaitReplay closes p.done once the replica has caught up with the
// bundles of p, or returns when the registry stops.
func (r *Registry) awaitReplay(p *replay) {
	t := time.NewTicker(replayPoll)
	defer t.Stop()
	for !p.caughtUp(r.store.AppliedIndex(), r.bolt) {
		select {
		case <-t.C:
		case <-r.stop:
			return
		}
	}
	close(p.done)
}

// PolicyReplayed returns a channel closed once the replica holds every
// federation policy bundle of the raft log this node held on disk when it
// started, past its snapshot: at once when the log held none (as after a
// clean stop, whose snapshot holds them), else once the leader has told
// the node they are committed and the replica has applied them, or has
// replaced them, never committed, with its own entries. Until then the
// replica's bundle (Store.Policy) may be older than the one it is about to
// apply. A node that never hears from a leader never sees it closed.
func (r *Registry) PolicyReplayed() <-chan struct{} { return r.replay.done }
