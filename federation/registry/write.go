package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/pki"
)

// Submit writes a signed command and returns its result once applied on the
// leader. It may be called on any node: a follower forwards the command to
// the leader over mTLS, and if the leader changes meanwhile it tries the
// next one. The command's nonce makes that retry safe: a command that
// already committed answers its first outcome instead of applying twice.
//
// The error is for failures to get an answer (no leader reachable, with for
// how long) and for a command the leader refuses before it enters the log
// (checkBeforeLog): an op some node's release does not know (see
// CommandLevel) or one a newer op replaced, a CA delisted while raft
// voters still use it, a revocation under no province code or of a serial
// revoked already, an agreement version whose scope leaves out a division
// its parties are checked against. A command refused in apply comes back
// as Result.Err.
//
// OpInit is refused here, whoever submits it: the genesis is unsigned, so
// only the node's configured genesis (initWhenLeader) may propose it.
func (r *Registry) Submit(ctx context.Context, env *Envelope) (*Result, error) {
	if err := refuseInit(env); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ApplyTimeout)
	defer cancel()
	start := time.Now()
	var lastErr error
	for {
		res, err := r.submitOnce(ctx, env)
		if err == nil {
			return res, nil
		}
		switch ErrorCode(err) {
		case EForbidden, EInvalid, EUnauthenticated, ENotFound, EConflict:
			return nil, err
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, r.unavailable(start, lastErr)
		case <-time.After(r.cfg.HeartbeatTimeout / 10):
		}
	}
}

// refuseInit refuses OpInit from a caller. Apply takes the first OpInit of
// an uninitialized registry without a signature to verify (there are no
// roots yet to verify it against), so one submitted through the API would
// let anyone install their own roots and stewards on a registry whose
// genesis is not applied yet.
func refuseInit(env *Envelope) error {
	if env.Op != OpInit {
		return nil
	}
	return Errorf(EForbidden, "command %q cannot be submitted: the genesis comes only from the configuration of a bootstrap node (raft.genesis), which writes it once it leads", OpInit)
}

// errNoLeader is why a write waits: raft has no leader at the moment.
var errNoLeader = errors.New("no leader elected")

func (r *Registry) submitOnce(ctx context.Context, env *Envelope) (*Result, error) {
	if r.raft.State() == raft.Leader {
		if env.Op == OpCertRevoke {
			r.revokes.Lock()
			defer r.revokes.Unlock()
		}
		if err := r.checkBeforeLog(ctx, env); err != nil {
			return nil, err
		}
		return r.applyLocal(env)
	}
	api, err := r.leaderAPI()
	if err != nil {
		return nil, err
	}
	var res Result
	if err := r.call(ctx, http.MethodPost, api, pathApply, env, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// checkBeforeLog refuses, on the leader, a command that must not enter the
// raft log for what only the network shows: an op some node's release does
// not know (checkCommandLevel), a CA delisted while voters still use it
// (checkRotationOrder); and one that an older release's apply took, which
// apply goes on taking from the log (checkProposedID, checkRevoke: its
// province and whether it is revoked already, checkScopeDivisions). Apply
// never looks at the network or the clock, so that every replica reaches
// the same verdict; these checks do, once, where
// every write is proposed. A command whose nonce the registry already holds
// skips them: it is a resubmission that apply answers with its first
// outcome, and refusing it would hide that outcome.
func (r *Registry) checkBeforeLog(ctx context.Context, env *Envelope) error {
	if _, ok := opLevels[env.Op]; !ok {
		return Errorf(EInvalid, "unknown command %q: the leader %s runs a release that does not know it (command level %d); if a newer release adds it, upgrade every node first",
			env.Op, r.cfg.NodeID, r.commandLevel())
	}
	if r.store.seenNonce(env.Nonce) {
		return nil
	}
	if err := r.checkCommandLevel(ctx, env); err != nil {
		return err
	}
	if err := checkProposedID(env); err != nil {
		return err
	}
	if err := r.checkRevoke(env); err != nil {
		return err
	}
	if err := r.checkScopeDivisions(env); err != nil {
		return err
	}
	return r.checkRotationOrder(ctx, env)
}

// checkProposedID refuses a proposal whose agreement id records could not
// name: their agreement_id is an audit token (contracts.CheckAgreementID). It is
// checked here, not in apply, which takes agreements proposed under the
// older rule as it always did.
func checkProposedID(env *Envelope) error {
	if env.Op != OpPropose {
		return nil
	}
	var a contracts.Agreement
	if err := decodeBody(env, &a); err != nil {
		return nil // apply refuses it, naming why
	}
	if err := contracts.CheckAgreementID(a.ID); err != nil {
		return Errorf(EInvalid, "%s: id: %v; records name their agreement by this id, so it takes what their ids take", env.Op, err)
	}
	return nil
}

// checkRevoke runs the checks of a cert.revoke on its body, decoded once.
func (r *Registry) checkRevoke(env *Envelope) error {
	if env.Op != OpCertRevoke {
		return nil
	}
	var b RevokeBody
	if decodeBody(env, &b) != nil {
		return nil // apply refuses it, naming why
	}
	if err := checkRevokedProvince(b); err != nil {
		return err
	}
	return r.checkRevokedAgain(env, b)
}

// checkRevokedProvince refuses a cert.revoke whose province is no province
// code. Revocations are kept, and looked up, by the province of the
// certificate revoked: under any other key one revokes nothing, while the
// admin is told it is done. It is checked here, not in apply, which records
// the cert.revoke commands the log holds as the replicas that first
// applied them did.
func checkRevokedProvince(b RevokeBody) error {
	if !pki.ValidProvince(b.Province) {
		return Errorf(EInvalid, "cert.revoke: province %q is not a province code; give the 2-digit code of the province whose CA issued the certificate, such as 44", b.Province)
	}
	return nil
}

// checkRevokedAgain refuses a cert.revoke of a serial that its province
// has revoked already, from a signer that may revoke it (apply refuses the
// others for that, first). Applied, it would replace the revocation held, its
// time, signer, reason and index, by its own: the record of when and why
// the certificate was revoked, and by whom, would be lost, and the nodes'
// audit, which follows revocations by index, would log the revocation a
// second time. It is checked here, not in apply, which records the second
// revocations the log holds, and those a leader of an older release still
// lets in during an upgrade, as the replicas that first applied them did.
//
// The registry is read once every command before is applied (a barrier: a
// new leader may not have applied its predecessor's last commands yet),
// and submitOnce holds r.revokes from here to the apply, so that two
// revocations of one serial submitted at once do not both get in.
func (r *Registry) checkRevokedAgain(env *Envelope, b RevokeBody) error {
	serial, ok := parseSerial(b.Serial)
	if !ok {
		return nil // apply refuses it, naming why
	}
	if _, err := r.readIndexLeader(); err != nil {
		return fmt.Errorf("cert.revoke: the registry is not up to date on the leader, to tell whether serial %s is revoked already: %w", serial, err)
	}
	if r.store.seenNonce(env.Nonce) {
		return nil // this command, submitted again: apply answers its outcome
	}
	prev, ok := r.store.revocation(b.Province, serial)
	if !ok || !r.store.revokeAllowed(env, b.Province, r.cfg.now().UTC()) {
		return nil // apply refuses a signer that may not revoke, naming why
	}
	return Errorf(EConflict, "cert.revoke: serial %s of province %s is revoked already, %s; that revocation stands as recorded (its time, reason and signer), and every node refuses the certificate",
		serial, b.Province, revokedWhen(prev))
}

// revokedWhen says when r was recorded: its time and, unless it comes
// from a snapshot of a release before the field, its registry index.
func revokedWhen(r Revocation) string {
	at := r.At.UTC().Format(time.RFC3339)
	if r.Index == 0 {
		return "at " + at
	}
	return fmt.Sprintf("at %s (registry index %d)", at, r.Index)
}

func (r *Registry) unavailable(start time.Time, err error) *Error {
	f := r.Freshness()
	since := "never"
	if !f.LastContact.IsZero() {
		since = time.Since(f.LastContact).Round(time.Millisecond).String() + " ago"
	}
	return Errorf(EUnavailable, "no leader reachable for %s (last contact with a leader: %s): %v", time.Since(start).Round(time.Millisecond), since, err)
}

// leaderAPI returns the API address of the current leader.
func (r *Registry) leaderAPI() (string, error) {
	_, id := r.raft.LeaderWithID()
	if id == "" {
		return "", errNoLeader
	}
	n, ok := r.store.Node(string(id))
	if !ok || n.APIAddr == "" {
		return "", fmt.Errorf("leader %s has no API address in the registry", id)
	}
	return n.APIAddr, nil
}

// applyLocal stamps the command with the leader's time and applies it
// through raft. After a node command succeeds it changes raft's
// configuration to match, and again when the command is resubmitted: the
// first time may have committed and then failed to reconfigure (a timeout,
// a lost leadership), and a retry answered from the nonce alone would
// report success for a change raft never made. AddVoter, AddNonvoter,
// DemoteVoter and RemoveServer are idempotent.
func (r *Registry) applyLocal(env *Envelope) (*Result, error) {
	defer r.holdAppends()()
	stamped := *env
	stamped.At = r.cfg.now().UTC()
	data, err := encodeEnvelope(&stamped)
	if err != nil {
		return nil, err
	}
	f := r.raft.Apply(data, r.cfg.ApplyTimeout)
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("apply %s: %w", env.Op, err)
	}
	res, ok := f.Response().(*Result)
	if !ok {
		return nil, fmt.Errorf("apply %s: unexpected response %T", env.Op, f.Response())
	}
	n := res.Node
	if res.Duplicate {
		n = r.retriedNode(env)
	}
	if res.Err == nil && n != nil {
		if err := r.reconfigure(env.Op, n); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// retriedNode is the node a resubmitted node command reconfigures raft
// for, as the registry holds it now (a duplicate's result carries no node),
// or nil when there is nothing to redo: not a node command, or a later
// command changed the node the other way (a join or promotion retried after
// a removal or demotion). raft follows the registry; a retry must not undo
// a later command.
func (r *Registry) retriedNode(env *Envelope) *Node {
	var ref NodeRef // a join's NodeSpec names the node with the same field
	if json.Unmarshal(env.Body, &ref) != nil || ref.ID == "" {
		return nil
	}
	n, ok := r.store.Node(ref.ID)
	switch {
	case env.Op == OpNodeJoin && ok,
		env.Op == OpNodePromote && ok && n.Voter,
		env.Op == OpNodeDemote && ok && !n.Voter:
		return &n
	case env.Op == OpNodeRemove && !ok:
		return &Node{NodeSpec: NodeSpec{ID: ref.ID}}
	}
	return nil
}

// reconfigure makes raft's configuration follow a node command.
func (r *Registry) reconfigure(op Op, n *Node) error {
	id, addr := raft.ServerID(n.ID), raft.ServerAddress(n.RaftAddr)
	var f raft.IndexFuture
	switch op {
	case OpNodeJoin:
		if n.Voter {
			f = r.raft.AddVoter(id, addr, 0, r.cfg.ApplyTimeout)
		} else {
			f = r.raft.AddNonvoter(id, addr, 0, r.cfg.ApplyTimeout)
		}
	case OpNodePromote:
		f = r.raft.AddVoter(id, addr, 0, r.cfg.ApplyTimeout)
	case OpNodeDemote:
		f = r.raft.DemoteVoter(id, 0, r.cfg.ApplyTimeout)
	case OpNodeRemove:
		f = r.raft.RemoveServer(id, 0, r.cfg.ApplyTimeout)
	default:
		return nil
	}
	if err := f.Error(); err != nil {
		return fmt.Errorf("%s %s: raft configuration: %w", op, n.ID, err)
	}
	return nil
}

// Consistent waits until the local replica reflects every write committed
// before the call, so the next local read is linearizable. On a follower it
// asks the leader for its commit point (after the leader confirms its
// leadership with a barrier) and waits to apply up to it.
func (r *Registry) Consistent(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ApplyTimeout)
	defer cancel()
	start := time.Now()
	for {
		idx, err := r.readIndex(ctx)
		if err == nil {
			return r.waitApplied(ctx, idx)
		}
		select {
		case <-ctx.Done():
			return r.unavailable(start, err)
		case <-time.After(r.cfg.HeartbeatTimeout / 10):
		}
	}
}

func (r *Registry) readIndex(ctx context.Context) (uint64, error) {
	if r.raft.State() == raft.Leader {
		return r.readIndexLeader()
	}
	api, err := r.leaderAPI()
	if err != nil {
		return 0, err
	}
	var ri readIndexResponse
	if err := r.call(ctx, http.MethodGet, api, pathReadIndex, nil, &ri); err != nil {
		return 0, err
	}
	return ri.Index, nil
}

// readIndexLeader confirms leadership with a barrier (a committed entry in
// the current term) and returns the index every acknowledged write is at or
// below: the last command the leader's state machine has applied, which the
// barrier waits for. (raft's own AppliedIndex counts entries handed to the
// state machine, which applies them later, and entries it never sees, such
// as the barrier itself.)
func (r *Registry) readIndexLeader() (uint64, error) {
	if r.raft.State() != raft.Leader {
		return 0, raft.ErrNotLeader
	}
	defer r.holdAppends()()
	if err := r.raft.Barrier(r.cfg.ApplyTimeout).Error(); err != nil {
		return 0, err
	}
	return r.store.AppliedIndex(), nil
}

type readIndexResponse struct {
	Index uint64 `json:"index"`
}

// waitApplied waits until this replica's state machine has applied the
// command at idx, so that a read of its state sees it. raft's AppliedIndex
// would not do: it runs ahead of the state machine, and a read made on it
// could miss a write acknowledged before the read began.
func (r *Registry) waitApplied(ctx context.Context, idx uint64) error {
	for r.store.AppliedIndex() < idx {
		select {
		case <-ctx.Done():
			return Errorf(EUnavailable, "replica did not catch up to index %d (at %d): %v", idx, r.store.AppliedIndex(), ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// forwardClient is the HTTP client nodes use to reach each other's API,
// presenting the node certificate and accepting only node certificates.
func forwardClient(t *pki.TLS) (*http.Client, error) {
	tc, err := t.ClientConfig(pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: pki.RefusalHints{Next: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 4, TLSHandshakeTimeout: 5 * time.Second}}}, nil
}

// call sends a JSON request to another node's registry API. A connection
// kept from before this node's certificate was rotated presents the old
// one, which the other node refuses once the old one is revoked (it checks
// every request): refused so, the request is sent once more on a new
// connection, which presents the current certificate.
func (r *Registry) call(ctx context.Context, method, addr, path string, in, out any) error {
	err := doJSON(ctx, r.client, method, "https://"+addr+path, in, out)
	if c := ErrorCode(err); c == EUnauthenticated || c == EForbidden {
		r.client.CloseIdleConnections()
		err = doJSON(ctx, r.client, method, "https://"+addr+path, in, out)
	}
	return err
}

// doJSON is the client side of the registry API, shared with Client.
func doJSON(ctx context.Context, hc *http.Client, method, url string, in, out any) error {
	var body *bytes.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	} else {
		body = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer discard(resp.Body)
	if resp.StatusCode >= 300 {
		var e Error
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Code != "" {
			return &e
		}
		return Errorf(EInternal, "%s %s: %s", method, url, resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
