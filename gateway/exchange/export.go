package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// exported is a record that passed every check and is ready to queue.
type exported struct {
	index    int
	out      store.Outgoing
	env      *contracts.Envelope
	rec      contracts.Record
	decision *policy.Decision
	// refersTo is the referral envelope an update moves, for its audit
	// entry.
	refersTo string
}

// Submit runs the export path for a submission from a provincial system and
// answers per record. Accepted records are durable when it returns. An error
// means the submission as a whole could not be handled (nothing was queued).
func (x *Exchange) Submit(ctx context.Context, caller pki.Identity, docs []json.RawMessage) ([]SubmitResult, error) {
	if len(docs) == 0 || len(docs) > MaxSubmit {
		return nil, Errorf(CodeInvalid, "a submission holds 1 to %d records, got %d", MaxSubmit, len(docs))
	}
	if caller.Kind != pki.KindSystem || caller.Province != x.d.Province {
		return nil, Errorf(CodeForbidden, "only a system certificate of province %s may submit records here, not %s", x.d.Province, caller)
	}
	if !x.registered() {
		return nil, errNoRegistry
	}
	now := x.d.Now().UTC()
	results := make([]SubmitResult, len(docs))
	drafts := make([]*draft, len(docs))
	forEach(len(docs), func(i int) {
		results[i], drafts[i] = x.parse(caller, docs[i], now)
	})
	// A fault screen meets fails the submission before any record of it is
	// decided: a denial stored and audited now would never be answered.
	if err := x.screen(ctx, results, drafts, now); err != nil {
		return nil, err
	}
	prepared := make([]*exported, len(docs))
	faults := make([]error, len(docs))
	forEach(len(docs), func(i int) {
		if drafts[i] != nil {
			prepared[i], faults[i] = x.prepare(ctx, caller, &results[i], drafts[i], now)
		}
	})
	var ready []exported
	// An update never travels with its own referral: one submission is
	// one province's, and the province that opens a case may only close
	// it, which a case just referred cannot be (screen refuses it). So
	// every update queued here moves a case stored before, its referral's
	// envelope known (refersTo, for its audit entry).
	for i := range docs {
		results[i].Index = i
		if err := faults[i]; err != nil {
			x.refuseFault(&results[i], i, err)
			continue
		}
		e := prepared[i]
		if e == nil {
			continue
		}
		e.index = i
		ready = append(ready, *e)
	}
	if len(ready) == 0 {
		return results, nil
	}
	outs := make([]store.Outgoing, len(ready))
	for i, e := range ready {
		outs[i] = e.out
		// A referral's case is written in the commit that queues it, as its
		// audit entry is, so a crash cannot leave an accepted referral
		// without the case it opens; an update is checked again there,
		// since concurrent submissions may have moved its case since screen.
		outs[i].Case = x.caseChange(e.rec, e.env.ID, e.env.Created)
		if j := drafts[e.index].after; j >= 0 {
			outs[i].Case = following(outs[i].Case, j, sealedID(prepared[j]))
		}
	}
	along, sent, bad := x.auditAlong(func(i int) audit.Entry {
		return sentEntry(ready[i].env, ready[i].rec, ready[i].refersTo, ready[i].decision, caller)
	}, len(ready))
	if bad != nil {
		ready, outs, sent = x.unaudited(results, bad, ready, outs, sent)
		if len(ready) == 0 {
			return results, nil
		}
		if along, sent, bad = x.auditAlong(func(i int) audit.Entry { return sent[i] }, len(ready)); bad != nil {
			return nil, &Error{Code: CodeUnavailable, Message: "prepare the records' audit entries", Err: errors.Join(bad...)}
		}
	}
	var also func(*bolt.Tx, []store.Enqueued) error
	if along != nil {
		also = func(tx *bolt.Tx, enq []store.Enqueued) error {
			return along(tx, func(i int) bool { return !enq[i].Duplicate && !enq[i].OverQuota && enq[i].Refused == nil })
		}
	}
	enq, err := x.d.Store.EnqueueAnd(ctx, outs, also)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "queue records", Err: err}
	}
	peers := map[string]bool{}
	var after []audit.Entry
	for i, e := range ready {
		r := &results[e.index]
		r.EnvelopeID = enq[i].EnvelopeID
		if enq[i].Duplicate {
			r.Outcome = OutcomeDuplicate
			continue
		}
		if err := enq[i].Refused; err != nil {
			x.refuseCaseChange(r, e.index, err)
			continue
		}
		if enq[i].OverQuota {
			// Earlier records of this or a concurrent submission used the
			// quota up after the decision read it.
			x.answerDenied(ctx, r, e.rec, quotaDenial(e.decision, e.rec.Type()), caller)
			continue
		}
		r.Outcome = OutcomeAccepted
		peers[e.out.Peer] = true
		if also == nil {
			after = append(after, sent[i])
		}
	}
	x.audit(ctx, after...)
	for p := range peers {
		x.d.Delivery.Notify(p)
	}
	return results, nil
}

// unaudited answers the records whose sent entries the audit log refuses
// (bad[i] for ready[i]) and returns the others, with their outs and
// entries: a record is not queued without its entry, and its entry does
// not fail the others' commit.
func (x *Exchange) unaudited(results []SubmitResult, bad []error, ready []exported, outs []store.Outgoing, sent []audit.Entry) ([]exported, []store.Outgoing, []audit.Entry) {
	var keep int
	for i := range ready {
		if err := bad[i]; err != nil {
			x.d.Log.Error("refuse a record whose sent entry the audit log refuses", "ref", outs[i].Ref, "err", err)
			r := &results[ready[i].index]
			r.Outcome, r.Error = OutcomeUnavailable, unauditedMessage
			continue
		}
		ready[keep], outs[keep], sent[keep] = ready[i], outs[i], sent[i]
		keep++
	}
	return ready[:keep], outs[:keep], sent[:keep]
}

// draft is a record of a submission that passed parse, on its way through
// screen and prepare.
type draft struct {
	rec contracts.Record
	// agreements and quotas are screen's: the agreements the record may
	// travel under and the quota counters of its type under them.
	agreements []contracts.Agreement
	quotas     []quota
	// refersTo is screen's too: the referral envelope an update moves.
	refersTo string
	// after is screen's too: the index of the update of the same case
	// before an update in the submission, which it follows; -1 for none.
	after int
}

// sealedID is the envelope id of e, "" when there is none (its record
// was refused, or denied, as it was prepared).
func sealedID(e *exported) string {
	if e == nil {
		return ""
	}
	return e.env.ID
}

// parse decodes and validates one record and checks that it is this
// province's to send. A record that fails has its answer in the result and
// no draft.
func (x *Exchange) parse(caller pki.Identity, doc json.RawMessage, now time.Time) (SubmitResult, *draft) {
	rec, err := contracts.Parse(doc, now)
	if err != nil {
		return SubmitResult{Outcome: OutcomeInvalid, Problems: problems(err)}, nil
	}
	h := rec.Head()
	res := SubmitResult{Ref: Ref(h, rec.Type()), Destination: h.To}
	if h.From != x.d.Province {
		res.Outcome, res.Error = OutcomeForbidden, fmt.Sprintf("from is %s, but this node and %s speak for province %s", h.From, caller, x.d.Province)
		return res, nil
	}
	return res, &draft{rec: rec, after: -1}
}

// answerChanged answers invalid, and sets to nil, each draft whose
// reference, new (answerDuplicates answered those accepted before), an
// earlier record of the submission has, with other content: the commit
// would answer it "duplicate" of that record, as if it were a copy, and
// its changes would silently never cross. A copy is left to be answered
// duplicate. Only records whose reference repeats are digested.
func answerChanged(results []SubmitResult, drafts []*draft) {
	var first map[string]int
	for i, d := range drafts {
		if d == nil {
			continue
		}
		j, seen := first[results[i].Ref]
		if !seen {
			if first == nil {
				first = make(map[string]int)
			}
			first[results[i].Ref] = i
			continue
		}
		if same, err := sameContent(drafts[j].rec, d.rec); err != nil || same {
			continue // a copy, or one that cannot be told from it: the commit answers it
		}
		results[i].Outcome, results[i].Problems = OutcomeInvalid, []contracts.FieldError{{Path: "id", Message: fmt.Sprintf(
			"the record at index %d of this submission (counting from 0) has id %q too, with other content; one id names one record: give this one an id of its own", j, d.rec.Head().ID)}}
		drafts[i] = nil
	}
}

// sameContent reports whether two records have the same canonical form.
func sameContent(a, b contracts.Record) (bool, error) {
	da, err := contracts.Digest(a)
	if err != nil {
		return false, err
	}
	db, err := contracts.Digest(b)
	return da == db, err
}

// screen answers the drafts that are duplicates, records changed under a
// new reference an earlier record of the submission has, referrals whose
// id another referral between the two provinces holds, invalid updates (each
// checked against its case as the updates of the case before it in the
// submission leave it, and refused when one of those was: caseSteps) or
// updates of a case that does not decode, and finds the others' agreements and
// quota usage. It reads the store in at most four transactions, one for
// every reference, one for the cases updates move (none without an update),
// one for the states of the referrals sent from here that those cases
// opened, and one for every counter, rather than so many per record. A draft it
// answers is set to nil. It returns the first fault of the node it meets
// (cases or agreements it cannot read), which fails the submission whole,
// without screening the records after it.
func (x *Exchange) screen(ctx context.Context, results []SubmitResult, drafts []*draft, now time.Time) error {
	x.answerDuplicates(results, drafts)
	answerChanged(results, drafts)
	cases, unreadable, casesErr := x.updatedCases(len(drafts), func(i int) contracts.Record {
		if drafts[i] == nil {
			return nil
		}
		return drafts[i].rec
	})
	if casesErr != nil {
		// The submitter hears it as unavailable; the operator needs the cause.
		x.d.Log.Error("refuse a submission's referral updates", "err", casesErr)
	}
	// An update of a case opened here whose referral the destination
	// refused would move a case the destination does not have (there the
	// id is another referral's). Unread, the destination still refuses it.
	sent, err := x.sentStates(len(drafts), func(i int) contracts.Record {
		if drafts[i] == nil {
			return nil
		}
		return drafts[i].rec
	}, cases)
	if err != nil {
		x.d.Log.Warn("read the states of referrals sent from here", "err", err)
	}
	var steps caseSteps
	for i, d := range drafts {
		if d == nil {
			continue
		}
		if r, ok := d.rec.(*contracts.Referral); ok && i < len(cases) && cases[i] != nil {
			// Its reference is new (answerDuplicates), so the case held
			// under its key is another referral's: the other province's,
			// or another envelope's. The commit checks again.
			results[i].Outcome, results[i].Problems = OutcomeInvalid, (&idTakenError{id: r.ID, held: cases[i]}).problems()
			drafts[i] = nil
			continue
		}
		if u, ok := d.rec.(*contracts.ReferralUpdate); ok {
			if casesErr != nil {
				return &Error{Code: CodeUnavailable, Message: "read the referral cases", Err: casesErr}
			}
			if err := unreadable[i]; err != nil {
				x.refuseUnreadable(&results[i], i, err)
				drafts[i] = nil
				continue
			}
			// Before the case's moves: whatever the status, the
			// destination has no case of that referral to move.
			if i < len(sent) && sent[i] == store.StateRejected {
				results[i].Outcome, results[i].Problems = OutcomeInvalid, []contracts.FieldError{{Path: "referral_id", Message: fmt.Sprintf(
					"province %s rejected referral %q (envelope %s), so it follows no case of it to update; see the referral's record for why", u.To, u.ReferralID, cases[i].EnvelopeID)}}
				drafts[i] = nil
				continue
			}
			a := steps.next(i, u, results[i].Ref, cases[i])
			if a.after >= 0 && drafts[a.after] == nil {
				results[i].Outcome, results[i].Problems = OutcomeInvalid, earlierRefused(a.after)
				drafts[i] = nil
				continue
			}
			if p := updateProblems(u, a.c); p != nil {
				results[i].Outcome, results[i].Problems = OutcomeInvalid, p
				drafts[i] = nil
				continue
			}
			steps.took(i, u, a)
			d.refersTo, d.after = cases[i].EnvelopeID, a.after
		}
		h := d.rec.Head()
		agreements, err := x.d.Agreements.Agreements(ctx, h.From, h.To, h.AgreementID)
		if err != nil {
			return &Error{Code: CodeUnavailable, Message: "look up agreements", Err: err}
		}
		d.agreements, d.quotas = agreements, quotas(agreements, d.rec.Type(), now)
	}
	var qs []quota
	for _, d := range drafts {
		if d != nil {
			qs = append(qs, d.quotas...)
		}
	}
	x.readQuotas(qs)
	for _, d := range drafts {
		if d != nil {
			d.quotas, qs = qs[:len(d.quotas)], qs[len(d.quotas):]
		}
	}
	return nil
}

// refuseUnreadable answers the update or referral at index i of a
// submission, whose case does not decode (err), as unavailable: the fault is the node's, and
// the rest of the submission goes on. The operator gets the cause, which
// names the case by its key and holds no personal data.
func (x *Exchange) refuseUnreadable(r *SubmitResult, i int, err error) {
	x.d.Log.Error("refuse a referral update whose case is unreadable", "index", i, "err", err)
	r.Outcome = OutcomeUnavailable
	r.Error = "this node cannot read the referral case the record opens or moves (its operator is told why); submit it again later"
}

// refuseFault answers unavailable the record at index i of a submission
// whose decision or envelope this node failed to make (err, from prepare:
// a fault of the node or of its policy, such as a province rule that
// cannot be evaluated for records of this shape, never of the record).
// The rest of the submission goes on: failed whole for one record, it
// would answer none of the others, whose denials were stored and audited
// already, and a system sending it again would be held up for good by a
// fault that only some records meet. Nothing of this one was queued or
// stored; the operator gets the cause.
func (x *Exchange) refuseFault(r *SubmitResult, i int, err error) {
	x.d.Log.Error("refuse a record this node could not decide on or seal", "index", i, "err", err)
	r.Outcome, r.Error = OutcomeUnavailable, "this node could not decide on the record or seal it (its operator is told why); nothing was queued; submit it again later"
}

// refuseCaseChange answers the update or referral at index i of a
// submission whose case refused it as it was queued (err): invalid when a
// concurrent update moved the case where it cannot take this status (the
// problem says where the case is now), when an earlier update of its case
// in the submission was not taken (following), or when another referral
// holds the referral's case key (the problem names that case), else
// unavailable, as for a case that does not decode or went away. Nothing
// was queued; the reference is free for a corrected update.
func (x *Exchange) refuseCaseChange(r *SubmitResult, i int, err error) {
	r.EnvelopeID = ""
	var te *transitionError
	if errors.As(err, &te) {
		r.Outcome, r.Problems = OutcomeInvalid, te.problems
		return
	}
	var taken *idTakenError
	if errors.As(err, &taken) {
		r.Outcome, r.Problems = OutcomeInvalid, taken.problems()
		return
	}
	var earlier *earlierRefusedError
	if errors.As(err, &earlier) {
		r.Outcome, r.Problems = OutcomeInvalid, earlierRefused(earlier.index)
		return
	}
	x.refuseUnreadable(r, i, err)
}

// answerDuplicates answers the drafts whose reference was queued before,
// from one read of all their references, and sets them to nil. A
// reference that cannot be read is taken as new, as a lookup that fails
// was: the commit that queues it checks again.
func (x *Exchange) answerDuplicates(results []SubmitResult, drafts []*draft) {
	var refs []string
	for i, d := range drafts {
		if d != nil {
			refs = append(refs, results[i].Ref)
		}
	}
	ids, _ := x.d.Store.LookupAll(refs)
	for i, d := range drafts {
		if d == nil {
			continue
		}
		id := ids[0]
		ids = ids[1:]
		if id != "" {
			results[i].Outcome, results[i].EnvelopeID = OutcomeDuplicate, id
			drafts[i] = nil
		}
	}
}

// prepare decides on a screened record and, when it may cross, signs its
// envelope. It returns an error only for faults of the node; everything
// about the record itself is in res.
func (x *Exchange) prepare(ctx context.Context, caller pki.Identity, res *SubmitResult, d *draft, now time.Time) (*exported, error) {
	rec := d.rec
	used, counters := usage(d.quotas)
	dec, err := x.d.Policy.Decide(ctx, policy.Request{Side: policy.Export, Record: rec, Peer: caller.URI(), Agreements: d.agreements, QuotaUsed: used, Time: now})
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "export decision", Err: err}
	}
	if !dec.Allow {
		x.answerDenied(ctx, res, rec, dec, caller)
		return nil, nil
	}
	env, digest, err := x.seal(rec, dec, now)
	if err != nil {
		return nil, err
	}
	out := store.Outgoing{EnvelopeID: env.ID, Ref: res.Ref, Type: string(rec.Type()), Peer: rec.Head().To, Counters: counters[dec.Agreement.ID]}
	if t, ok := rec.(*contracts.Transfer); ok {
		// Kept to match the confirmations that will answer it, as it
		// crossed, digested: the payload is not kept once delivered.
		if out.Worker, err = sentWorker(t, dec, x.d.Store.WorkerDigest); err != nil {
			return nil, &Error{Code: CodeInternal, Message: "keep the transfer's worker to match its confirmations", Err: err}
		}
	}
	if err := out.SetEnvelope(digest, env.AppendJSON); err != nil {
		return nil, &Error{Code: CodeInternal, Message: "encode envelope", Err: err}
	}
	e := &exported{
		out:      out,
		env:      env,
		rec:      rec,
		decision: dec,
		refersTo: d.refersTo,
	}
	return e, nil
}

// seal applies the export obligations and signs the envelope, or, with
// batch signing, names the signer and returns the signing digest that its
// delivery batch will sign (see BatchSender).
func (x *Exchange) seal(rec contracts.Record, dec *policy.Decision, now time.Time) (*contracts.Envelope, []byte, error) {
	var obligations contracts.PayloadEditor
	if len(dec.Obligations) > 0 {
		obligations = dec
	}
	env, err := contracts.NewEnvelopeEdited(rec, dec.Agreement.Version, now, obligations)
	if err != nil {
		return nil, nil, &Error{Code: CodeInternal, Message: "build envelope", Err: err}
	}
	if x.batchSign.Load() {
		env.Signer = x.signer().Identity().URI()
		d, err := env.SigningDigest()
		if err != nil {
			return nil, nil, &Error{Code: CodeInternal, Message: "seal envelope", Err: err}
		}
		return env, d[:], nil
	}
	s := x.signer()
	if err := env.Sign(s, s.Identity().URI()); err != nil {
		return nil, nil, &Error{Code: CodeInternal, Message: "sign envelope", Err: err}
	}
	return env, nil, nil
}

// answerDenied answers r denied for dec under a new envelope id, once
// deny has stored the denial. One deny could not store is answered
// unavailable instead, without an envelope id: the submitter could look
// up no denial under it. Nothing was stored, and a denial takes no
// reference, so the record submitted again is decided again.
func (x *Exchange) answerDenied(ctx context.Context, r *SubmitResult, rec contracts.Record, dec *policy.Decision, caller pki.Identity) {
	id := ulid.Make().String()
	if err := x.deny(ctx, id, r.Ref, rec, dec, caller); err != nil {
		r.Outcome, r.Error, r.EnvelopeID, r.Reasons = OutcomeUnavailable, unstoredDenialMessage, "", nil
		return
	}
	r.Outcome, r.Reasons, r.EnvelopeID = OutcomeDenied, dec.Reasons, id
}

// unstoredDenialMessage answers a record policy denied whose denial this
// node could not store (its store failed, or its audit log refused the
// denial's entry).
const unstoredDenialMessage = "this node could not store the decision on the record; nothing was stored, the operator has the cause; submit it again later"

// deny records a denial so the submitter can look it up, and audits it: in
// the commit that records it when the audit log shares the store's file,
// so that a crash cannot leave a denial stored that the log never saw. The
// decision is made whether or not the caller waits for it, so neither
// write is cancelled with the caller's ctx, as audit's are not. It returns
// the error of a commit that failed, which stored nothing: the denial is
// then neither audited nor to be answered. Nor is one whose entry the
// audit log refuses even without its bad identifiers: as no record is
// queued without its entry (unaudited), no denial is stored without it.
func (x *Exchange) deny(ctx context.Context, id, ref string, rec contracts.Record, dec *policy.Decision, caller pki.Identity) error {
	ctx = context.WithoutCancel(ctx)
	h := rec.Head()
	st := store.Status{EnvelopeID: id, Ref: ref, Type: string(rec.Type()), Peer: h.To, Reasons: dec.Codes()}
	along, es, bad := x.auditAlong(func(int) audit.Entry { return deniedEntry(id, rec, dec, caller) }, 1)
	if bad != nil {
		x.d.Log.Error("refuse a record whose denied entry the audit log refuses", "envelope", id, "err", bad[0])
		return bad[0]
	}
	var also func(*bolt.Tx) error
	if along != nil {
		also = func(tx *bolt.Tx) error { return along(tx, func(int) bool { return true }) }
	}
	if err := x.d.Store.DenyAnd(ctx, st, also); err != nil {
		x.d.Log.Error("store a denial; the record is answered unavailable", "envelope", id, "err", err)
		return err
	}
	if along == nil {
		// The log has a file of its own.
		x.audit(ctx, es...)
	}
	return nil
}

// quotaDenial is the decision for a record the store found over quota: the
// decision's revisions (export, or import: overQuota), denied for the quota
// of records of type t, naming the agreement, as the decision's own
// quota_reached does.
func quotaDenial(allowed *policy.Decision, t contracts.RecordType) *policy.Decision {
	d := *allowed
	d.Allow, d.Obligations = false, nil
	// An allowed decision names its agreement: its quotas' counters are
	// the ones the store found used up.
	a := allowed.Agreement
	d.Reasons = []policy.Reason{{Code: "quota_reached", Layer: policy.LayerFederation, Message: fmt.Sprintf(
		"agreement %s v%d: a quota of %s records is used up in its period, by records taken after the decision read it", a.ID, a.Version, t)}}
	return &d
}

// quota is a quota of a record's type under one candidate agreement: the
// counter an accepted record increments, and its value (read is false when
// it could not be read).
type quota struct {
	agreement string
	period    contracts.QuotaPeriod
	counter   store.Counter
	used      uint64
	read      bool
}

// quotas lists the quotas of record type t under each candidate agreement.
func quotas(agreements []contracts.Agreement, t contracts.RecordType, now time.Time) []quota {
	var out []quota
	for _, a := range agreements {
		for _, q := range a.Quotas {
			if q.RecordType != t {
				continue
			}
			out = append(out, quota{agreement: a.ID, period: q.Period,
				counter: store.Counter{Name: quotaCounter(a.ID, t, q.Period, now), Max: uint64(max(q.Max, 0))}})
		}
	}
	return out
}

// readQuotas reads the counters of qs, in one transaction. One that cannot
// be read is left out of the usage the decision is told of (and the commit
// that counts the record still checks its limit).
func (x *Exchange) readQuotas(qs []quota) {
	names := make([]string, len(qs))
	for i, q := range qs {
		names[i] = q.counter.Name
	}
	counts, err := x.d.Store.Counters(names)
	for i := range qs {
		if err != nil {
			x.d.Log.Error("read quota", "counter", names[i], "err", err)
			continue
		}
		qs[i].used, qs[i].read = counts[i], true
	}
}

// quotaUsage reads the counters of qs, the quotas of a record's type under
// each candidate agreement (quotas, receivedQuotas), and returns their
// usage and the counters a record taken increments, as usage does.
func (x *Exchange) quotaUsage(qs []quota) (map[policy.QuotaKey]int, map[string][]store.Counter) {
	x.readQuotas(qs)
	return usage(qs)
}

// usage is what the export decision is told of the quotas' usage, and the
// counters an accepted record increments, by agreement.
func usage(qs []quota) (map[policy.QuotaKey]int, map[string][]store.Counter) {
	var used map[policy.QuotaKey]int
	counters := map[string][]store.Counter{}
	for _, q := range qs {
		counters[q.agreement] = append(counters[q.agreement], q.counter)
		if !q.read {
			continue
		}
		if used == nil {
			used = map[policy.QuotaKey]int{}
		}
		used[policy.QuotaKey{AgreementID: q.agreement, Period: q.period}] = int(q.used)
	}
	return used, counters
}

// chinaStandardTime is UTC+8; quota periods are months and years in China.
var chinaStandardTime = time.FixedZone("CST", 8*60*60)

func quotaCounter(agreement string, t contracts.RecordType, p contracts.QuotaPeriod, now time.Time) string {
	now = now.In(chinaStandardTime)
	period := "total"
	switch p {
	case contracts.QuotaMonth:
		period = now.Format("2006-01")
	case contracts.QuotaYear:
		period = now.Format("2006")
	}
	return "quota/" + agreement + "/" + string(t) + "/" + period
}

// problems turns a decode or validation error into field problems.
func problems(err error) []contracts.FieldError {
	if fe := contracts.FieldErrors(err); fe != nil {
		return fe
	}
	var de *contracts.DecodeError
	if errors.As(err, &de) {
		return []contracts.FieldError{{Path: de.Path, Message: de.Error()}}
	}
	return []contracts.FieldError{{Message: err.Error()}}
}

// audit appends entries concurrently, so that they share the audit log's
// group commits instead of waiting for one fsync each, and returns once all
// are durable. The entries are of what happened already (a commit, a
// decision): a caller that goes away meanwhile (a client hanging up) does
// not cancel them. Only when the audit log has a file of its own does this
// run after the store's commit, and then a crash in between still loses
// them; in node.db they are written in that commit. An append that fails
// is logged.
func (x *Exchange) audit(ctx context.Context, entries ...audit.Entry) {
	_ = x.appendAll(ctx, entries)
}

// appendAll is audit, which returns the appends' errors, joined, besides
// logging each.
func (x *Exchange) appendAll(ctx context.Context, entries []audit.Entry) error {
	ctx = context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	errs := make([]error, len(entries))
	for i, e := range entries {
		if e.Validate() != nil {
			e = x.auditable(e)
		}
		wg.Go(func() {
			if _, err := x.d.Audit.Append(ctx, e); err != nil {
				x.d.Log.Error("audit append", "kind", e.Kind, "envelope", e.EnvelopeID, "err", err)
				errs[i] = err
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
