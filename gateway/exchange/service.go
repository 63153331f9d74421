package exchange

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// MaxSubmit is the most records one submission may carry.
const MaxSubmit = 1000

// Notifier wakes the delivery worker of a peer province.
type Notifier interface {
	Notify(peer string)
}

// Auditor appends entries to the node's audit log.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (int64, error)
}

// Deps are what an exchange needs; every field is required.
type Deps struct {
	// Province is this node's 2-digit province code.
	Province string
	// Signer signs envelopes and receipts with the node's key.
	Signer *pki.Signer
	// Keys, if set, is where the node's current key and chain are read
	// from on each use instead of Signer, so that signing follows a
	// certificate rotation without a restart.
	Keys *pki.KeyPair
	// Verifier checks the certificate chains that envelopes are signed with.
	Verifier *pki.Verifier
	// Agreements finds the agreements a record may travel under.
	Agreements policy.AgreementSource
	// Policy decides exports and imports.
	Policy *policy.Engine
	// Store is the node's durable state.
	Store *store.Store
	// Delivery is woken when a peer's outbox grows.
	Delivery Notifier
	// Audit receives every flow. A node passes its audit.Log on the store's
	// own file (a TxAuditor), so that a record stored and its audit entry
	// commit together. Any other Auditor is handed the entries of stored
	// records after the store's commit, and a crash between the two loses
	// them: that is for tests and tools, not for a node.
	Audit Auditor
	// Log gets operational events; never personal data.
	Log *slog.Logger
	// Now is the clock.
	Now func() time.Time
	// Registered, if set, reports whether the registry replica holds the
	// federation's state yet, and Policy the newest bundle of it. Until it
	// does (a node just restarted and has not heard from a leader, or has
	// yet to apply the bundles of the raft log it held after a crash),
	// every decision would be a denial for want of agreements, or made with
	// an older bundle than the federation's, so the exchange answers
	// "unavailable, retry" instead.
	Registered func() bool
	// Stale, if set, reports whether the registry replica has lost contact
	// with the leader; denials that may come from lag are then deferred.
	Stale func() bool
}

// errNoRegistry is the transient answer while the registry replica is empty
// or behind the log the node holds.
var errNoRegistry = Errorf(CodeUnavailable, "the registry replica has not caught up yet (node starting); retry shortly")

func (x *Exchange) registered() bool { return x.d.Registered == nil || x.d.Registered() }

func (d Deps) validate() error {
	switch {
	case !pki.ValidProvince(d.Province):
		return fmt.Errorf("exchange: province %q is not a province code", d.Province)
	case d.Signer == nil, d.Verifier == nil, d.Agreements == nil, d.Policy == nil, d.Store == nil, d.Delivery == nil, d.Audit == nil, d.Log == nil, d.Now == nil:
		return errors.New("exchange: every dependency is required")
	}
	return nil
}

// TxAuditor is an Auditor that can also append inside a write transaction
// on its own bbolt file (audit.Log). When that file is the store's, the
// exchange writes the audit entries of accepted and received records in the
// transaction that stores them: one commit and its fsyncs instead of two,
// and the record and its audit entry are durable together.
type TxAuditor interface {
	Auditor
	DB() *bolt.DB
	// Prepare does an append's per-entry work ahead of the transaction;
	// AppendPreparedTx writes what it prepared inside it.
	Prepare(es ...audit.Entry) ([]audit.Prepared, error)
	AppendPreparedTx(tx *bolt.Tx, ps ...audit.Prepared) error
}

// Exchange implements both ends of the record path. It is safe for
// concurrent use.
type Exchange struct {
	d Deps
	// inTx is d.Audit when it shares the store's file, else nil.
	inTx TxAuditor
	// batchSign is set by BatchSender: envelopes are queued unsigned and
	// signed per delivered batch.
	batchSign atomic.Bool
	// receiptsAlong is set by Outbox when it audits receipts in the
	// transaction that records them.
	receiptsAlong atomic.Bool

	signerMu  sync.Mutex
	signerFor *tls.Certificate // the key pair's certificate current was built from
	current   *pki.Signer
}

// New returns an exchange over its dependencies.
func New(d Deps) (*Exchange, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	x := &Exchange{d: d}
	if a, ok := d.Audit.(TxAuditor); ok && a.DB() == d.Store.DB() {
		x.inTx = a
	}
	return x, nil
}

// auditAlong prepares the audit entries of n records, before the store's
// commit that writes the records, and returns along, the function that
// appends in that commit the entries of the records it marks fresh; along
// is nil when the audit log lives elsewhere, and the caller appends es
// after the commit with audit. Entries are encoded before the
// transaction, which every other writer of node.db waits for, so a
// duplicate's entry is prepared for nothing: duplicates are rare.
//
// An entry the log refuses has its bad identifiers cleared (auditable)
// and is written without them; es holds the entries as written. One the
// log refuses even so (bad[i], nil for the others; bad is nil when every
// entry can be written) would fail the commit of every record with it:
// the caller leaves its record out of the commit instead, since no record
// may be queued or stored without its entry, answers it, and calls
// auditAlong again for the others, with es. Preparing is deterministic,
// so that second call finds none bad; should it, the caller fails the
// request rather than write the entries outside the commit.
func (x *Exchange) auditAlong(entry func(i int) audit.Entry, n int) (along func(tx *bolt.Tx, fresh func(i int) bool) error, es []audit.Entry, bad []error) {
	es = make([]audit.Entry, n)
	for i := range n {
		es[i] = entry(i)
	}
	if x.inTx == nil {
		for i := range es {
			if es[i].Validate() != nil {
				es[i] = x.auditable(es[i])
				if err := es[i].Validate(); err != nil {
					bad = markBad(bad, n, i, err)
				}
			}
		}
		return nil, es, bad
	}
	ps, err := x.inTx.Prepare(es...)
	if err != nil {
		// Find the entries that fail, one at a time: rare.
		ps = make([]audit.Prepared, n)
		for i := range es {
			if ps[i], err = x.prepareOne(&es[i]); err != nil {
				bad = markBad(bad, n, i, err)
			}
		}
	}
	if bad != nil {
		return nil, es, bad
	}
	return func(tx *bolt.Tx, fresh func(i int) bool) error {
		keep := ps[:0:0]
		for i := range ps {
			if fresh(i) {
				keep = append(keep, ps[i])
			}
		}
		if len(keep) == 0 {
			return nil
		}
		return x.inTx.AppendPreparedTx(tx, keep...)
	}, es, nil
}

// prepareOne prepares e alone, clearing its bad identifiers if the log
// refuses it as it is.
func (x *Exchange) prepareOne(e *audit.Entry) (audit.Prepared, error) {
	ps, err := x.inTx.Prepare(*e)
	if err != nil {
		*e = x.auditable(*e)
		if ps, err = x.inTx.Prepare(*e); err != nil {
			return audit.Prepared{}, err
		}
	}
	return ps[0], nil
}

// markBad sets bad[i] to err, making bad (of n) on its first use.
func markBad(bad []error, n, i int, err error) []error {
	if bad == nil {
		bad = make([]error, n)
	}
	bad[i] = err
	return bad
}

// unauditedMessage answers a record whose audit entry the log refuses, which
// is this node's fault (its configuration or code), not the record's: the
// record's own identifiers are checked before (contracts' ids are the
// log's tokens).
const unauditedMessage = "this node cannot write the record's audit entry; nothing was queued, the operator has the cause"

// Outcome is what happened to one submitted record.
type Outcome string

// The outcomes of a submission.
const (
	// OutcomeAccepted: durably queued for delivery.
	OutcomeAccepted Outcome = "accepted"
	// OutcomeDuplicate: the same reference was accepted before; nothing new queued.
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeDenied: policy refused the export; nothing queued.
	OutcomeDenied Outcome = "denied"
	// OutcomeInvalid: the record failed decoding or validation; nothing stored.
	OutcomeInvalid Outcome = "invalid"
	// OutcomeForbidden: the caller may not submit this record.
	OutcomeForbidden Outcome = "forbidden"
	// OutcomeUnavailable: this node cannot handle the record now, through
	// no fault of it (the referral case an update moves cannot be read,
	// the store could not record its denial, its decision or envelope
	// could not be made); nothing queued or stored,
	// and the operator has the cause.
	OutcomeUnavailable Outcome = "unavailable"
)

// SubmitResult answers one record of a submission.
type SubmitResult struct {
	// Index is the record's position in the submission.
	Index int `json:"index"`
	// Ref is the submitter's reference ("51/transfer/T-1"), when it could be read.
	Ref string `json:"ref,omitempty"`
	// Destination is the province the record is addressed to, when it could
	// be read.
	Destination string  `json:"destination,omitempty"`
	Outcome     Outcome `json:"outcome"`
	// EnvelopeID identifies the accepted (or earlier accepted) envelope.
	EnvelopeID string `json:"envelope_id,omitempty"`
	// Problems list every invalid field.
	Problems []contracts.FieldError `json:"problems,omitempty"`
	// Reasons explain a denial.
	Reasons []policy.Reason `json:"reasons,omitempty"`
	// Error explains a forbidden or unavailable record.
	Error string `json:"error,omitempty"`
}

// Ref is the idempotency key of a record: sending province, type and the
// submitter's own id.
func Ref(h *contracts.Header, t contracts.RecordType) string {
	return h.From + "/" + string(t) + "/" + h.ID
}

// RecordView is a submitted record's state, for the submitter.
type RecordView struct {
	store.Status
	// Confirmed is set on a transfer once the destination confirmed employment;
	// it is what a subsidy payment waits for.
	Confirmed *Confirmed `json:"confirmed,omitempty"`
}

// Confirmed summarizes the employment confirmation a transfer received.
type Confirmed struct {
	Employed       bool   `json:"employed"`
	Since          string `json:"since,omitempty"`
	MonthsEmployed int    `json:"months_employed"`
	ConfirmedOn    string `json:"confirmed_on"`
	// WorkerMatch says how the confirmation's worker ID number compared
	// with the one the transfer carried (WorkerMatchFull, ...Partial or
	// ...Unchecked; a mismatch confirms nothing). Empty for one linked by
	// a release that did not compare them.
	WorkerMatch string `json:"worker_match,omitempty"`
	// SinceBeforeContractStart flags a since before the first day of the
	// transfer's contract: taken, but worth a look before a subsidy for
	// months of employment is paid.
	SinceBeforeContractStart bool   `json:"since_before_contract_start,omitempty"`
	EnvelopeID               string `json:"envelope_id"`
	// Receipt is the destination's signed receipt for the transfer itself.
	Receipt json.RawMessage `json:"receipt,omitempty"`
}

// Record returns a submitted record's state by envelope id or reference, for
// a caller of the record's province.
func (x *Exchange) Record(ctx context.Context, caller pki.Identity, key string) (RecordView, error) {
	id := key
	if looksLikeRef(key) {
		var err error
		if id, err = x.d.Store.Lookup(key); err != nil {
			return RecordView{}, lookupFailed(err, fmt.Sprintf("record with reference %q", key))
		}
	}
	st, err := x.d.Store.Status(id)
	if err != nil {
		return RecordView{}, lookupFailed(err, fmt.Sprintf("record with envelope id %q", id))
	}
	if caller.Kind != pki.KindOperator && !refOf(st.Ref, caller.Province) {
		return RecordView{}, Errorf(CodeForbidden, "record %s belongs to another province", key)
	}
	return RecordView{Status: shownAnswers(st), Confirmed: confirmed(st)}, nil
}

// arrived tells whether a record is proven to have arrived: delivered, with
// the destination's receipt stored.
func arrived(st store.Status) bool {
	return st.State == store.StateDelivered && len(st.Receipt) > 0
}

// shownAnswers is st with the answers its submitter may see: as for
// confirmed, no employment confirmation until the transfer is delivered
// with the destination's receipt stored; kept with the record meanwhile.
func shownAnswers(st store.Status) store.Status {
	if arrived(st) {
		return st
	}
	st.Answers = slices.DeleteFunc(slices.Clone(st.Answers), func(a store.Answer) bool {
		return a.Type == string(contracts.RecordConfirmation)
	})
	if len(st.Answers) == 0 {
		st.Answers = nil
	}
	return st
}

// confirmed is the employment confirmation to show on a transfer: none
// until the transfer is delivered with the destination's receipt stored,
// since a subsidy must not wait on a confirmation of a transfer not proven
// to have arrived. One that came earlier (the receipt was lost, or is not
// recorded yet) is kept with the record and shown once the receipt is.
// Of several, the one confirmed latest (confirmed_on) stands, and of those
// confirmed the same day the last to arrive. One refused (of another
// worker: ReasonWorkerMismatch) is listed among the answers and never
// stands.
func confirmed(st store.Status) *Confirmed {
	if !arrived(st) {
		return nil
	}
	var latest *Confirmed
	var latestAt time.Time // when latest arrived
	for _, a := range st.Answers {
		if a.Type != string(contracts.RecordConfirmation) || a.Refused != "" {
			continue
		}
		var c Confirmed
		if json.Unmarshal(a.Summary, &c) != nil {
			continue
		}
		// Days as YYYY-MM-DD order as strings. The answers are listed as
		// they were linked, which two deliveries at once may do out of
		// their order of arrival.
		if latest == nil || c.ConfirmedOn > latest.ConfirmedOn ||
			c.ConfirmedOn == latest.ConfirmedOn && !a.ReceivedAt.Before(latestAt) {
			c.EnvelopeID, c.Receipt = a.EnvelopeID, st.Receipt
			latest, latestAt = &c, a.ReceivedAt
		}
	}
	return latest
}

// Inbox returns what arrived from other provinces after the cursor. A
// cursor beyond the newest position is none this node gave out (its store
// was replaced or restored from a backup since): an empty page would hand
// it back as the next cursor, and the system would page past every new
// arrival without seeing it, so it is refused.
func (x *Exchange) Inbox(ctx context.Context, after uint64, limit int) ([]store.Incoming, error) {
	if limit <= 0 || limit > 1000 {
		return nil, Errorf(CodeInvalid, "limit must be between 1 and 1000, got %d", limit)
	}
	items, err := x.d.Store.Inbox(after, limit)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "read inbox", Err: err}
	}
	if len(items) == 0 && after > 0 {
		head, err := x.d.Store.InboxHead()
		if err != nil {
			return nil, &Error{Code: CodeUnavailable, Message: "read inbox", Err: err}
		}
		if after > head {
			return nil, Errorf(CodeInvalid, "after %d is beyond the inbox's newest position %d: this node never gave that cursor (was its store replaced or restored from a backup?); page again from a cursor of at most %d", after, head, head)
		}
	}
	return items, nil
}

// lookupFailed answers a lookup of what (`received envelope "01J..."`) in
// the store that failed with err: not found when the store has none, or
// unavailable when the store could not be read, which says nothing of
// whether it holds one, so its message does not say "no" either.
func lookupFailed(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return Errorf(CodeNotFound, "no %s", what)
	}
	return &Error{Code: CodeUnavailable, Message: "the store could not be read to look up the " + what, Err: err}
}

func looksLikeRef(key string) bool {
	for i := range len(key) {
		if key[i] == '/' {
			return true
		}
	}
	return false
}

func refOf(ref, province string) bool {
	return len(ref) > len(province) && ref[:len(province)] == province && ref[len(province)] == '/'
}

// InboxItem returns one received envelope by id: the one province from
// sent under it, or, with from "", the first stored under it (ids are
// each origin's own, and two provinces may use one).
func (x *Exchange) InboxItem(ctx context.Context, from, envelopeID string) (store.Incoming, error) {
	what := fmt.Sprintf("received envelope %q", envelopeID)
	var m store.Incoming
	var err error
	if from == "" {
		m, err = x.d.Store.InboxItem(envelopeID)
	} else {
		m, err = x.d.Store.InboxItemFrom(from, envelopeID)
		what += " from " + from
	}
	if err != nil {
		return store.Incoming{}, lookupFailed(err, what)
	}
	return m, nil
}

// signer is the node's current signer: from Keys when set (rebuilt only when
// the key pair reloaded rotated files), else the fixed Signer.
func (x *Exchange) signer() *pki.Signer {
	if x.d.Keys == nil {
		return x.d.Signer
	}
	cert, err := x.d.Keys.Certificate()
	if err != nil || cert == nil {
		return x.d.Signer
	}
	x.signerMu.Lock()
	defer x.signerMu.Unlock()
	if cert != x.signerFor {
		s, err := x.d.Keys.Signer()
		if err != nil {
			x.d.Log.Error("reload node signer after rotation", "err", err)
			return x.current
		}
		x.signerFor, x.current = cert, s
	}
	return x.current
}

// Chain is the current signing chain (DER, leaf first), for the peer client
// to send with each batch.
func (x *Exchange) Chain() [][]byte { return chainDER(x.signer()) }

// chainDER is the signer's certificate chain as DER, leaf first.
func chainDER(s *pki.Signer) [][]byte {
	var chain [][]byte
	for _, c := range s.Chain() {
		chain = append(chain, c.Raw)
	}
	return chain
}
