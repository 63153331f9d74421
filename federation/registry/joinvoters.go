package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"

	"github.com/laborlink/laborlink/pki/durable"
)

// joinVotersFile is the file in DataDir holding the voters the seed of
// this node's last join listed, for as long as raft's configuration has
// not reached the node.
const joinVotersFile = "join-voters.json"

// joinVotersDoc is the content of joinVotersFile.
type joinVotersDoc struct {
	Voters []raft.ServerID `json:"voters"`
}

func (r *Registry) joinVotersPath() string { return filepath.Join(r.cfg.DataDir, joinVotersFile) }

// pinJoinVoters holds this node to voters until raft's configuration
// reaches it (joinedVoter). They go to disk before the join request is
// sent, so that a node restarted before the configuration came is held to
// them too (loadJoinVoters): otherwise any node of a trusted province
// could give it a configuration naming itself alone.
func (r *Registry) pinJoinVoters(voters []raft.ServerID) error {
	b, err := json.Marshal(joinVotersDoc{Voters: voters})
	if err != nil {
		return err
	}
	// Concurrent joins (the node's own and one an operator asked for)
	// leave on disk the voters held in memory.
	r.joinPin.Lock()
	defer r.joinPin.Unlock()
	if err := durable.WriteFile(r.joinVotersPath(), b, 0o600); err != nil {
		return fmt.Errorf("registry: pin the voters of the join: %w", err)
	}
	r.joinVoters.Store(&voters)
	return nil
}

// loadJoinVoters runs as the node opens, before the raft port takes
// requests. A node that knows no raft configuration yet takes the voters
// its last join pinned. One that knows a configuration removes the file:
// joinedVoter no longer asks, and the pinned voters, stale for good, must
// not hold the node should its raft data be emptied (to join afresh)
// while the file stayed. The removal is not synced: if a crash brings the
// file back, the next start removes it again.
func (r *Registry) loadJoinVoters() error {
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("registry: read raft's configuration: %w", err)
	}
	path := r.joinVotersPath()
	if len(f.Configuration().Servers) > 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("registry: remove %s, the voters of a join that raft's configuration has since reached: %w", path, err)
		}
		return nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registry: read %s, the voters this node asked to join: %w", path, err)
	}
	var doc joinVotersDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("registry: %s, the voters this node asked to join, is corrupt: %v; remove it and have the node join again", path, err)
	}
	if len(doc.Voters) == 0 {
		return fmt.Errorf("registry: %s, the voters this node asked to join, lists no voter; remove it and have the node join again", path)
	}
	r.joinVoters.Store(&doc.Voters)
	return nil
}
