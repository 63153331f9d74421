package exchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// nextStatus is the referral lifecycle: a referred case is accepted or
// rejected; an accepted one is investigated, resolved or closed; a resolved
// one is closed. Closed and rejected cases are finished. Each move but
// closing is the answer of the province the case was referred to, which
// does the work (updateProblems); the one that opened it may close it.
var nextStatus = map[contracts.CaseStatus][]contracts.CaseStatus{
	contracts.CaseReferred:      {contracts.CaseAccepted, contracts.CaseRejected},
	contracts.CaseAccepted:      {contracts.CaseInvestigating, contracts.CaseResolved, contracts.CaseClosed},
	contracts.CaseInvestigating: {contracts.CaseResolved, contracts.CaseClosed},
	contracts.CaseResolved:      {contracts.CaseClosed},
}

// updateProblems refuses, before anything is sent, an update for a case
// this node does not know (c is nil), a status case c cannot move to, or
// one its sender may not send: all but closing is for the province the
// case was referred to, lest the opener answer its own referral.
// When an update arrives, check asks it only about a case this node
// follows: one whose case it does not know yet is deferred, not refused.
func updateProblems(u *contracts.ReferralUpdate, c *store.Case) []contracts.FieldError {
	if c == nil {
		return []contracts.FieldError{{Path: "referral_id", Message: fmt.Sprintf("no referral %q between %s and %s is known here", u.ReferralID, u.From, u.To)}}
	}
	if !slices.Contains(nextStatus[contracts.CaseStatus(c.Status)], u.Status) {
		return []contracts.FieldError{{Path: "status", Message: fmt.Sprintf("the case is %s and cannot become %s (allowed: %v)", c.Status, u.Status, nextStatus[contracts.CaseStatus(c.Status)])}}
	}
	if u.From == c.OpenedBy && u.Status != contracts.CaseClosed {
		return []contracts.FieldError{{Path: "status", Message: fmt.Sprintf("only province %s, to which the case was referred, may send %s; province %s, which opened it, may only close it", c.OpenedTo, u.Status, c.OpenedBy)}}
	}
	return nil
}

// caseKey is the key of the case rec opens (a referral) or moves (a
// referral update); "" for a record of another type. A referral's id is
// unique per province pair (a referral whose key another holds is
// refused: idTakenError), so the key names one case.
func caseKey(rec contracts.Record) string {
	switch r := rec.(type) {
	case *contracts.Referral:
		return store.CaseKey(r.From, r.To, r.ID)
	case *contracts.ReferralUpdate:
		return store.CaseKey(r.From, r.To, r.ReferralID)
	}
	return ""
}

// updatedCases reads, in one read transaction, the cases under the keys of
// the referrals and referral updates among n records: rec(i) is the i-th
// record (nil for none), cases[i] the case held under its key, nil when it
// is neither or no case is held there or the case does not decode. For an
// update that is the case it moves; for a referral, a case held already
// means its id is taken (idTakenError), unless it is the referral's own.
// An update whose case is not stored but opened by a referral earlier among
// the records (one request or submission carrying both) gets the case that
// referral opens, with no envelope id, as the commit that stores them in
// order would see it. Such an update is its referral's sender's (a request
// or submission is one province's), which may only close a case, and the
// case is referred (openedCase): it is refused for what it is, its status
// from its sender (updateProblems), not deferred as if its case might come
// or answered that no such referral is known. No update passes its checks
// against such a case, so none reaches the commit with one.
// Records of other types cost nothing: with no referral or update among
// them, nothing is read or allocated and cases is nil.
// A case that does not decode holds up only the records under its key:
// unreadable[i] is its error for each such record i, and unreadable is nil
// when every case decodes. err is a fault of the whole read, never an
// unknown case: a submission then fails whole as the node's fault
// (screen), and a delivery defers its updates and stores the rest
// (Receive); the commit checks a referral's key again either way.
func (x *Exchange) updatedCases(n int, rec func(i int) contracts.Record) (cases []*store.Case, unreadable map[int]error, err error) {
	var keys []string
	var at []int              // the index of each key's record
	var opened map[string]int // the first referral among the records under a key
	for i := range n {
		r := rec(i)
		key := caseKey(r)
		if key == "" {
			continue
		}
		keys = append(keys, key)
		at = append(at, i)
		if _, ok := r.(*contracts.Referral); ok {
			if opened == nil {
				opened = make(map[string]int)
			}
			if _, seen := opened[key]; !seen {
				opened[key] = i
			}
		}
	}
	if len(keys) == 0 {
		return nil, nil, nil
	}
	found, bad, err := x.d.Store.CasesByKey(keys, x.d.Now())
	if err != nil {
		return nil, nil, fmt.Errorf("read the cases of %d referrals and updates: %w", len(keys), err)
	}
	cases = make([]*store.Case, n)
	for j, i := range at {
		cases[i] = found[j]
		if err := bad[keys[j]]; err != nil {
			if unreadable == nil {
				unreadable = make(map[int]error, len(bad))
			}
			unreadable[i] = err
			continue
		}
		if k, ok := opened[keys[j]]; ok && k < i && found[j] == nil {
			if _, update := rec(i).(*contracts.ReferralUpdate); update {
				cases[i] = x.openedCase(rec(k).(*contracts.Referral), "", x.d.Now())
			}
		}
	}
	return cases, unreadable, nil
}

// openedCase is the case referral r, carried by envelope envelopeID, opens
// when it is queued or stored at at: referred, whatever r says. Validation
// refuses a referral in another status (contracts.ValidateKeys, as it
// arrives), but updatedCases reads the case a referral opens before that
// check, for an update of the same request: that case too is only
// referred, which no update from the referral's own sender can move.
func (x *Exchange) openedCase(r *contracts.Referral, envelopeID string, at time.Time) *store.Case {
	dir := "received"
	if r.From == x.d.Province {
		dir = "sent"
	}
	return &store.Case{
		Key: store.CaseKey(r.From, r.To, r.ID), ReferralID: r.ID, EnvelopeID: envelopeID, OpenedBy: r.From, OpenedTo: r.To, Direction: dir,
		Kind: string(r.Kind), Status: string(contracts.CaseReferred), Deadline: dueDay(r.Deadline), OpenedAt: r.OpenedAt, UpdatedAt: at,
	}
}

// sentStates reads, in one read transaction, how the referral of each
// case opened here that an update among n records moves was answered by
// its destination: states[i] for record i (rec(i), cases[i] as
// updatedCases gives them), "" for other records and for a referral
// whose outgoing record is not known here. states is nil when no update
// moves a case opened here.
func (x *Exchange) sentStates(n int, rec func(i int) contracts.Record, cases []*store.Case) ([]store.State, error) {
	var ids []string
	var at []int
	for i := range min(n, len(cases)) {
		if _, ok := rec(i).(*contracts.ReferralUpdate); ok && cases[i] != nil && cases[i].OpenedBy == x.d.Province && cases[i].EnvelopeID != "" {
			ids = append(ids, cases[i].EnvelopeID)
			at = append(at, i)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	got, err := x.d.Store.States(ids)
	if err != nil {
		return nil, fmt.Errorf("read the states of %d referrals sent from here: %w", len(ids), err)
	}
	states := make([]store.State, n)
	for j, i := range at {
		states[i] = got[j]
	}
	return states, nil
}

// errCaseUnknown refuses an update that meets no case where it is written:
// not one that passed its checks (see caseChange), but one made again
// without them (mendCase), whose case is not here.
var errCaseUnknown = errors.New("the referral the update moves is not known here")

// idTakenError refuses a referral whose case key another referral holds
// already: the other province opened a referral with the same id, or
// another envelope did. A referral's id is unique per province pair.
type idTakenError struct {
	id   string
	held *store.Case
}

func (e *idTakenError) Error() string { return e.problems()[0].Message }

// problems is what the submitter of the referral is told: the case that
// holds the id, and to choose another.
func (e *idTakenError) problems() []contracts.FieldError {
	return []contracts.FieldError{{Path: "id", Message: fmt.Sprintf(
		"referral id %q is taken between provinces %s and %s: case %s holds it, opened by %s (envelope %s); choose another id",
		e.id, e.held.OpenedBy, e.held.OpenedTo, e.held.Key, e.held.OpenedBy, e.held.EnvelopeID)}}
}

// transitionError refuses an update its case cannot take where the case
// is written: another update moved the case since the update was checked.
type transitionError struct{ problems []contracts.FieldError }

func (e *transitionError) Error() string { return e.problems[0].Message }

// caseChange is what rec, carried by envelope envelopeID and dated at,
// does to the case it opens or moves, for the store to make in the
// transaction that queues or stores rec; nil for a record of another type.
// An update is checked again there, against the case as it is written
// (transitionError): a concurrent update may have moved it since. It is
// the very case the update was checked against, read stored before (or,
// for an update that follows another of its case in its submission, as
// that one leaves it in the same commit: following): no
// case is ever deleted, and the referral that opened one holds its key
// for good (a referral whose key another referral's case holds is
// refused: idTakenError; its own case, made again, changes nothing). So
// the case is there, under the referral that opened it, whatever came
// between. An update already applied changes nothing, so that making it
// again (a redelivery mending a crash) is harmless.
func (x *Exchange) caseChange(rec contracts.Record, envelopeID string, at time.Time) *store.CaseChange {
	switch r := rec.(type) {
	case *contracts.Referral:
		key := store.CaseKey(r.From, r.To, r.ID)
		return &store.CaseChange{Key: key, Apply: func(c *store.Case) (*store.Case, error) {
			if c != nil {
				if c.EnvelopeID != envelopeID {
					return nil, &idTakenError{id: r.ID, held: c}
				}
				return nil, nil // redelivered: nothing to change
			}
			return x.openedCase(r, envelopeID, at), nil
		}}
	case *contracts.ReferralUpdate:
		return &store.CaseChange{Key: store.CaseKey(r.From, r.To, r.ReferralID), Apply: func(c *store.Case) (*store.Case, error) {
			if c == nil {
				return nil, errCaseUnknown
			}
			for _, u := range c.Updates {
				if u.EnvelopeID == envelopeID {
					return nil, nil // made already
				}
			}
			if p := updateProblems(r, c); p != nil {
				return nil, &transitionError{problems: p}
			}
			c.Status, c.UpdatedAt = string(r.Status), at
			c.Updates = append(c.Updates, store.CaseUpdate{EnvelopeID: envelopeID, From: r.From, Status: string(r.Status), At: r.At})
			return c, nil
		}}
	}
	return nil
}

// mendCase is the case change of rec, received again in envelope
// envelopeID at at, that mendCases is to make: nil when there is none, or
// when the case it was read with (read, as updatedCases gave it: nil when
// not known) shows it made already, as it is but for a case an older
// version left behind its record. The store is not asked for what it shows.
func (x *Exchange) mendCase(rec contracts.Record, envelopeID string, at time.Time, read *store.Case) *store.CaseChange {
	ch := x.caseChange(rec, envelopeID, at)
	if ch == nil || read == nil {
		return ch
	}
	c := *read
	c.Updates = slices.Clone(read.Updates)
	if next, err := ch.Apply(&c); err == nil && next == nil {
		return nil
	}
	return ch
}

// mendCases makes the case changes of envelopes received again (see
// mendCase), in one commit, and only when there is one to make.
func (x *Exchange) mendCases(ctx context.Context, changes []*store.CaseChange) {
	refused, err := x.d.Store.PutCases(ctx, changes)
	if err != nil {
		x.d.Log.Warn("mend the cases of envelopes received again", "cases", len(changes), "err", err)
	}
	for i, err := range refused {
		if err != nil {
			x.d.Log.Warn("mend the case of an envelope received again", "case", changes[i].Key, "err", err)
		}
	}
}

// Cases lists the province's referral cases; status and overdue filter
// them. A case sent from here shows its referral's delivery state, and one
// whose referral the other province rejected, or delivery gave up on, is
// not overdue: that province never took it (until a dead letter is
// requeued), and the province that sent it refers the case again. One
// whose referral that province's node rejected is stored rejected in the
// commit that records the rejection (store.Store.MarkDelivered), so the
// status filter takes it for the finished case it is; one a dead letter
// holds stays referred, since a requeue may yet deliver it.
//
// Each update sent from here shows its envelope's delivery state too, and
// a case one of whose updates the other province rejected, or delivery
// gave up on, is diverged: this node's case moved when the update was
// queued, and the other province's did not. It is not moved back: the
// province acted on what it sent, and its later updates were checked
// against the case as that one left it; the operators of the two
// provinces settle it, and a dead letter requeued and delivered ends it.
func (x *Exchange) Cases(ctx context.Context, caller pki.Identity, status string, overdueOnly bool) ([]store.Case, error) {
	cs, err := x.d.Store.Cases(x.d.Now(), status)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "read cases", Err: err}
	}
	var ids []string
	var sent []int       // the cases whose referral went from here, by ids
	var updates [][2]int // the case and update of each update sent from here, by ids after the referrals
	for i, c := range cs {
		if c.OpenedBy == x.d.Province && c.EnvelopeID != "" {
			ids, sent = append(ids, c.EnvelopeID), append(sent, i)
		}
	}
	for i, c := range cs {
		for j, u := range c.Updates {
			if u.From == x.d.Province && u.EnvelopeID != "" {
				ids, updates = append(ids, u.EnvelopeID), append(updates, [2]int{i, j})
			}
		}
	}
	states, err := x.d.Store.States(ids)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "read the states of the referrals and updates sent from here", Err: err}
	}
	for j, i := range sent {
		cs[i].Referral = states[j]
		if untaken(states[j]) {
			cs[i].Overdue = false // it never reached the other province, as the audit's stats say
		}
	}
	for k, at := range updates {
		state := states[len(sent)+k]
		cs[at[0]].Updates[at[1]].Delivery = state
		cs[at[0]].Diverged = cs[at[0]].Diverged || untaken(state)
	}
	if overdueOnly {
		cs = slices.DeleteFunc(cs, func(c store.Case) bool { return !c.Overdue })
	}
	return cs, nil
}

// untaken reports whether a record sent from here in state never reached
// the other province's case: rejected there, or given up on by delivery
// (failed, until a requeue delivers it, or discarded).
func untaken(state store.State) bool {
	return state == store.StateRejected || state == store.StateFailed || state == store.StateDiscarded
}

// ReasonEarlierUpdateDeferred defers a referral update that its case
// cannot take until an update of the case before it in the same request,
// deferred, is stored: its origin checked the two one after the other
// and sends them again in that order.
const ReasonEarlierUpdateDeferred = "earlier_update_deferred"

// markFollowers marks the referral updates of a request that follow an
// update of their case with another envelope id earlier in it
// (inbound.follows). Their origin queued them in that order, each checked
// against its case as the one before left it (accepted, then
// investigating), and a delivery carries them together when they waited
// in its queue: checked against the case as read before the request,
// the later one would be rejected for good, though the commit, which
// makes the updates in order, takes it. A copy of the first update is no
// follower: it ends as the first does (duplicates).
func markFollowers(ins []inbound) {
	type updates struct {
		first string // the envelope id of the case's first update
		more  bool   // another envelope id came after it
	}
	var seen map[string]*updates
	for i := range ins {
		if _, ok := ins[i].rec.(*contracts.ReferralUpdate); !ok || ins[i].env == nil {
			continue
		}
		key, id := caseKey(ins[i].rec), ins[i].env.ID
		u := seen[key]
		if u == nil {
			if seen == nil {
				seen = make(map[string]*updates)
			}
			seen[key] = &updates{first: id}
			continue
		}
		u.more = u.more || id != u.first
		ins[i].follows = u.more
	}
}

// heldUpdates maps the key of a case to the index in the request of its
// first update deferred, and not stored: a later update of the case that
// the case refuses in the commit may be one it takes once that update is
// stored, so it is deferred with it rather than rejected for good.
type heldUpdates map[string]int

// heldCases is the updates that check deferred among ins (results).
func heldCases(ins []inbound, results []peer.Result) heldUpdates {
	var held heldUpdates
	for i := range ins {
		if results[i].Status == peer.StatusDeferred {
			held.mark(ins[i].rec, i)
		}
	}
	return held
}

// mark holds the case of rec, at index i of the request, when rec is a
// referral update deferred, not stored.
func (h *heldUpdates) mark(rec contracts.Record, i int) {
	if _, ok := rec.(*contracts.ReferralUpdate); !ok {
		return
	}
	key := caseKey(rec)
	if k, ok := (*h)[key]; ok && k <= i {
		return
	}
	if *h == nil {
		*h = make(heldUpdates)
	}
	(*h)[key] = i
}

// before reports whether an update of the case of rec, earlier in the
// request than index i, is held.
func (h heldUpdates) before(rec contracts.Record, i int) bool {
	k, ok := h[caseKey(rec)]
	return ok && k < i
}
