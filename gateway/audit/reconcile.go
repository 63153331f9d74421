package audit

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Discrepancy is a kind of reconciliation finding.
type Discrepancy string

// The discrepancies Reconcile reports.
const (
	// SentNotReceived: the origin logged a send the destination never logged.
	SentNotReceived Discrepancy = "sent-not-received"
	// ReceivedNotSent: the destination logged a receipt the origin never sent.
	ReceivedNotSent Discrepancy = "received-not-sent"
	// DigestMismatch: both logged the envelope with different payload digests
	// or sizes.
	DigestMismatch Discrepancy = "digest-mismatch"
	// DeniedOneSide: one side denied an envelope the other side let through.
	DeniedOneSide Discrepancy = "denied-one-side"
	// LoggedTwice: one log holds two flows of an envelope in one
	// direction. A node logs an envelope once as it leaves and once as it
	// arrives (a redelivery is a duplicate, not logged again), so the
	// second entry is a copy or another envelope under a used id.
	LoggedTwice Discrepancy = "logged-twice"
)

// ReconcileOptions says which two nodes' logs are compared, and over what time.
type ReconcileOptions struct {
	// A and B are the provinces whose logs are passed as a and b.
	A, B Province
	// From and To bound the entries reconciled (From <= Time < To, zero =
	// open). Counterparts are looked up in everything passed, so pass the
	// other log for a slightly wider window to avoid flows in flight at
	// the edges.
	From, To time.Time
}

// Widened is the window to read the logs for: From and To moved out by
// margin, so that flows in flight at the edges find their counterparts;
// an open bound stays open.
func (o ReconcileOptions) Widened(margin time.Duration) (from, to time.Time) {
	from, to = o.From, o.To
	if !from.IsZero() {
		from = from.Add(-margin)
	}
	if !to.IsZero() {
		to = to.Add(margin)
	}
	return from, to
}

// Counted is how many of es lie within the window: those outside it are
// read only to find counterparts.
func (o ReconcileOptions) Counted(es []Entry) int {
	return len(Query(es, Filter{From: o.From, To: o.To}))
}

// Mismatch is one reconciliation finding.
type Mismatch struct {
	Discrepancy Discrepancy `json:"discrepancy"`
	EnvelopeID  string      `json:"envelope_id"`
	Origin      Province    `json:"origin"`
	Destination Province    `json:"destination"`
	// IndexA and IndexB are the positions in each log, -1 where absent.
	IndexA int64  `json:"index_a"`
	IndexB int64  `json:"index_b"`
	Detail string `json:"detail,omitempty"`
}

// side is one node's view of the flows between the two provinces.
type side struct {
	prov            Province
	out, in, denied map[string]Entry
	// againOut and againIn are the flows of an envelope id out and in
	// after the first (LoggedTwice).
	againOut, againIn []Entry
}

// outgoing and incoming kinds: envelopes travel as sent/received; a
// confirmation or referral update may be logged under its own kind.
func isFlow(k Kind) bool {
	return k == KindSent || k == KindReceived || k == KindConfirmation || k == KindReferralUpdate
}

func newSide(prov, peer Province, entries []Entry) side {
	s := side{prov: prov, out: map[string]Entry{}, in: map[string]Entry{}, denied: map[string]Entry{}}
	for _, e := range entries {
		if e.EnvelopeID == "" {
			continue
		}
		switch {
		case e.Kind == KindDenied || e.Decision == Deny:
			s.denied[e.EnvelopeID] = e
		case isFlow(e.Kind) && e.Kind != KindReceived && e.Origin == prov && e.Destination == peer:
			s.againOut = keepFirst(s.out, e, s.againOut)
		case isFlow(e.Kind) && e.Kind != KindSent && e.Origin == peer && e.Destination == prov:
			s.againIn = keepFirst(s.in, e, s.againIn)
		}
	}
	return s
}

// keepFirst puts e in flows under its envelope id unless an entry is there
// already, and then appends it to again instead.
func keepFirst(flows map[string]Entry, e Entry, again []Entry) []Entry {
	if _, ok := flows[e.EnvelopeID]; ok {
		return append(again, e)
	}
	flows[e.EnvelopeID] = e
	return again
}

// Reconcile compares the logs of two nodes, a of province opt.A and b of
// opt.B, flow by flow in both directions. A clean pair of logs gives no
// findings.
func Reconcile(a, b []Entry, opt ReconcileOptions) []Mismatch {
	sa, sb := newSide(opt.A, opt.B, a), newSide(opt.B, opt.A, b)
	in := func(e Entry) bool {
		return (opt.From.IsZero() || !e.Time.Before(opt.From)) && (opt.To.IsZero() || e.Time.Before(opt.To))
	}
	var out []Mismatch
	out = append(out, direction(sa, sb, in, false)...)
	out = append(out, direction(sb, sa, in, true)...)
	slices.SortFunc(out, func(x, y Mismatch) int {
		return cmp.Or(cmp.Compare(x.EnvelopeID, y.EnvelopeID), cmp.Compare(x.Discrepancy, y.Discrepancy))
	})
	return out
}

// direction checks flows from sender to receiver; swapped says the sender is
// b, so that indexes land in the right columns.
func direction(sender, receiver side, inWindow func(Entry) bool, swapped bool) []Mismatch {
	var out []Mismatch
	add := func(d Discrepancy, id string, s, r *Entry, detail string) {
		m := Mismatch{Discrepancy: d, EnvelopeID: id, Origin: sender.prov, Destination: receiver.prov,
			IndexA: -1, IndexB: -1, Detail: detail}
		if s != nil {
			m.IndexA = s.Index
		}
		if r != nil {
			m.IndexB = r.Index
		}
		if swapped {
			m.IndexA, m.IndexB = m.IndexB, m.IndexA
		}
		out = append(out, m)
	}
	for id, s := range sender.out {
		if !inWindow(s) {
			continue
		}
		r, ok := receiver.in[id]
		switch {
		case ok && (r.PayloadDigest != s.PayloadDigest || r.Size != s.Size):
			add(DigestMismatch, id, &s, &r, fmt.Sprintf("sent %s (%d bytes), received %s (%d bytes)",
				s.PayloadDigest, s.Size, r.PayloadDigest, r.Size))
		case ok:
		case hasKey(receiver.denied, id):
			d := receiver.denied[id]
			add(DeniedOneSide, id, &s, &d, fmt.Sprintf("allowed by %s, denied by %s: %v", sender.prov, receiver.prov, d.Reasons))
		default:
			add(SentNotReceived, id, &s, nil, "")
		}
	}
	for id, r := range receiver.in {
		if !inWindow(r) || hasKey(sender.out, id) {
			continue
		}
		if d, ok := sender.denied[id]; ok {
			add(DeniedOneSide, id, &d, &r, fmt.Sprintf("denied by %s: %v, received by %s", sender.prov, d.Reasons, receiver.prov))
			continue
		}
		add(ReceivedNotSent, id, nil, &r, "")
	}
	for _, s := range sender.againOut {
		if inWindow(s) {
			first := sender.out[s.EnvelopeID]
			add(LoggedTwice, s.EnvelopeID, &s, counterpart(receiver.in, s.EnvelopeID),
				fmt.Sprintf("%s logged it leaving at %d and again at %d", sender.prov, first.Index, s.Index))
		}
	}
	for _, r := range receiver.againIn {
		if inWindow(r) {
			first := receiver.in[r.EnvelopeID]
			add(LoggedTwice, r.EnvelopeID, counterpart(sender.out, r.EnvelopeID), &r,
				fmt.Sprintf("%s logged it arriving at %d and again at %d", receiver.prov, first.Index, r.Index))
		}
	}
	return out
}

// counterpart is the entry under id in flows, or nil.
func counterpart(flows map[string]Entry, id string) *Entry {
	if e, ok := flows[id]; ok {
		return &e
	}
	return nil
}

func hasKey(m map[string]Entry, k string) bool {
	_, ok := m[k]
	return ok
}
