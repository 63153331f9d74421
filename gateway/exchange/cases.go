package exchange

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// nextStatus is the referral lifecycle: a referred case is accepted or
// rejected; an accepted one is investigated, resolved or closed; a resolved
// one is closed. Closed and rejected cases are finished.
var nextStatus = map[contracts.CaseStatus][]contracts.CaseStatus{
	contracts.CaseReferred:      {contracts.CaseAccepted, contracts.CaseRejected},
	contracts.CaseAccepted:      {contracts.CaseInvestigating, contracts.CaseResolved, contracts.CaseClosed},
	contracts.CaseInvestigating: {contracts.CaseResolved, contracts.CaseClosed},
	contracts.CaseResolved:      {contracts.CaseClosed},
}

// updateProblems refuses, before anything is sent, an update for a case
// this node does not know (c is nil) or a status case c cannot move to.
// When an update arrives, check asks it only about a case this node
// follows: one whose case it does not know yet is deferred, not refused.
func updateProblems(u *contracts.ReferralUpdate, c *store.Case) []contracts.FieldError {
	if c == nil {
		return []contracts.FieldError{{Path: "referral_id", Message: fmt.Sprintf("no referral %q between %s and %s is known here", u.ReferralID, u.From, u.To)}}
	}
	if !slices.Contains(nextStatus[contracts.CaseStatus(c.Status)], u.Status) {
		return []contracts.FieldError{{Path: "status", Message: fmt.Sprintf("the case is %s and cannot become %s (allowed: %v)", c.Status, u.Status, nextStatus[contracts.CaseStatus(c.Status)])}}
	}
	return nil
}

// updatedCases reads, in one read transaction, the cases that the referral
// updates among n records move: rec(i) is the i-th record (nil for none),
// cases[i] the case it moves, nil when it is no update or its case is not
// known here or does not decode. Records of other types cost nothing: with
// no update among them, nothing is read or allocated and cases is nil.
// A case that does not decode holds up only the updates that move it:
// unreadable[i] is its error for each such record i, and unreadable is nil
// when every case decodes. err is a fault of the whole read, never an
// unknown case: a submission then fails whole as the node's fault
// (screen), and a delivery defers its updates and stores the rest
// (Receive).
func (x *Exchange) updatedCases(n int, rec func(i int) contracts.Record) (cases []*store.Case, unreadable map[int]error, err error) {
	var keys []string
	var at []int // the index of each key's update
	for i := range n {
		if u, ok := rec(i).(*contracts.ReferralUpdate); ok {
			keys = append(keys, store.CaseKey(u.From, u.To, u.ReferralID))
			at = append(at, i)
		}
	}
	if len(keys) == 0 {
		return nil, nil, nil
	}
	found, bad, err := x.d.Store.CasesByKey(keys, x.d.Now())
	if err != nil {
		return nil, nil, fmt.Errorf("read the cases %d referral updates move: %w", len(keys), err)
	}
	cases = make([]*store.Case, n)
	for j, i := range at {
		cases[i] = found[j]
		if err := bad[keys[j]]; err != nil {
			if unreadable == nil {
				unreadable = make(map[int]error, len(bad))
			}
			unreadable[i] = err
		}
	}
	return cases, unreadable, nil
}

// errCaseUnknown refuses an update whose case is not (or no longer) known
// when it is written.
var errCaseUnknown = errors.New("the referral the update moves is not known here")

// transitionError refuses an update its case cannot take where the case
// is written: another update moved the case since the update was checked.
type transitionError struct{ problems []contracts.FieldError }

func (e *transitionError) Error() string { return e.problems[0].Message }

// caseChange is what rec, carried by envelope envelopeID and dated at,
// does to the case it opens or moves, for the store to make in the
// transaction that queues or stores rec; nil for a record of another type.
// An update is checked again there, against the case as it is written
// (transitionError), and one already applied changes nothing, so that
// making it again (a redelivery mending a crash) is harmless.
func (x *Exchange) caseChange(rec contracts.Record, envelopeID string, at time.Time) *store.CaseChange {
	switch r := rec.(type) {
	case *contracts.Referral:
		dir := "received"
		if r.From == x.d.Province {
			dir = "sent"
		}
		key := store.CaseKey(r.From, r.To, r.ID)
		return &store.CaseChange{Key: key, Apply: func(c *store.Case) (*store.Case, error) {
			if c != nil {
				return c, nil // redelivered
			}
			return &store.Case{
				Key: key, ReferralID: r.ID, EnvelopeID: envelopeID, OpenedBy: r.From, OpenedTo: r.To, Direction: dir,
				Kind: string(r.Kind), Status: string(r.Status), Deadline: r.Deadline.String(), OpenedAt: r.OpenedAt, UpdatedAt: at,
			}, nil
		}}
	case *contracts.ReferralUpdate:
		return &store.CaseChange{Key: store.CaseKey(r.From, r.To, r.ReferralID), Apply: func(c *store.Case) (*store.Case, error) {
			if c == nil {
				return nil, errCaseUnknown
			}
			for _, u := range c.Updates {
				if u.EnvelopeID == envelopeID {
					return c, nil
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

// track makes rec's case change on its own, after the commit that stored
// rec: for a referral queued here, and for an envelope received again,
// which mends a case a crash left behind its record.
func (x *Exchange) track(ctx context.Context, rec contracts.Record, envelopeID string, at time.Time) {
	ch := x.caseChange(rec, envelopeID, at)
	if ch == nil {
		return
	}
	if _, err := x.d.Store.PutCase(ctx, ch.Key, ch.Apply); err != nil {
		x.d.Log.Warn("track referral", "envelope", envelopeID, "err", err)
	}
}

// Cases lists the province's referral cases; status and overdue filter them.
func (x *Exchange) Cases(ctx context.Context, caller pki.Identity, status string, overdueOnly bool) ([]store.Case, error) {
	cs, err := x.d.Store.Cases(x.d.Now(), status, overdueOnly)
	if err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "read cases", Err: err}
	}
	return cs, nil
}
