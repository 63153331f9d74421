package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Freshness says how current a local read is. Every read the API serves
// carries it.
type Freshness struct {
	// AppliedIndex is the raft index of the last command applied here: the
	// state machine's (Store.AppliedIndex), not raft's, which counts entries
	// handed to the state machine before it applies them, and entries it
	// never sees, such as a consistent read's barrier.
	AppliedIndex uint64 `json:"applied_index"`
	// Leader is true on the leader, whose replica is current by definition
	// while it holds its lease.
	Leader bool `json:"leader"`
	// LastContact is when this node last heard from the leader (now, on the
	// leader; zero if never).
	LastContact time.Time `json:"last_contact,omitzero"`
	// SinceContact is how long ago that was.
	SinceContact Duration `json:"since_contact"`
	// Stale is set when the node has not heard from a leader for longer than
	// Config.StaleAfter: it keeps serving what it has, marked stale.
	Stale bool `json:"stale"`
}

// Freshness reports how current the local replica is.
func (r *Registry) Freshness() Freshness {
	now := time.Now()
	f := Freshness{AppliedIndex: r.store.AppliedIndex()}
	if r.raft.State() == raft.Leader {
		f.Leader, f.LastContact = true, now
		return f
	}
	f.LastContact = r.raft.LastContact()
	if f.LastContact.IsZero() {
		f.Stale = true
		return f
	}
	since := now.Sub(f.LastContact)
	f.SinceContact = Duration(since)
	f.Stale = since > r.cfg.StaleAfter
	return f
}

// Server is one raft server as the configuration lists it.
type Server struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
}

// Status describes the node's view of the registry, for `laborlink registry
// status` and the node's status page.
type Status struct {
	ID          string    `json:"id"`
	State       string    `json:"state"`
	LeaderID    string    `json:"leader_id,omitempty"`
	LeaderAddr  string    `json:"leader_addr,omitempty"`
	Term        uint64    `json:"term"`
	CommitIndex uint64    `json:"commit_index"`
	Freshness   Freshness `json:"freshness"`
	Servers     []Server  `json:"servers"`
	Initialized bool      `json:"initialized"`
	Domain      string    `json:"domain,omitempty"`
	Members     int       `json:"members"`
	Agreements  int       `json:"agreements"`
	Policy      int       `json:"policy_version"`
	// CommandLevel is the node release's CommandLevel. It is always
	// encoded: a status without it (0) comes from a release older than
	// command levels, which knows only the commands of level 1.
	CommandLevel int `json:"command_level"`
}

// Status returns the node's view of the registry.
func (r *Registry) Status() Status {
	addr, id := r.raft.LeaderWithID()
	st := Status{
		ID: r.cfg.NodeID, State: r.raft.State().String(), LeaderID: string(id), LeaderAddr: string(addr),
		Term: r.raft.CurrentTerm(), CommitIndex: r.raft.CommitIndex(), Freshness: r.Freshness(),
		Initialized: r.store.Initialized(), Domain: r.store.Domain(), Members: len(r.store.Members()),
		CommandLevel: r.commandLevel(),
	}
	st.Agreements = r.store.count()
	if p := r.store.Policy(); p != nil {
		st.Policy = p.Version
	}
	if f := r.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			st.Servers = append(st.Servers, Server{ID: string(s.ID), Address: string(s.Address), Voter: s.Suffrage == raft.Voter})
		}
	}
	return st
}

// Ready reports why the node should not yet be trusted with reads: the
// registry is not initialized or the node is stale. The node's /readyz
// calls it.
func (r *Registry) Ready() error {
	if !r.store.Initialized() {
		return Errorf(EUnavailable, "registry not ready: no state received yet (joined?)")
	}
	if f := r.Freshness(); f.Stale {
		if f.LastContact.IsZero() {
			return Errorf(EUnavailable, "registry stale: no contact with a leader yet")
		}
		return Errorf(EUnavailable, "registry stale: no contact with the leader for %s (applied index %d)", time.Duration(f.SinceContact).Round(time.Millisecond), f.AppliedIndex)
	}
	return nil
}

// TransferLeadership hands leadership to another voter (id) or, with id
// "", to the most up-to-date one; for maintenance of the leader's node.
func (r *Registry) TransferLeadership(ctx context.Context, id string) error {
	var f raft.Future
	if id == "" {
		f = r.raft.LeadershipTransfer()
	} else {
		var addr raft.ServerAddress
		for _, s := range r.Status().Servers {
			if s.ID == id {
				addr = raft.ServerAddress(s.Address)
			}
		}
		if addr == "" {
			return Errorf(ENotFound, "unknown raft server %q", id)
		}
		f = r.raft.LeadershipTransferToServer(raft.ServerID(id), addr)
	}
	if err := f.Error(); err != nil {
		return fmt.Errorf("leadership transfer: %w", err)
	}
	return nil
}
