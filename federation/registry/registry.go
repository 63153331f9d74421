package registry

import (
	"bufio"
	"cmp"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/durable"
)

// Registry is one node's replica of the federation registry: a Store driven
// by raft over mutual TLS. Reads are served from the local replica and say
// how fresh they are; writes go to the leader, forwarded over mTLS from any
// node. All methods are safe for concurrent use.
type Registry struct {
	cfg    Config
	log    *slog.Logger
	store  *Store
	raft   *raft.Raft
	trans  *raft.NetworkTransport
	stream *streamLayer
	bolt   *raftboltdb.BoltStore
	client *http.Client
	levels *levelCache
	// appends orders what this node appends to the raft log as leader
	// with a restore: commands (with the reconfigurations that follow
	// them) and barriers hold it shared until they are applied, a restore
	// holds it alone (holdAppends, Restore).
	appends sync.RWMutex
	// revokes holds a cert.revoke on the leader from its check
	// (checkRevokedAgain) to its apply, so that two revocations of one
	// serial submitted at once are not both let in.
	revokes sync.Mutex
	// started is raft once it runs, for authorizePeer: the stream layer
	// accepts connections before raft is made.
	started atomic.Pointer[raft.Raft]
	// joinVoters are the voters the seed this node joined through listed,
	// set by Join and, after a restart, by Open (from joinVotersFile):
	// until raft's configuration reaches the node, only they may send it
	// raft requests (see sendsRequests).
	joinVoters atomic.Pointer[[]raft.ServerID]
	// joinPin serializes pinJoinVoters.
	joinPin sync.Mutex
	stop    chan struct{}
	done    chan struct{}
	// bg runs snapshotTrust and awaitReplay, until stop.
	bg sync.WaitGroup
	// replay follows the policy bundles of the raft log the node held
	// when it started (PolicyReplayed).
	replay *replay
}

// Open starts a registry node. A node with Genesis and no raft state
// bootstraps the configured voters; any other node restarts from its state,
// or waits to be added (Join).
func Open(cfg Config) (*Registry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Registry{cfg: cfg, log: cfg.logger().With("component", "registry", "node", cfg.NodeID), store: NewStore(),
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := durable.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("registry data dir: %w", err)
	}
	// The node's key signs its join (Join), with the pair in use then:
	// checked here so that a key that cannot sign stops the start.
	if _, err := nodeSigner(cfg.TLS); err != nil {
		return nil, err
	}
	var err error
	if r.client, err = forwardClient(cfg.TLS); err != nil {
		return nil, err
	}
	if err := r.openRaft(); err != nil {
		r.closeStores()
		return nil, err
	}
	if err := r.followReplay(); err != nil {
		r.raft.Shutdown().Error()
		r.trans.Close()
		r.closeStores()
		return nil, err
	}
	r.levels = newLevelCache(cfg.now, r.stream.peerEpoch)
	go r.initWhenLeader()
	r.bg.Go(r.snapshotTrust)
	return r, nil
}

// snapshotTrust takes a snapshot soon after each change to whom the
// registry trusts (a revocation, an expelled member, a CA listed or
// retired). raft re-applies log entries past the last snapshot only once
// a leader answers, and Close's snapshot is not taken after a crash: a
// node that crashed and restarts cut off from the leader would serve the
// trust of its last snapshot, taking certificates revoked since. Changes
// that come together (a burst of commands) share one snapshot; the
// registry's state is small, so each costs little.
func (r *Registry) snapshotTrust() {
	const settle = 200 * time.Millisecond
	changed := r.store.trustChanged()
	for {
		select {
		case <-changed:
		case <-r.stop:
			return
		}
		select {
		case <-time.After(settle):
		case <-r.stop:
			return
		}
		// Changes from here on, which the snapshot may not hold, make
		// another round.
		changed = r.store.trustChanged()
		err := r.raft.Snapshot().Error()
		if err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) && !errors.Is(err, raft.ErrRaftShutdown) {
			r.log.Warn("snapshot after a change of trust", "err", err)
		}
	}
}

func nodeSigner(t *pki.TLS) (*pki.Signer, error) {
	s, err := t.KeyPair.Signer()
	if err != nil {
		return nil, fmt.Errorf("registry: node key: %w", err)
	}
	return s, nil
}

// snapshotsDir is the directory in DataDir where raft's file snapshot
// store keeps the snapshots.
const snapshotsDir = "snapshots"

func (r *Registry) openRaft() error {
	cfg := r.cfg
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: &slogWriter{r.log}})
	var err error
	if r.stream, err = newStreamLayer(cmp.Or(cfg.RaftListen, cfg.RaftAddr), cfg.RaftAddr, cfg.TLS, r.authorizePeer, r.sendsRequests, r.store.trustChanged, r.log); err != nil {
		return err
	}
	r.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: r.stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: hlog})
	_, err = os.Lstat(cfg.RaftPath())
	created := errors.Is(err, fs.ErrNotExist)
	if r.bolt, err = raftboltdb.NewBoltStore(cfg.RaftPath()); err != nil {
		return fmt.Errorf("registry raft store: %w", err)
	}
	if created {
		// raft-boltdb syncs the file it creates, not the directory naming it.
		if err := durable.SyncDir(cfg.DataDir); err != nil {
			return fmt.Errorf("registry raft store %s: sync the directory of the new file: %w", cfg.RaftPath(), err)
		}
	}
	// raft makes the snapshots directory and syncs it as it puts a
	// snapshot in, never the data directory naming it: made here, it is.
	if err := durable.MkdirAll(filepath.Join(cfg.DataDir, snapshotsDir), 0o700); err != nil {
		return fmt.Errorf("registry snapshots: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.RetainSnapshots, hlog)
	if err != nil {
		return fmt.Errorf("registry snapshots: %w", err)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout, rc.ElectionTimeout = cfg.HeartbeatTimeout, cfg.ElectionTimeout
	rc.LeaderLeaseTimeout, rc.CommitTimeout = cfg.LeaderLeaseTimeout, cfg.CommitTimeout
	rc.SnapshotInterval, rc.SnapshotThreshold, rc.TrailingLogs = cfg.SnapshotInterval, cfg.SnapshotThreshold, cfg.TrailingLogs
	rc.Logger = hlog
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("registry raft config: %w", err)
	}
	existing, err := raft.HasExistingState(r.bolt, r.bolt, snaps)
	if err != nil {
		return err
	}
	if r.raft, err = raft.NewRaft(rc, &fsm{r.store}, r.bolt, r.bolt, snaps, r.trans); err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	if err := r.loadJoinVoters(); err != nil {
		r.raft.Shutdown().Error()
		return err
	}
	r.started.Store(r.raft)
	if !existing && cfg.Genesis != nil {
		var servers []raft.Server
		for _, v := range cfg.Genesis.Voters {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(v.ID), Address: raft.ServerAddress(v.RaftAddr)})
		}
		if err := r.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fmt.Errorf("bootstrap registry: %w", err)
		}
	}
	return nil
}

// initWhenLeader writes the genesis command once this node leads an
// uninitialized registry. Every configured voter may try; apply keeps the
// first. A genesis apply refuses (roots or CA certificates that do not
// parse, a voter ID of the wrong form) leaves the registry uninitialized
// for good, so the refusal is logged: readiness only says no state came.
func (r *Registry) initWhenLeader() {
	defer close(r.done)
	if r.cfg.Genesis == nil {
		return
	}
	for {
		select {
		case <-r.stop:
			return
		case isLeader := <-r.raft.LeaderCh():
			if !isLeader || r.store.Initialized() {
				continue
			}
			env, err := NewEnvelope(OpInit, r.cfg.Genesis)
			var res *Result
			if err == nil {
				res, err = r.applyLocal(env)
			}
			// Another voter's genesis applied first (EConflict): nothing is wrong.
			if err == nil && res.Err != nil && res.Err.Code != EConflict {
				err = res.Err
			}
			if err != nil {
				r.log.Warn("registry genesis not written", "err", err)
			}
		}
	}
}

// authorizePeer admits a raft peer presenting leaf: a node of a member
// province, through a CA the registry lists for it now (or, before the
// member list is known, of a trusted province). The registry checks this
// itself, whatever the node's pki.Verifier was given, since raft is its
// own: the stream layer asks at each handshake and again after each change
// of trust, for the connections already open.
//
// A peer that dials this node (inbound) sends it raft requests, which only
// a leader or a candidate sends: once this node knows a raft configuration
// the peer must be a voter in it. hashicorp/raft takes AppendEntries and
// InstallSnapshot from any peer claiming a higher term, and a snapshot is
// state no signature covers, so a node of a member province that is no
// voter (or never joined) must not reach raft at all. A node that knows no
// configuration yet, one waiting to be added, takes the leader that adds
// it on the rules above.
func (r *Registry) authorizePeer(id pki.Identity, leaf *x509.Certificate, inbound bool) error {
	if id.Kind != pki.KindNode {
		return fmt.Errorf("raft peer %s is not a node", id)
	}
	if inbound {
		if err := r.sendsRequests(id); err != nil {
			return err
		}
	}
	if r.store.Initialized() {
		if !r.store.IsMember(id.Province) {
			return fmt.Errorf("raft peer %s: province %s is not a member of the federation", id, id.Province)
		}
		if !r.store.listsIssuerOf(id.Province, leaf) {
			return fmt.Errorf("raft peer %s: its certificate (serial %s) was not issued by a CA the registry lists for province %s: it was rotated away or never admitted",
				id, serialKey(leaf.SerialNumber.Bytes()), id.Province)
		}
		return nil
	}
	if !slices.Contains(r.cfg.TrustedProvinces, id.Province) && !r.genesisMember(id.Province) {
		return fmt.Errorf("raft peer %s: province %s is not trusted before the registry is known", id, id.Province)
	}
	return nil
}

// sendsRequests refuses a peer that may not send this node raft requests:
// one that is not a voter of the raft configuration this node knows.
func (r *Registry) sendsRequests(id pki.Identity) error {
	rf := r.started.Load()
	if rf == nil {
		// The transport reads requests before raft runs, to hand them over
		// once it does: a peer cannot be told from a voter yet, and tries
		// again.
		return fmt.Errorf("raft peer %s: this node's raft is not running yet", id)
	}
	servers := rf.GetConfiguration().Configuration().Servers
	if len(servers) == 0 {
		return r.joinedVoter(id)
	}
	if slices.ContainsFunc(servers, func(s raft.Server) bool { return s.ID == raft.ServerID(id.String()) && s.Suffrage == raft.Voter }) {
		return nil
	}
	return fmt.Errorf("raft peer %s is not a voter of this node's raft configuration: only voters lead or stand for election, so only they send raft requests", id)
}

// joinedVoter refuses a peer that is not among the voters the seed of
// this node's join listed, when it asked to join and knows no raft
// configuration yet. Any node of a trusted province passes the handshake
// then, and the first snapshot it sent would give this node a
// configuration naming that node alone, which would then lock the real
// leader out. The voters are kept on disk until the configuration comes,
// so a node restarted before then is held to them still (loadJoinVoters);
// a node that never asked to join has nothing to hold peers to.
func (r *Registry) joinedVoter(id pki.Identity) error {
	voters := r.joinVoters.Load()
	if voters == nil || slices.Contains(*voters, raft.ServerID(id.String())) {
		return nil
	}
	return fmt.Errorf("raft peer %s is not a voter of the registry this node asked to join (its seed listed %v): only voters send raft requests", id, *voters)
}

func (r *Registry) genesisMember(p string) bool {
	return r.cfg.Genesis != nil && slices.ContainsFunc(r.cfg.Genesis.Members, func(m MemberSpec) bool { return m.Province == p })
}

// Close stops the node: raft, the transport and the stores. It first takes a
// snapshot, because raft re-applies log entries past the last snapshot only
// once it hears from a leader: with the snapshot, a node that restarts
// serves the state it had at once, even while the leader is unreachable.
func (r *Registry) Close() error {
	close(r.stop)
	r.bg.Wait()
	if err := r.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		r.log.Warn("snapshot at shutdown", "err", err)
	}
	err := r.raft.Shutdown().Error()
	<-r.done
	if e := r.trans.Close(); err == nil {
		err = e
	}
	r.closeStores()
	return err
}

func (r *Registry) closeStores() {
	if r.stream != nil {
		r.stream.Close()
	}
	if r.bolt != nil {
		r.bolt.Close()
	}
}

// Store is the local replica, for queries. It never blocks on the network.
func (r *Registry) Store() *Store { return r.store }

// Covers answers from the local replica which agreements cover a record;
// see Index.Covers. It is lock-free.
func (r *Registry) Covers(origin, dest string, rt contracts.RecordType, p contracts.Purpose, t time.Time) []Match {
	return r.store.Covers(origin, dest, rt, p, t)
}

// IsRevoked reports whether the certificate's own province revoked it in
// the registry: O(1), no lock, for every handshake.
func (r *Registry) IsRevoked(cert *x509.Certificate) bool { return r.store.Revoked(cert) }

// SetPartitioned cuts this node's raft traffic (true) or restores it. It
// exists to test what a node does when it is cut off from the leader.
func (r *Registry) SetPartitioned(cut bool) { r.stream.setPartitioned(cut) }

// Raft exposes the raft instance to tests and to the node's metrics.
func (r *Registry) Raft() *raft.Raft { return r.raft }

// slogWriter turns hclog's lines into slog records.
type slogWriter struct{ l *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(string(p)))
	for sc.Scan() {
		w.l.Warn(sc.Text())
	}
	return len(p), nil
}

// encodeEnvelope is the log entry format.
func encodeEnvelope(env *Envelope) ([]byte, error) { return json.Marshal(env) }

// discard drains and closes a response body.
func discard(rc io.ReadCloser) {
	io.Copy(io.Discard, rc)
	rc.Close()
}
