package registry

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/laborlink/laborlink/pki"
)

// MinHeartbeatTimeout is the shortest HeartbeatTimeout raft accepts.
const MinHeartbeatTimeout = 5 * time.Millisecond

// Config configures a Registry node. Field comments are the operator
// documentation; DefaultConfig gives the defaults named there.
type Config struct {
	// NodeID is the raft server ID: the short form of the node certificate's
	// identity, e.g. "p51/node/gw-1". Required.
	NodeID string
	// DataDir holds raft.db (log and stable store, bbolt), snapshots/ and,
	// while a join waits for raft's configuration, join-voters.json.
	// Required.
	DataDir string
	// RaftAddr is the host:port other nodes dial for raft, which raft
	// knows this node by. Required.
	RaftAddr string
	// RaftListen is the host:port the raft stream layer binds, when that is
	// not RaftAddr: a wildcard such as 0.0.0.0:8300, or an address behind
	// NAT. Default RaftAddr.
	RaftListen string
	// APIAddr is the host:port of this node's HTTPS API, where other nodes
	// forward writes. Required.
	APIAddr string
	// TLS is the node's certificate and verifier (pki), used on the raft port
	// both ways and to forward writes. Its Verifier should consult the
	// registry's revoked serials (Registry.IsRevoked). Required.
	TLS *pki.TLS
	// Genesis is set on the configured voters only: the first of them to
	// lead writes it as the first command. Others join with Registry.Join.
	Genesis *Genesis
	// TrustedProvinces are the provinces whose nodes may connect on the raft
	// port before this node has learnt the member list (a node about to
	// join). Once the registry holds members, only they are accepted.
	TrustedProvinces []string

	// HeartbeatTimeout and ElectionTimeout: how long a follower waits for the
	// leader before calling an election. Default 1s each, sized for links
	// between provinces with tens of milliseconds of round trip.
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// LeaderLeaseTimeout: how long a leader stays leader without hearing a
	// quorum. Default 500ms.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout: how long the leader waits to batch entries. Default 50ms.
	CommitTimeout time.Duration
	// ApplyTimeout bounds a write, including finding a leader. Default 10s.
	ApplyTimeout time.Duration
	// StaleAfter: a node that has not heard from the leader for this long
	// reports itself stale on reads, status and readiness. Default 5s.
	StaleAfter time.Duration
	// SnapshotInterval and SnapshotThreshold: how often raft checks, and how
	// many new entries make it take a snapshot. Default 2m and 1024.
	SnapshotInterval  time.Duration
	SnapshotThreshold uint64
	// TrailingLogs: entries kept after a snapshot, so a follower slightly
	// behind catches up from the log. Default 10240.
	TrailingLogs uint64
	// RetainSnapshots: snapshots kept on disk. Default 3.
	RetainSnapshots int

	// Logger receives the registry's and raft's logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock stamping writes on the leader, and timing how long
	// it goes by the command levels nodes reported. Default time.Now.
	Now func() time.Time

	// commandLevel, when positive, is the command level the node reports
	// instead of CommandLevel: tests set it to play a node of an older
	// release.
	commandLevel int
	// levelAsked, if not nil, is told each node this one asks for its
	// command level: tests count the round trips levelCache saves.
	levelAsked func(id string)
	// restoring, if not nil, is called by Restore once it has chosen the
	// index of the restore, just before it hands the backup to raft: tests
	// race a write against the restore there.
	restoring func()
	// appendHeld, if not nil, is called when a command or barrier must wait
	// for a restore under way before it enters the raft log.
	appendHeld func()
}

// RaftPath is the file under DataDir where raft keeps its log and stable
// store (bbolt).
func (c Config) RaftPath() string { return filepath.Join(c.DataDir, "raft.db") }

// DefaultConfig returns the defaults for a production node; callers set
// the required fields.
func DefaultConfig() Config {
	return Config{
		HeartbeatTimeout:   time.Second,
		ElectionTimeout:    time.Second,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		ApplyTimeout:       10 * time.Second,
		StaleAfter:         5 * time.Second,
		SnapshotInterval:   2 * time.Minute,
		SnapshotThreshold:  1024,
		TrailingLogs:       10240,
		RetainSnapshots:    3,
	}
}

// Validate reports the first problem, naming the field.
func (c *Config) Validate() error {
	if _, err := parseNodeID(c.NodeID); err != nil {
		return fmt.Errorf("registry config: NodeID: %w", err)
	}
	switch {
	case c.DataDir == "":
		return errors.New("registry config: DataDir is required: where raft keeps its log and snapshots")
	case c.TLS == nil:
		return errors.New("registry config: TLS is required: the node's certificate (pki.TLS)")
	case c.HeartbeatTimeout < MinHeartbeatTimeout:
		return fmt.Errorf("registry config: HeartbeatTimeout %s is too short (at least %s)", c.HeartbeatTimeout, MinHeartbeatTimeout)
	case c.ElectionTimeout < c.HeartbeatTimeout:
		return fmt.Errorf("registry config: ElectionTimeout %s must be at least HeartbeatTimeout %s", c.ElectionTimeout, c.HeartbeatTimeout)
	case c.LeaderLeaseTimeout <= 0 || c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return fmt.Errorf("registry config: LeaderLeaseTimeout %s must be positive and at most HeartbeatTimeout %s", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	case c.CommitTimeout <= 0:
		return errors.New("registry config: CommitTimeout must be positive")
	case c.ApplyTimeout <= 0:
		return errors.New("registry config: ApplyTimeout must be positive")
	case c.StaleAfter < c.HeartbeatTimeout:
		return fmt.Errorf("registry config: StaleAfter %s must be at least HeartbeatTimeout %s, or a healthy follower would look stale", c.StaleAfter, c.HeartbeatTimeout)
	case c.RetainSnapshots < 1:
		return errors.New("registry config: RetainSnapshots must be at least 1")
	case c.SnapshotThreshold == 0:
		return errors.New("registry config: SnapshotThreshold must be positive")
	}
	for _, a := range []struct{ name, addr string }{{"RaftAddr", c.RaftAddr}, {"RaftListen", c.RaftListen}, {"APIAddr", c.APIAddr}} {
		if a.name == "RaftListen" && a.addr == "" {
			continue // RaftAddr, checked already
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("registry config: %s %q is not host:port", a.name, a.addr)
		}
	}
	if c.Genesis != nil && len(c.Genesis.Voters)%2 == 0 {
		return fmt.Errorf("registry config: Genesis.Voters has %d nodes; configure an odd number (3 or 5) so a majority survives a failure", len(c.Genesis.Voters))
	}
	return nil
}

func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}
