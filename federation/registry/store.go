package registry

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/laborlink/laborlink/pki"
)

// state is the replicated registry state. Apply changes it under Store.mu;
// records it points to are never changed after publication.
type state struct {
	Domain     string                      `json:"domain"`
	Roots      []byte                      `json:"roots"`
	Stewards   []string                    `json:"stewards"`
	MaxSkew    Duration                    `json:"max_skew"`
	Members    map[string]*Member          `json:"members"`
	Nodes      map[string]*Node            `json:"nodes"`
	Agreements map[string]*AgreementRecord `json:"agreements"`
	Policies   []*PolicyVersion            `json:"policies"`
	Revoked    map[string]*Revocation      `json:"revoked"`
	Issued     map[string]*Issuance        `json:"issued"`
	Retired    map[string]*RetiredCA       `json:"retired,omitempty"`
	Nonces     map[string]*nonceEntry      `json:"nonces"`
	LastPrune  time.Time                   `json:"last_prune"`
	// RestoredAt is the raft index, in this cluster's log, that the last
	// backup restored (Registry.Restore) was installed at; 0 when none
	// was. Every index the state holds from before it (History, Issued,
	// Policies, Nonces) counts another log, or this one before the restore, and was
	// rebased to it. A snapshot of an older release has none and reads 0.
	RestoredAt uint64 `json:"restored_at,omitempty"`
	// RestoreID names the last restore, chosen at random by the leader
	// that made it and carried in the snapshot: RestoredAt alone repeats
	// when backups are restored into fresh clusters, whose logs start
	// alike.
	RestoreID string `json:"restore_id,omitempty"`

	roots    []*x509.Certificate
	rootPool *x509.CertPool
}

// nonceEntry remembers a command's outcome so that a resubmission (a client
// retrying after a leader change) answers the same outcome, not a second apply.
type nonceEntry struct {
	SignedAt time.Time `json:"signed_at"`
	Index    uint64    `json:"index"`
	Err      *Error    `json:"err,omitempty"`
	Ref      string    `json:"ref,omitempty"`
	// Digest is the hex SHA-256 of the command's SigningBytes: only the
	// same command answers the outcome, another one reusing the nonce is
	// refused. Empty in entries of older releases, and for a command whose
	// signing bytes could not be made (authenticate refused it).
	Digest string `json:"digest,omitempty"`
}

func newState() *state {
	return &state{
		Members:    map[string]*Member{},
		Nodes:      map[string]*Node{},
		Agreements: map[string]*AgreementRecord{},
		Revoked:    map[string]*Revocation{},
		Issued:     map[string]*Issuance{},
		Retired:    map[string]*RetiredCA{},
		Nonces:     map[string]*nonceEntry{},
	}
}

func (s *state) initialized() bool { return s.Domain != "" }

// Result is what applying one command produced.
type Result struct {
	// Index is the raft log index the command was applied at.
	Index uint64 `json:"index"`
	// Err is the business error, if the command was refused. A refused
	// command changes nothing but is still in the log.
	Err *Error `json:"error,omitempty"`
	// Duplicate is set when the nonce was seen before; the other fields
	// repeat the first outcome.
	Duplicate bool             `json:"duplicate,omitempty"`
	Agreement *AgreementRecord `json:"agreement,omitempty"`
	Node      *Node            `json:"node,omitempty"`
	Policy    *PolicyVersion   `json:"policy,omitempty"`
}

// Store is the registry's state machine without raft: it applies commands,
// answers queries and takes snapshots. Registry drives it from the raft log;
// tests and benchmarks may drive it directly. Apply must be called from one
// goroutine at a time (raft's FSM contract); queries are safe concurrently
// with Apply, and Covers takes no lock at all.
type Store struct {
	mu      sync.RWMutex
	st      *state
	index   atomic.Pointer[Index]
	revoked atomic.Pointer[map[string]struct{}]
	// retired holds the keys of st.Retired, for Revoked.
	retired atomic.Pointer[map[string]struct{}]
	// trust is closed and replaced at each change of trust (publishTrust).
	trust   atomic.Pointer[chan struct{}]
	applied atomic.Uint64
	// pairIDs lists agreement IDs per province pair, for reindexing one pair.
	pairIDs map[pairKey][]string
	// certKeys remembers what Revoked looks certificates up by.
	certKeys pki.CertMemo[certKeys]
}

// NewStore returns an empty store.
func NewStore() *Store {
	s := &Store{st: newState(), pairIDs: map[pairKey][]string{}}
	s.index.Store(emptyIndex())
	s.revoked.Store(&map[string]struct{}{})
	s.retired.Store(&map[string]struct{}{})
	s.trust.Store(new(make(chan struct{})))
	return s
}

// AppliedIndex is the raft index of the last command applied.
func (s *Store) AppliedIndex() uint64 { return s.applied.Load() }

// RestoredAt is the raft index the last backup restored into this registry
// was installed at, 0 when none was. The indices of the agreement events,
// issuances and policy bundles the backup brought are history of another
// log, rebased to this index; every command applied after the restore has
// a higher one. A reader following the registry by index (the nodes' audit)
// takes a new RestoredAt as the start of a new history.
func (s *Store) RestoredAt() uint64 {
	at, _ := s.LastRestore()
	return at
}

// LastRestore is the index the last backup was restored at (RestoredAt)
// and the restore's random id, which tells one restore from another at the
// same index in another cluster; "" for none, or a restore of an older
// release.
func (s *Store) LastRestore() (at uint64, id string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.RestoredAt, s.st.RestoreID
}

// IsRevoked reports whether the registry lists the serial as revoked by the
// province. It takes no lock and is O(1).
func (s *Store) IsRevoked(province string, serial *big.Int) bool {
	if serial == nil {
		return false
	}
	_, ok := (*s.revoked.Load())[provinceSerial(province, serialKey(serial.Bytes()))]
	return ok
}

// Revoked makes the store a pki.RevocationChecker: a certificate is refused
// when its own province revoked its serial, so a province can revoke only
// its own certificates, whatever serial it names, and a CA certificate is
// refused when its key is retired (RetiredCA), so that no chain through it
// verifies. It takes no lock, and derives a certificate's keys once
// (certKeys): nodes ask on every handshake and request. The revocations
// and retired keys it looks them up in are the current ones.
func (s *Store) Revoked(cert *x509.Certificate) bool {
	k := s.certKeys.Get(cert, keysOf)
	if retired := *s.retired.Load(); k.ca != "" && len(retired) > 0 {
		if _, ok := retired[k.ca]; ok {
			return true
		}
	}
	if k.revoked == "" {
		return false
	}
	_, ok := (*s.revoked.Load())[k.revoked]
	return ok
}

// certKeys are the keys Revoked looks a certificate up by, derived from
// its bytes alone.
type certKeys struct {
	// revoked is its key among revocations: the serial scoped by the
	// certificate's province; "" for a certificate without a serial.
	revoked string
	// ca is its key among retired CAs (caKey); "" for a leaf.
	ca string
}

func keysOf(cert *x509.Certificate) certKeys {
	var k certKeys
	if cert.SerialNumber != nil {
		k.revoked = provinceSerial(pki.CertProvince(cert), serialKey(cert.SerialNumber.Bytes()))
	}
	if cert.IsCA {
		k.ca = caKey(cert)
	}
	return k
}

func serialKey(b []byte) string { return hex.EncodeToString(b) }

// provinceSerial scopes a serial by its province: the key of revocations
// (by the province that revoked it) and of issuances (by the issuing one).
func provinceSerial(province, serial string) string { return province + "/" + serial }

// Apply applies one command at a raft index and returns its result.
func (s *Store) Apply(index uint64, env *Envelope) *Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.applied.Store(index)
	res := s.apply(index, env)
	if !res.Duplicate {
		res.Index = index
	}
	return res
}

func (s *Store) apply(index uint64, env *Envelope) *Result {
	st := s.st
	if env.V != EnvelopeVersion {
		return &Result{Err: Errorf(EInvalid, "command envelope version %d is not supported (want %d)", env.V, EnvelopeVersion)}
	}
	if env.Op == OpInit {
		return s.applyInit(env)
	}
	if !st.initialized() {
		return &Result{Err: Errorf(EUnavailable, "the registry is not initialized yet")}
	}
	if env.Nonce == "" || len(env.Nonce) > 64 {
		return &Result{Err: Errorf(EInvalid, "command has no nonce (1-64 characters)")}
	}
	// Made once: the nonce's digest and the signature check both need them.
	msg, msgErr := env.SigningBytes()
	digest := ""
	if msgErr == nil {
		digest = digestHex(msg)
	}
	if prev := st.Nonces[env.Nonce]; prev != nil {
		if prev.Digest != "" && prev.Digest != digest {
			return &Result{Err: Errorf(EConflict, "%s: nonce %q was used by another command, applied at index %d; a nonce is for one command only: sign this one again with a fresh nonce",
				env.Op, env.Nonce, prev.Index)}
		}
		r := &Result{Index: prev.Index, Err: prev.Err, Duplicate: true}
		if a := st.Agreements[prev.Ref]; a != nil {
			r.Agreement = a
		}
		return r
	}
	skew := time.Duration(st.MaxSkew)
	if d := env.At.Sub(env.SignedAt); d > skew || d < -skew {
		return &Result{Err: Errorf(EInvalid, "command was signed at %s, %s away from the registry time %s (allowed: %s); check the signer's clock",
			env.SignedAt.Format(time.RFC3339), d.Round(time.Second), env.At.Format(time.RFC3339), skew)}
	}
	s.pruneNonces(env.At)
	res, ref := s.dispatch(index, env, msg, msgErr)
	st.Nonces[env.Nonce] = &nonceEntry{SignedAt: env.SignedAt, Index: index, Err: res.Err, Ref: ref, Digest: digest}
	return res
}

// pruneNonces forgets nonces too old to be accepted again anyway. It runs at
// most once per MaxSkew of registry time, so apply stays O(1) amortized.
func (s *Store) pruneNonces(now time.Time) {
	st := s.st
	skew := time.Duration(st.MaxSkew)
	if now.Sub(st.LastPrune) < skew {
		return
	}
	for n, e := range st.Nonces {
		if now.Sub(e.SignedAt) > 2*skew {
			delete(st.Nonces, n)
		}
	}
	st.LastPrune = now
}

// dispatch applies env, whose SigningBytes are msg (or msgErr).
func (s *Store) dispatch(index uint64, env *Envelope, msg []byte, msgErr error) (*Result, string) {
	who, err := s.st.authenticate(env, msg, msgErr)
	if err != nil {
		return &Result{Err: err}, ""
	}
	switch env.Op {
	case OpPropose, OpAmend, OpAmendV1:
		return s.applyProposal(index, env, who)
	case OpApprove, OpApproveV1, OpSuspend, OpResume, OpTerminate:
		return s.applyTransition(index, env, who)
	case OpMemberAdd, OpMemberAddV1:
		return s.applyMemberAdd(env, who), ""
	case OpMemberRemove, OpMemberExpel:
		return s.applyMemberRemove(env, who), ""
	case OpNodeJoin:
		return s.applyNodeJoin(env, who), ""
	case OpNodePromote, OpNodeDemote, OpNodeRemove:
		return s.applyNodeRole(env, who), ""
	case OpPolicyPublish:
		return s.applyPolicy(index, env, who), ""
	case OpCertRevoke:
		return s.applyRevoke(index, env, who), ""
	case OpCertIssued:
		return s.applyIssued(index, env, who), ""
	}
	return &Result{Err: Errorf(EInvalid, "unknown command %q", env.Op)}, ""
}

// decodeBody decodes a command body strictly.
func decodeBody(env *Envelope, v any) *Error {
	if err := json.Unmarshal(env.Body, v); err != nil {
		return Errorf(EInvalid, "%s: malformed body: %v", env.Op, err)
	}
	return nil
}

func requireKind(who signer, env *Envelope, kinds ...pki.Kind) *Error {
	if !slices.Contains(kinds, who.Kind) {
		return Errorf(EForbidden, "%s cannot %s: it needs a %s certificate, not %s", who, env.Op, kinds[0], who.Kind)
	}
	return nil
}

// digestHex is the hex SHA-256 of b.
func digestHex(b []byte) string {
	d := sha256.Sum256(b)
	return hex.EncodeToString(d[:])
}

// parseSerial normalizes a hex serial to the key IsRevoked uses.
func parseSerial(s string) (string, bool) {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok || n.Sign() <= 0 {
		return "", false
	}
	return serialKey(n.Bytes()), true
}
