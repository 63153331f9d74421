package exchange

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

var _ peer.Receiver = (*Exchange)(nil)

// Reason codes of an import rejection that policy does not decide.
const (
	ReasonMalformed         = "malformed_envelope"
	ReasonOriginMismatch    = "origin_mismatch"
	ReasonWrongDest         = "wrong_destination"
	ReasonSignerMismatch    = "signer_mismatch"
	ReasonBadSignature      = "bad_signature"
	ReasonInvalidRecord     = "invalid_record"
	ReasonEnvelopeMismatch  = "envelope_record_mismatch"
	ReasonInvalidTransition = "invalid_case_transition"
	// ReasonReferralIDTaken rejects a referral whose id the destination
	// holds for another referral between the two provinces: the other
	// province opened one with the same id first (both opened it before
	// either arrived). A referral's id is unique per province pair.
	ReasonReferralIDTaken = "referral_id_taken"
)

// ReasonReferralUnanswered defers an update of a case opened here while the
// referral sent from here has no answer from the update's origin: it may
// be in flight, or a dead letter waiting for a requeue (or discarded).
const ReasonReferralUnanswered = "referral_unanswered"

// ReasonSealedAhead defers an envelope sealed later than this node's clock
// allows (contracts.MaxClockAhead): its origin's clock is ahead, or it
// dates the record into a period of its choosing, whose quota counter is
// still empty. It is decided once its time has come.
const ReasonSealedAhead = "sealed_ahead"

// imported is an envelope that passed every check and is ready to store.
type imported struct {
	index int
	env   *contracts.Envelope
	// digest is env's signing digest, which its receipt binds.
	digest   [32]byte
	rec      contracts.Record
	decision *policy.Decision
	in       store.Incoming
	refersTo string
	// stored is set for an envelope stored before: it is answered
	// "duplicate" and neither decided nor stored again.
	stored bool
	// answered is the answer in.Answer listed in the commit that stored
	// the envelope, answerErr why it did not (store.Received).
	answered  *store.Answer
	answerErr error
}

// Receive runs the import path for a batch from a peer node and answers a
// result per envelope, with the chain of the key that signed their
// receipts. The batch is refused as a whole (an error) only when
// its signing chain does not verify or does not belong to the calling node;
// it fails as a whole, for its origin to send again, when this node cannot
// take it now (unavailable: the registry replica not caught up, or the
// commit that stores it or audits its refusals failed).
// decoded is the transport's decoding of envs (peer.Receiver.Receive): each
// decoded[i] with an Env stands for envs[i] unchecked, and envs[i] is what
// is stored once decoded[i] has passed.
func (x *Exchange) Receive(ctx context.Context, from pki.Identity, chain []*x509.Certificate, envs []json.RawMessage, decoded []contracts.DecodedEnvelope) (peer.DeliverResponse, error) {
	signer, err := x.d.Verifier.Verify(chain, x509.ExtKeyUsageAny)
	if err != nil {
		return peer.DeliverResponse{}, &Error{Code: CodeForbidden, Message: "signing chain refused", Err: err}
	}
	if signer.Kind != pki.KindNode || signer.Province != from.Province {
		return peer.DeliverResponse{}, Errorf(CodeForbidden, "envelopes signed by %s may not be delivered by %s", signer, from)
	}
	if !x.registered() {
		return peer.DeliverResponse{}, errNoRegistry
	}
	// One key signs every receipt of the answer, and its chain goes with
	// them: read again, the key pair may have rotated meanwhile.
	key := x.signer()
	now := x.d.Now().UTC()
	results := make([]peer.Result, len(envs))
	// The envelopes that pass are checked into one slab, then gathered at
	// its front in order: no allocation per envelope.
	checked := make([]imported, len(envs))
	passed := make([]bool, len(envs))
	roots := contracts.NewRootVerifier(chain[0].PublicKey)
	sender := sender{id: from, uri: from.URI(), signer: signer.URI(), quotas: &quotaReads{}}
	// Decoded first, so that the batch proofs of envelopes signed together
	// are verified together before each envelope is checked.
	ins := make([]inbound, len(envs))
	forEach(len(envs), func(i int) {
		var d contracts.DecodedEnvelope
		if i < len(decoded) {
			d = decoded[i]
		}
		ins[i] = open(envs[i], d)
	})
	proveTogether(ins, roots)
	// What is stored already was checked when it was stored: check answers
	// it "duplicate" once it is known to come from its origin and to be
	// the envelope stored, whatever its case or the policy say now, as for
	// any redelivery.
	if err := x.stored(from.Province, ins); err != nil {
		return peer.DeliverResponse{}, &Error{Code: CodeUnavailable, Message: "look up received envelopes", Err: err}
	}
	// The cases the referral updates move, and those held under the keys
	// of its referrals, read for the whole request in one transaction as
	// the origin's screen does, not one per record. A store that cannot
	// give them defers the updates, which the origin sends again, and lets
	// the rest of the request through (the commit checks a referral's key
	// again); a case that does not decode defers only the records under
	// its key.
	cases, unreadable, casesErr := x.updatedCases(len(ins), func(i int) contracts.Record { return ins[i].rec })
	if casesErr != nil {
		x.d.Log.Error("defer a delivery's referral updates", "from", from.Province, "err", casesErr)
	}
	// An update of a case opened here is of that case only if its referral
	// reached the update's origin: read how each such referral was answered.
	sent, sentErr := x.sentStates(len(ins), func(i int) contracts.Record { return ins[i].rec }, cases)
	if sentErr != nil {
		x.d.Log.Error("defer a delivery's updates of referrals sent from here", "from", from.Province, "err", sentErr)
	}
	for i := range ins {
		if i < len(cases) {
			ins[i].moves = cases[i]
		}
		if i < len(sent) {
			ins[i].sent = sent[i]
		}
		if m := ins[i].moves; sentErr != nil && m != nil && m.OpenedBy == x.d.Province {
			if _, update := ins[i].rec.(*contracts.ReferralUpdate); update {
				ins[i].caseErr = sentErr
			}
		}
		if _, update := ins[i].rec.(*contracts.ReferralUpdate); update && casesErr != nil {
			ins[i].caseErr = casesErr
		} else if err := unreadable[i]; err != nil {
			ins[i].caseErr = err
			x.d.Log.Error("defer a referral update whose case is unreadable", "from", from.Province, "envelope", ins[i].env.ID, "err", err)
		}
	}
	markFollowers(ins)
	forEach(len(envs), func(i int) {
		results[i], passed[i] = x.check(ctx, sender, roots, &ins[i], now, &checked[i])
	})
	// Every envelope refused for good is audited, as the origin audits
	// the refusal's receipt: a forged origin or a bad signature is a flow
	// an auditor of this province must see too. refusedAt lists them by
	// index, once per envelope id. The entries are written once the
	// request is answered without an error, and durable before that
	// answer goes back (done): one the origin sends again, after an
	// error, is audited once, and a rejection, final, is never sent
	// again to be audited then.
	refusedAt := refusals(results)
	done := func() (peer.DeliverResponse, error) {
		if err := x.auditRefusals(ctx, results, refusedAt, func(i int) audit.Entry { return x.refusalOf(&ins[i], results[i], sender.id) }); err != nil {
			return peer.DeliverResponse{}, err
		}
		return peer.DeliverResponse{Results: results, Chain: chainDER(key)}, nil
	}
	ready := checked[:0]
	for i := range checked {
		if passed[i] {
			im := checked[i]
			im.index = i
			ready = append(ready, im)
		}
	}
	if len(ready) == 0 {
		return done()
	}
	dup, firstOf, reused := duplicates(ready)
	if reused != nil {
		var at []int
		ready, at = refuseReused(ready, reused, results)
		refusedAt = append(refusedAt, at...)
		dup, firstOf, _ = duplicates(ready) // the first copies are left, none reused
	}
	held := heldCases(ins, results)
	signed, err := x.receiptsFor(key, ready, dup, now, peer.ReceiptBinding(ctx))
	if err != nil {
		x.d.Log.Error("sign receipts", "envelopes", len(ready), "err", err)
		for _, im := range ready {
			results[im.index] = deferred(im.env.ID, "receipt_error")
		}
		return done()
	}
	refused, err := x.storeFresh(ctx, key, from, ready, dup, signed, now)
	if err != nil {
		return peer.DeliverResponse{}, err
	}
	var mend []*store.CaseChange
	for i, im := range ready {
		r := &results[im.index]
		if refused != nil {
			// A copy given after its first in this request ends where the
			// first did: refused too, not "duplicate" of what was never
			// stored, and audited once.
			err := refused[i]
			j := firstOf[i]
			if err == nil && j >= 0 {
				err = refused[j]
			}
			if err != nil {
				switch {
				case errors.Is(err, store.ErrOverQuota):
					*r = x.overQuota(&ins[im.index], im.decision, now)
				case held.before(im.rec, im.index) && errors.As(err, new(*transitionError)):
					*r = deferred(im.env.ID, ReasonEarlierUpdateDeferred)
				default:
					*r = x.refusedByCase(im.env.ID, err)
				}
				if r.Status == peer.StatusDeferred {
					held.mark(im.rec, im.index)
				}
				if r.Status == peer.StatusRejected && j < 0 {
					refusedAt = append(refusedAt, im.index)
				}
				continue
			}
		}
		r.Status, r.Receipt = peer.StatusStored, signed[i]
		if dup[i] {
			r.Status = peer.StatusDuplicate
		}
		// Linking a referral update happens after the commit; it is
		// idempotent and runs again on redelivery, so a crash between the
		// commit and it is mended when the origin sends the envelope
		// again. A confirmation was linked in the commit, its inbox item
		// marked with the outcome; a redelivery links one an older
		// release left unlinked. Cases moved in the commit; a redelivery
		// makes their change again, which changes nothing but a case an
		// older version left behind its record, in one commit for the
		// request, and none when the cases read show nothing to change.
		linkErr := x.answer(ctx, im, dup[i], ins[im.index].moves)
		if dup[i] {
			if ch := x.mendCase(im.rec, im.env.ID, im.in.ReceivedAt, ins[im.index].moves); ch != nil {
				mend = append(mend, ch)
			}
		}
		if linkErr != nil {
			// Stored, but not linked to the record it answers: answered
			// without a receipt, it is sent again, and the redelivery, a
			// duplicate, links it, after a restart too.
			*r = deferred(im.env.ID, ReasonAnswerUnlinked)
		}
	}
	x.mendCases(ctx, mend)
	return done()
}

// refusals lists the envelopes check refused for good (results) by index,
// one per envelope id: a copy of one in the same request is refused with
// it, and audited with it.
func refusals(results []peer.Result) []int {
	var at []int
	var seen map[string]bool // made at the first refusal: most requests have none
	for i := range results {
		if results[i].Status != peer.StatusRejected {
			continue
		}
		if id := results[i].EnvelopeID; id != "" {
			if seen[id] {
				continue
			}
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[id] = true
		}
		at = append(at, i)
	}
	return at
}

// refusalOf is the audit entry of the refusal for good (r) of envelope in
// from the peer from: its import denial's, or, refused before or after
// policy decided, a refusal's.
func (x *Exchange) refusalOf(in *inbound, r peer.Result, from pki.Identity) audit.Entry {
	if dec := in.denied; dec != nil {
		return importDeniedEntry(in.env, dec, from)
	}
	return refusalEntry(in.env, r.Reasons, from, x.d.Province)
}

// auditRefusals writes the entries (entry(i)) of the envelopes of a
// request refused for good (results[i], i in at), durable before the
// answer that rejects them goes back: a rejection is final, so the origin
// never sends the envelope again, and an entry lost then is lost for good.
// They go in one commit for the request when the audit log shares the
// store's file, else appended together, sharing the log's group commits.
// An error fails the request, which its origin sends again whole. An
// envelope whose entry the log refuses even without its bad identifiers
// is not rejected without it: it is deferred (audit_error), with its
// copies, as a received envelope is.
func (x *Exchange) auditRefusals(ctx context.Context, results []peer.Result, at []int, entry func(i int) audit.Entry) error {
	if len(at) == 0 {
		return nil
	}
	along, es, bad := x.auditAlong(func(k int) audit.Entry { return entry(at[k]) }, len(at))
	if bad != nil {
		at, es = deferUnaudited(results, at, es, bad)
		if len(at) == 0 {
			return nil
		}
		if along, es, bad = x.auditAlong(func(k int) audit.Entry { return es[k] }, len(es)); bad != nil {
			return &Error{Code: CodeUnavailable, Message: "prepare the refused envelopes' audit entries", Err: errors.Join(bad...)}
		}
	}
	var err error
	if along != nil {
		err = x.d.Store.Update(func(tx *bolt.Tx) error { return along(tx, func(int) bool { return true }) })
	} else {
		err = x.appendAll(ctx, es)
	}
	if err != nil {
		x.d.Log.Error("audit a delivery's refused envelopes; the delivery fails, for its origin to send again", "refused", len(es), "err", err)
		return &Error{Code: CodeUnavailable, Message: "audit the refused envelopes", Err: err}
	}
	return nil
}

// deferUnaudited answers deferred (audit_error) the refused envelopes
// whose entries the audit log refuses (bad[k] for results[at[k]]), and
// every copy of one in the request, and returns the others, with their
// entries.
func deferUnaudited(results []peer.Result, at []int, es []audit.Entry, bad []error) ([]int, []audit.Entry) {
	var keep int
	for k, i := range at {
		if bad[k] == nil {
			at[keep], es[keep] = i, es[k]
			keep++
			continue
		}
		id := results[i].EnvelopeID
		for j := range results {
			if j == i || (id != "" && results[j].EnvelopeID == id && results[j].Status == peer.StatusRejected) {
				results[j] = deferred(results[j].EnvelopeID, "audit_error")
			}
		}
	}
	return at[:keep], es[:keep]
}

// refusedByCase answers an update its case refused as it was to be stored
// (err): rejected when another update moved the case where it cannot take
// this status, or, for a referral, when another referral holds its case
// key (an earlier one of the same request, or this province's own,
// submitted since the request's cases were read); deferred when the case
// could not be read or is not known, which the origin's retry may find
// mended. It answers as well an envelope storeFresh found stored
// meanwhile under its id with another payload (notRedelivered).
func (x *Exchange) refusedByCase(id string, err error) peer.Result {
	var te *transitionError
	var taken *idTakenError
	switch {
	case errors.Is(err, errUnaudited):
		return deferred(id, "audit_error")
	case errors.Is(err, errIDReused), errors.Is(err, errStoredReceipt), errors.Is(err, errStoredEnvelope):
		return x.notRedelivered(id, err)
	case errors.As(err, &te):
		return rejected(id, ReasonInvalidTransition)
	case errors.As(err, &taken):
		return rejected(id, ReasonReferralIDTaken)
	case errors.Is(err, errCaseUnknown):
		return deferred(id, "case_unknown")
	default:
		x.d.Log.Error("defer a referral update whose case is unreadable", "envelope", id, "err", err)
		return deferred(id, "case_unreadable")
	}
}

// receiptsFor signs the answer's receipts with one signature by key:
// "stored" for what is about to be stored, "duplicate" for what was (dup).
// A receipt is signed only for what it says, so the origin cannot assemble
// a "stored" receipt for an envelope the destination only saw again. Each
// binds its whole envelope when the origin asked for it (bind).
func (x *Exchange) receiptsFor(key *pki.Signer, ready []imported, dup []bool, now time.Time, bind bool) ([][]byte, error) {
	receipts := make([]*contracts.Receipt, len(ready))
	for i := range ready {
		status := contracts.ReceiptStored
		if dup[i] {
			status = contracts.ReceiptDuplicate
		}
		receipts[i] = receiptFor(&ready[i], status, now, bind)
	}
	return signReceipts(key, receipts)
}

// receiptFor answers im with status at now: bound to the whole envelope,
// by the signing digest verified with it, when its origin asked for that
// (bind, peer.ReceiptBinding); else binding its id and payload only, as
// earlier releases did, for an origin of such a release, whose strict
// decoder would refuse a receipt with a member it does not know.
func receiptFor(im *imported, status contracts.ReceiptStatus, now time.Time, bind bool) *contracts.Receipt {
	if bind {
		return contracts.NewBoundReceipt(im.env, im.digest, status, "", now)
	}
	return contracts.NewReceipt(im.env, status, "", now)
}

// storeFresh stores the envelopes not marked in dup, each with its signed
// receipt and its audit entry, in one commit. One stored by another request
// since dup was looked up is marked in dup now and given a "duplicate"
// receipt of its own in signed, signed by key as the others are; the
// "stored" one is never sent. An envelope the commit refused (refused[i],
// nil when none was) is not stored, and its receipt is never sent either:
// an update its case refused, an envelope a quota of its agreement had no
// room for (store.ErrOverQuota), or one whose id another request stored
// meanwhile with another payload (errIDReused).
func (x *Exchange) storeFresh(ctx context.Context, key *pki.Signer, from pki.Identity, ready []imported, dup []bool, signed [][]byte, now time.Time) (refused []error, err error) {
	var fresh []int // indexes in ready
	var ins []store.Incoming
	for i, im := range ready {
		if !dup[i] {
			fresh = append(fresh, i)
			in := im.in
			in.Receipt = signed[i]
			ins = append(ins, in)
		}
	}
	if len(ins) == 0 {
		return nil, nil
	}
	along, received, bad := x.auditAlong(func(k int) audit.Entry {
		im := ready[fresh[k]]
		return receivedEntry(im.env, im.rec, im.refersTo, im.decision, from)
	}, len(ins))
	if bad != nil {
		refused = make([]error, len(ready))
		fresh, ins, received = x.unauditedIn(refused, signed, bad, ready, fresh, ins, received)
		if len(ins) == 0 {
			return refused, nil
		}
		if along, received, bad = x.auditAlong(func(k int) audit.Entry { return received[k] }, len(ins)); bad != nil {
			return nil, &Error{Code: CodeUnavailable, Message: "prepare the received envelopes' audit entries", Err: errors.Join(bad...)}
		}
	}
	var also func(*bolt.Tx, []store.Received) error
	if along != nil {
		also = func(tx *bolt.Tx, got []store.Received) error {
			return along(tx, func(k int) bool { return !got[k].Duplicate && got[k].Refused == nil })
		}
	}
	got, err := x.d.Store.ReceiveAnd(ctx, ins, also)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "store received envelopes", Err: err}
	}
	var entries []audit.Entry
	var late []int // indexes in ready
	for k, i := range fresh {
		ready[i].answered, ready[i].answerErr = got[k].Answer, got[k].AnswerErr
		if err := got[k].Refused; err != nil {
			if refused == nil {
				refused = make([]error, len(ready))
			}
			refused[i], signed[i] = err, nil
		} else if got[k].Duplicate {
			// Stored by another request since dup was looked up: a
			// duplicate only if it is the envelope that request stored.
			first, err := sameAsStored(ready[i].env, ready[i].digest, got[k].Arrival)
			if err != nil {
				if refused == nil {
					refused = make([]error, len(ready))
				}
				refused[i], signed[i] = err, nil
				continue
			}
			dup[i], ready[i].in.ReceivedAt = true, first
			late = append(late, i)
		} else if also == nil {
			entries = append(entries, received[k])
		}
	}
	x.audit(ctx, entries...)
	if len(late) > 0 {
		rs := make([]*contracts.Receipt, len(late))
		for k, i := range late {
			rs[k] = receiptFor(&ready[i], contracts.ReceiptDuplicate, now, peer.ReceiptBinding(ctx))
		}
		more, err := signReceipts(key, rs)
		for k, i := range late {
			signed[i] = nil // without a receipt the origin sends it again
			if err == nil {
				signed[i] = more[k]
			}
		}
	}
	return refused, nil
}

// errUnaudited refuses, for now, an envelope whose received entry the
// audit log refuses, which is this node's fault (its configuration or
// code), not the envelope's: check refuses an envelope whose own
// identifiers are not the log's tokens. Not stored, it is deferred, so
// that its origin sends it again once the operator has mended the cause.
var errUnaudited = errors.New("the audit log refuses the received entry")

// unauditedIn leaves out of the commit the envelopes whose received
// entries the audit log refuses (bad[k] for ready[fresh[k]]), marking them
// in refused and dropping their receipts, and returns the others, with
// their incoming and entries: an envelope is not stored without its
// entry, and its entry does not fail the others' commit.
func (x *Exchange) unauditedIn(refused []error, signed [][]byte, bad []error, ready []imported, fresh []int, ins []store.Incoming, received []audit.Entry) ([]int, []store.Incoming, []audit.Entry) {
	var keep int
	for k, i := range fresh {
		if err := bad[k]; err != nil {
			x.d.Log.Error("defer an envelope whose received entry the audit log refuses", "envelope", ready[i].env.ID, "err", err)
			refused[i], signed[i] = errUnaudited, nil
			continue
		}
		fresh[keep], ins[keep], received[keep] = i, ins[k], received[k]
		keep++
	}
	return fresh[:keep], ins[:keep], received[:keep]
}

// stored marks the envelopes of a request stored already (inbound.stored),
// each with its first arrival, from one read transaction that reads one
// only for an envelope found stored: a new envelope costs no more than the
// lookup. One that did not decode is not stored.
func (x *Exchange) stored(from string, ins []inbound) error {
	ids := make([]string, len(ins))
	for i, in := range ins {
		if in.env != nil {
			ids[i] = in.env.ID
		}
	}
	stored, firsts, err := x.d.Store.Received(from, ids)
	if err != nil {
		return err
	}
	for i, in := range ins {
		if stored[i] && in.env != nil {
			ins[i].stored, ins[i].first = true, firsts[i]
		}
	}
	return nil
}

// duplicates marks the envelopes stored before this request, and those
// given twice in it after their first: firstOf[i] is the index of the
// first copy of such an envelope i, -1 for any other envelope. Receive
// answers a later copy as its first copy ended: a duplicate of it once
// it is stored, refused as it was when its case refused it. An envelope
// under the id of an earlier one with another payload is no copy of it,
// nor is one with the same payload and another header (another agreement
// version, say: its signing digest differs, the signer being the same for
// the whole request): it is marked in reused (nil when there is none),
// and Receive refuses it, rather than answer it "duplicate" with a
// receipt bound to an envelope that was never stored.
func duplicates(ready []imported) (dup []bool, firstOf []int, reused []bool) {
	dup, firstOf = make([]bool, len(ready)), make([]int, len(ready))
	first := make(map[string]int, len(ready))
	for i, im := range ready {
		j, again := first[im.env.ID]
		dup[i], firstOf[i] = im.stored || again, -1
		if !again {
			first[im.env.ID] = i
			continue
		}
		firstOf[i] = j
		if ready[j].env.PayloadDigest != im.env.PayloadDigest || ready[j].digest != im.digest {
			if reused == nil {
				reused = make([]bool, len(ready))
			}
			reused[i] = true
		}
	}
	return dup, firstOf, reused
}

// sender is the node a batch came from, and the identity its envelopes are
// signed by, their URIs made once per batch, with what the batch's checks
// read of the quotas (nil: each check reads them).
type sender struct {
	id          pki.Identity
	uri, signer string
	quotas      *quotaReads
}

// inbound is an envelope of a request as decoded, before it is checked.
type inbound struct {
	raw     json.RawMessage
	env     *contracts.Envelope // nil when it could not be decoded at all
	rec     contracts.Record
	recErr  error
	checked bool // by contracts' strict decoder: form, payload digest, canonical payload

	// For a checked envelope signed in a batch: its signing digest, and
	// whether its proof and root signature verified with its tree's
	// (proveTogether). Once verifyInbound passed an envelope, digest is
	// its signing digest however it was signed.
	digest   [32]byte
	digested bool
	proven   bool

	// moves is the case a referral update moves, or the case held under a
	// referral's key, read with those of the whole request (updatedCases);
	// nil for another record or a case not known here, or when caseErr is
	// set: the case could not be read, and check defers the record once
	// the envelope is verified.
	moves   *store.Case
	caseErr error
	// sent is, for an update of a case opened here, how the destination
	// answered the case's referral (sentStates).
	sent store.State
	// follows is set for a referral update that another update of its
	// case, earlier in the request, comes before (markFollowers).
	follows bool
	// stored is set for an envelope stored already (Receive looks them
	// up for the whole request before checking), and first is its first
	// arrival: the receipt stored with it, which tells whether it is the
	// same envelope, and when it arrived.
	stored bool
	first  store.Arrival
	// denied is the import decision that denied the envelope, for its
	// audit entry, which Receive writes with the other refusals'.
	denied *policy.Decision
}

// open decodes an envelope of a request and, when it is signed in a batch,
// computes its signing digest, the leaf of its tree.
func open(raw json.RawMessage, d contracts.DecodedEnvelope) inbound {
	// The payload is decoded strictly but not validated again: the origin
	// validated it before export obligations legitimately masked identifiers
	// and dropped fields, which full validation would now refuse. The
	// transport may have decoded it already, as it read the request (d).
	env, rec, recErr := d.Env, d.Rec, error(nil)
	if env == nil {
		env, rec, recErr = contracts.DecodeEnvelopeRecord(raw)
	}
	in := inbound{raw: raw, env: env, rec: rec, recErr: recErr, checked: env != nil}
	if !in.checked {
		// contracts' strict decoder also checks the envelope's form and
		// payload digest; decode it generically to tell a malformed
		// envelope from a tampered one (refused by check with its reason).
		in.env, _ = decodeEnvelope(raw)
		return in
	}
	if env.Batch != nil && len(env.Signature) == 0 {
		d, err := env.SigningDigest()
		in.digest, in.digested = d, err == nil
	}
	return in
}

// check verifies one envelope and decides its import; when it passes, it
// answers true and fills im with what to store.
func (x *Exchange) check(ctx context.Context, from sender, roots *contracts.RootVerifier, in *inbound, now time.Time, im *imported) (peer.Result, bool) {
	env, rec, recErr, checked := in.env, in.rec, in.recErr, in.checked
	if env == nil {
		return rejected("", ReasonMalformed), false
	}
	switch {
	case env.Origin != from.id.Province:
		return rejected(env.ID, ReasonOriginMismatch), false
	case env.Destination != x.d.Province:
		return rejected(env.ID, ReasonWrongDest), false
	case env.Signer != from.signer:
		return rejected(env.ID, ReasonSignerMismatch), false
	}
	if err := verifyInbound(in, roots); err != nil {
		return rejected(env.ID, ReasonBadSignature), false
	}
	if !checked {
		// Signed, but not a well-formed envelope: nothing past the strict
		// decoder's checks is decided.
		return rejected(env.ID, ReasonMalformed), false
	}
	if in.stored {
		// Its origin sends it again (the receipt was lost, or the origin
		// crashed before recording it): it passed every check when it was
		// stored, and a case it moved has moved on since. Another envelope
		// under its id passed none of them. What it links or mends is
		// dated by its first arrival.
		first, err := sameAsStored(env, in.digest, in.first)
		if err != nil {
			return x.notRedelivered(env.ID, err), false
		}
		*im = imported{env: env, digest: in.digest, rec: rec, in: store.Incoming{EnvelopeID: env.ID, From: env.Origin, Type: string(env.Type), ReceivedAt: first}, stored: true}
		return peer.Result{EnvelopeID: env.ID}, true
	}
	if recErr != nil {
		return rejected(env.ID, ReasonInvalidRecord), false
	}
	if reason := badIDs(env, rec); reason != "" {
		// Its ids go into this node's store keys and audit log, which
		// holds tokens only: refused, final, and audited without them.
		return rejected(env.ID, reason), false
	}
	h := rec.Head()
	if h.From != env.Origin || h.To != env.Destination || h.AgreementID != env.AgreementID || h.Purpose != env.Purpose || rec.Type() != env.Type {
		return rejected(env.ID, ReasonEnvelopeMismatch), false
	}
	if env.Created.After(now.Add(contracts.MaxClockAhead)) {
		x.d.Log.Warn("an envelope sealed ahead of this node's clock is deferred until its time; check the clocks of both nodes",
			"envelope", env.ID, "from", env.Origin, "ahead", env.Created.Sub(now).Round(time.Second))
		return deferred(env.ID, ReasonSealedAhead), false
	}
	if in.caseErr != nil {
		// Verified first, so that only the envelope's signer learns that
		// this node cannot read the case now.
		return deferred(env.ID, "case_unreadable"), false
	}
	if _, ok := rec.(*contracts.Referral); ok && in.moves != nil && in.moves.EnvelopeID != env.ID {
		// Another referral between the two provinces holds the id: the
		// other province opened one with it before this one arrived.
		// Stored, this one would be taken for a redelivery of that one and
		// its updates would move that case. Final: its origin must refer
		// the case again under another id.
		return rejected(env.ID, ReasonReferralIDTaken), false
	}
	var refersTo string
	if u, ok := rec.(*contracts.ReferralUpdate); ok {
		if in.moves == nil {
			// Its referral has not arrived (deferred, or in a later
			// batch): stored now, the update would never move the case.
			// Its origin keeps it and sends it again, with backoff, as any
			// deferred envelope, until the referral is here.
			return deferred(env.ID, "case_unknown"), false
		}
		if in.moves.OpenedBy == x.d.Province {
			// A case opened here: the update is of it only if its referral
			// reached the update's origin. One that origin refused (it
			// held the id for a referral of its own: both provinces opened
			// one before either arrived) it does not have, so the update
			// is of its own referral, which is not known here under this
			// id: rejected, lest it move this province's case. One not
			// answered yet may be in flight: deferred until it is, under a
			// reason of its own, and said here, since only this node can
			// settle it (a referral given up on waits for a requeue).
			switch in.sent {
			case store.StateDelivered, "":
			case store.StateRejected:
				return rejected(env.ID, ReasonReferralIDTaken), false
			case store.StateDiscarded:
				// Given up on here, though the peer may have it (a dead
				// letter whose answer could not be read): deferred, not
				// rejected as another's id, but never answered.
				x.d.Log.Warn("an update of a referral sent from here whose dead letter was discarded is deferred every time its origin sends it; refer the case again under another id",
					"update", env.ID, "referral", in.moves.EnvelopeID, "case", in.moves.Key)
				return deferred(env.ID, ReasonReferralUnanswered), false
			default:
				x.d.Log.Warn("an update of a referral sent from here waits for that referral's answer; requeue the referral if it is a dead letter",
					"update", env.ID, "referral", in.moves.EnvelopeID, "case", in.moves.Key, "referral_state", in.sent)
				return deferred(env.ID, ReasonReferralUnanswered), false
			}
		}
		// The case must be able to take the status here too, from this
		// sender: a peer may not move a referred case straight to closed,
		// nor answer a referral it opened. One that follows another update
		// of its case in the request is checked in the commit alone,
		// against the case as the updates before it leave it.
		if !in.follows && updateProblems(u, in.moves) != nil {
			return rejected(env.ID, ReasonInvalidTransition), false
		}
		refersTo = in.moves.EnvelopeID
	}
	agreements, err := x.d.Agreements.Agreements(ctx, h.From, h.To, h.AgreementID)
	if err != nil {
		x.d.Log.Error("look up agreements", "envelope", env.ID, "err", err)
		return deferred(env.ID, "registry_unavailable"), false
	}
	// Policy decides the quotas here too, on what this node received: an
	// origin that skips its own check (an older release, a dishonest node)
	// does not push records past them.
	used, counters := from.quotas.usage(x, agreements, env)
	dec, err := x.d.Policy.Decide(ctx, policy.Request{Side: policy.Import, Record: rec, Peer: from.uri, Agreements: agreements, QuotaUsed: used, Time: now})
	if err != nil {
		x.d.Log.Error("import decision", "envelope", env.ID, "err", err)
		return deferred(env.ID, "policy_error"), false
	}
	if !dec.Allow {
		if x.mayLag(dec, env, now) {
			return deferred(env.ID, dec.Codes()...), false
		}
		in.denied = dec
		return rejected(env.ID, dec.Codes()...), false
	}
	record, err := importedRecord(env.Payload, rec, dec)
	if err != nil {
		x.d.Log.Error("apply import obligations", "envelope", env.ID, "err", err)
		return deferred(env.ID, "policy_error"), false
	}
	envelope := in.raw
	if !bytes.Equal(record, env.Payload) {
		if envelope, err = withoutPayload(env); err != nil {
			x.d.Log.Error("withhold an edited payload", "envelope", env.ID, "err", err)
			return deferred(env.ID, "policy_error"), false
		}
	}
	// What a redelivery must match, kept with the item past its pruning:
	// a hash of the header alone, the payload standing in by its digest.
	header, err := env.HeaderDigest()
	if err != nil {
		return rejected(env.ID, ReasonMalformed), false
	}
	stored := store.Incoming{EnvelopeID: env.ID, From: env.Origin, Type: string(env.Type), ReceivedAt: now, Envelope: envelope, Record: record, HeaderDigest: header[:], Counters: counters[dec.Agreement.ID]}
	// The case a referral opens or an update moves is written in the
	// commit that stores it; an update is checked again there, since
	// another request may move its case meanwhile.
	stored.Case = x.caseChange(rec, env.ID, now)
	if c, ok := rec.(*contracts.Confirmation); ok {
		// Listed on its transfer in the same commit, as a case change is
		// made, its inbox item marked with how its worker matched: as the
		// import obligations left it, as the inbox item holds it.
		kept, err := keptConfirmation(record, env.Payload, c)
		if err != nil {
			x.d.Log.Error("read a confirmation as its import obligations left it", "envelope", env.ID, "err", err)
			return deferred(env.ID, "policy_error"), false
		}
		stored.Answer = x.confirmationLink(env.ID, kept, now)
	}
	*im = imported{env: env, digest: in.digest, rec: rec, decision: dec, in: stored, refersTo: refersTo}
	return peer.Result{EnvelopeID: env.ID}, true
}

// badIDs is the reason to refuse an envelope whose keys are not what
// contracts define (contracts.ValidateKeys: ids, an agreement_id that is a
// token of the audit log, a case status it knows), "" when they are:
// ReasonMalformed for the envelope's agreement_id, ReasonInvalidRecord for
// the record's. A destination does not validate a record in full (see
// open), so it checks them here; the origin's validation would have
// refused them, but the origin may run an older release, or not be honest.
func badIDs(env *contracts.Envelope, rec contracts.Record) string {
	if contracts.CheckAgreementID(env.AgreementID) != nil {
		return ReasonMalformed
	}
	if contracts.ValidateKeys(rec) != nil {
		return ReasonInvalidRecord
	}
	return ""
}

// importedRecord is the record as this province may use it: the payload as
// it came, canonical already (check refuses an envelope contracts'
// DecodeEnvelope did not read), with the import obligations applied. rec is
// the record decoded from payload.
func importedRecord(payload []byte, rec contracts.Record, dec *policy.Decision) ([]byte, error) {
	if len(dec.Obligations) == 0 || dec.MaskedAlready(rec) {
		return payload, nil
	}
	return dec.ApplyCanonical(payload)
}

// withoutPayload is env encoded with its payload withheld (null), for the
// inbox of a record the import obligations edited: what the origin signed
// holds what this province's policy drops or masks, which would otherwise
// reach the business system, and stay on disk, beside the edited record.
// The payload digest, signature and batch proof still say what was
// signed.
func withoutPayload(env *contracts.Envelope) ([]byte, error) {
	withheld := *env
	withheld.Payload = nil
	return withheld.AppendJSON(nil)
}

// signReceipts signs receipts of one answer together with key (one
// signature over their Merkle root) and encodes them.
func signReceipts(key *pki.Signer, rs []*contracts.Receipt) ([][]byte, error) {
	if err := contracts.SignReceipts(rs, key, key.Identity().URI()); err != nil {
		return nil, err
	}
	out := make([][]byte, len(rs))
	for i, r := range rs {
		var err error
		if out[i], err = r.AppendJSON(nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeEnvelope decodes an envelope strictly: unknown members are refused
// rather than silently dropped from what the signature covers.
func decodeEnvelope(raw []byte) (*contracts.Envelope, error) {
	if len(raw) > contracts.MaxRecordSize*2 {
		return nil, fmt.Errorf("envelope of %d bytes is over the limit", len(raw))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var env contracts.Envelope
	if err := dec.Decode(&env); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the envelope")
	}
	return &env, nil
}

// LagWindow is how long after an envelope was sealed a denial that may come
// from this node's registry replica lagging behind the origin's is answered
// "deferred" (the origin retries) rather than final.
const LagWindow = 10 * time.Minute

// lagCodes are the denials a replica that has not yet applied an agreement's
// proposal, approval or resumption would give, or its amendment that
// raised a quota (the origin counted under the new one).
var lagCodes = []string{"no_agreement", "agreement_inactive", "agreement_suspended", "quota_reached"}

// mayLag reports whether an import denial may only mean that this node's
// registry is behind the origin's: the origin exported under an agreement
// this node does not (yet) see in force. While the replica is stale, or the
// envelope is younger than LagWindow, such a denial is deferred; after that
// it is final, and audited. Only the federation bundle's reasons can say
// so: the province's policy is this node's own and lags nothing, whatever
// codes it gives, and a denial with no reason tells nothing of a lag.
func (x *Exchange) mayLag(dec *policy.Decision, env *contracts.Envelope, now time.Time) bool {
	if len(dec.Reasons) == 0 {
		return false
	}
	for _, r := range dec.Reasons {
		if r.Layer == policy.LayerProvince || !slices.Contains(lagCodes, r.Code) {
			return false
		}
	}
	stale := x.d.Stale != nil && x.d.Stale()
	return stale || now.Sub(env.Created) < LagWindow
}

// deferred answers an envelope that cannot be decided now; the origin keeps
// it and retries.
func deferred(id string, reasons ...string) peer.Result {
	return peer.Result{EnvelopeID: id, Status: peer.StatusDeferred, Reasons: reasons}
}

func rejected(id string, reasons ...string) peer.Result {
	return peer.Result{EnvelopeID: id, Status: peer.StatusRejected, Reasons: reasons}
}

// answer links a received confirmation or referral update to the record it
// answers on this node, so the submitter sees it on that record. dup is
// set for an envelope stored before this request. moves is the case an
// update moves, as read for the request (nil when not known): an update of
// a case the peer opened answers no record sent from here, and is only on
// its case. A confirmation was linked in the commit that stored it
// (confirmationLink), checked against the worker of its transfer: one of
// another worker is linked refused, and confirms nothing. It returns the
// error of a link not made that linking again may make (see unlinked).
func (x *Exchange) answer(ctx context.Context, im imported, dup bool, moves *store.Case) error {
	switch rec := im.rec.(type) {
	case *contracts.Confirmation:
		return x.confirmationAnswered(ctx, im, rec, dup)
	case *contracts.ReferralUpdate:
		if moves != nil && moves.OpenedBy != x.d.Province {
			return nil
		}
		ref := x.d.Province + "/" + string(contracts.RecordReferral) + "/" + rec.ReferralID
		data, _ := json.Marshal(struct {
			Status contracts.CaseStatus `json:"status"`
			At     time.Time            `json:"at"`
		}{rec.Status, rec.At})
		a := store.Answer{EnvelopeID: im.env.ID, Type: string(im.env.Type), ReceivedAt: im.in.ReceivedAt, Summary: data}
		if dup {
			// Sent again, it is mostly listed already, which LinkAnswer
			// tells from a read, without a commit.
			_, err := x.d.Store.LinkAnswer(ctx, im.env.Origin, &store.AnswerLink{Ref: ref, Make: func(*store.SentWorker) (store.Answer, string) { return a, "" }})
			return x.unlinked(im, err)
		}
		return x.unlinked(im, x.d.Store.AddAnswer(ctx, ref, im.env.Origin, a))
	}
	return nil
}

// ReasonAnswerUnlinked defers a confirmation or referral update stored
// here but not linked to the record it answers, for want of a commit (the
// store failed) or of a record status that reads: sent again, it is a
// duplicate, which is linked then.
const ReasonAnswerUnlinked = "answer_unlinked"

// unlinked says why answer im is not linked to the record it answers (err,
// nil when it is) and returns err when linking it again may make the link:
// the commit failed, or the record's status could not be read or written.
// An answer that names no record sent from here to its origin, or one past
// the most its record keeps, is in the inbox alone for good, and nil is
// returned.
func (x *Exchange) unlinked(im imported, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrTooManyAnswers):
		// In the inbox, not on the record: the peer may be sending
		// answers without end.
		x.d.Log.Warn("answer not linked: its record holds the most answers it keeps; it is in the inbox", "envelope", im.env.ID, "type", im.env.Type, "from", im.env.Origin, "most", store.MaxAnswers)
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNotAnswerable):
		// An answer to a record this node never sent (to its origin) is
		// worth an operator's look.
		x.d.Log.Warn("answer matches no record sent from here", "envelope", im.env.ID, "type", im.env.Type, "err", fmt.Sprint(err))
		return nil
	default:
		// Not linked, rather than linked unchecked for good; the origin
		// sends it again.
		x.d.Log.Error("answer not linked to the record it answers: it is in the inbox, and deferred so that its origin sends it again", "envelope", im.env.ID, "type", im.env.Type, "from", im.env.Origin, "err", err)
		return err
	}
}
