package audit

import (
	"cmp"
	"slices"
	"time"
)

// Summary is what `laborlink audit stats` shows: aggregates only, so it can
// be handed to anyone entitled to the log.
type Summary struct {
	// Flows counts flows per province pair (origin to destination) per day.
	Flows []FlowCount `json:"flows"`
	// Denials counts denial reasons; an entry with two reasons counts for both.
	Denials []ReasonCount `json:"denials"`
	// Latency summarises delivery latency over entries that carry one.
	Latency Latency `json:"latency"`
	// Referrals counts rights-case referrals by current status and overdue.
	Referrals Referrals `json:"referrals"`
}

// FlowCount is one province pair on one day (UTC).
type FlowCount struct {
	Day         string   `json:"day"`
	Origin      Province `json:"origin"`
	Destination Province `json:"destination"`
	Sent        int      `json:"sent"`
	Received    int      `json:"received"`
	Denied      int      `json:"denied"`
}

// ReasonCount is how often one reason code was given for a denial.
type ReasonCount struct {
	Reason Reason `json:"reason"`
	Count  int    `json:"count"`
}

// Latency is a distribution of delivery latencies in milliseconds
// (nearest-rank percentiles).
type Latency struct {
	Count int   `json:"count"`
	P50   int64 `json:"p50_ms"`
	P95   int64 `json:"p95_ms"`
	P99   int64 `json:"p99_ms"`
	Max   int64 `json:"max_ms"`
}

// Referrals is where the referrals in the entries stand.
type Referrals struct {
	// ByStatus counts referrals by their latest status.
	ByStatus map[Detail]int `json:"by_status"`
	// Overdue lists the envelope ids of open referrals past their due day.
	Overdue []string `json:"overdue"`
}

// Stats aggregates entries. now decides which open referrals are overdue.
func Stats(entries []Entry, now time.Time) Summary { return StatsFor(entries, Filter{}, now) }

// StatsFor aggregates the entries f selects. It reads the others too: the
// updates of a referral f selects may travel the other way or fall after
// the window, yet say where it stands; its answers (a receipt denied, a
// requeue) carry no record type or agreement, yet say whether it ever
// reached the other province, or was rejected there (see referrals).
func StatsFor(entries []Entry, f Filter, now time.Time) Summary {
	var b statsBuilder
	for _, e := range entries {
		b.take(e, f)
	}
	return b.summary(now)
}

// statsBuilder aggregates entries one at a time. It keeps counts, the
// latencies and the referrals' entries (a small share of a log), never the
// whole log, so Log.Stats runs over any number of entries.
type statsBuilder struct {
	flows   map[flowKey]*FlowCount
	denials map[Reason]int
	ms      []int64
	refs    []Entry
	// refused says, of each referral envelope among refs, whether its
	// latest answer was a refusal (a receipt denied) not requeued since (a
	// discard leaves it refused).
	refused map[string]bool
}

type flowKey struct {
	day  string
	o, d Province
}

func (b *statsBuilder) add(e Entry) {
	if isCountedFlow(e) {
		b.countFlow(e)
	}
	if e.Kind == KindDenied || e.Decision == Deny {
		if b.denials == nil {
			b.denials = map[Reason]int{}
		}
		for _, r := range e.Reasons {
			b.denials[r]++
		}
	}
	if e.LatencyMS > 0 {
		b.ms = append(b.ms, e.LatencyMS)
	}
	if isReferral(e) {
		b.refs = append(b.refs, e)
		if b.refused == nil {
			b.refused = map[string]bool{}
		}
		if _, ok := b.refused[e.EnvelopeID]; !ok {
			b.refused[e.EnvelopeID] = false
		}
	}
	b.follow(e)
}

// take adds e when f selects it, and otherwise follows it.
func (b *statsBuilder) take(e Entry, f Filter) {
	if f.Match(e) {
		b.add(e)
	} else {
		b.follow(e)
	}
}

// follow notes what an entry says of the referrals added so far, whether
// or not a filter selects it: the updates that refer to one (an update
// may travel the other way, 44 to 51 for a referral 51 to 44, or fall
// after the window), and the answers to one (a receipt denied, a
// requeue), which tell a referral that never reached the other province.
// These come after their referral in a log. Only those referrals' updates
// are kept, and their answers as a flag each, but for a rejection by the
// destination's node, which is kept as an update too (isRejection); an
// update of a referral not added says nothing of the summary, so it is
// not kept even when f selects it.
func (b *statsBuilder) follow(e Entry) {
	switch {
	case isReferralUpdate(e):
		if _, ok := b.refused[e.RefersTo]; ok {
			b.refs = append(b.refs, e)
		}
	case e.Kind == KindReceipt && e.Decision == Deny:
		if _, ok := b.refused[e.RefersTo]; ok {
			b.refused[e.RefersTo] = true
			if isRejection(e) {
				b.refs = append(b.refs, e)
			}
		}
	case e.Kind == KindRequeue:
		if _, ok := b.refused[e.EnvelopeID]; ok {
			b.refused[e.EnvelopeID] = false
		}
	}
}

func (b *statsBuilder) countFlow(e Entry) {
	key := flowKey{e.Time.UTC().Format(time.DateOnly), e.Origin, e.Destination}
	c := b.flows[key]
	if c == nil {
		if b.flows == nil {
			b.flows = map[flowKey]*FlowCount{}
		}
		c = &FlowCount{Day: key.day, Origin: key.o, Destination: key.d}
		b.flows[key] = c
	}
	switch e.Kind {
	case KindSent:
		c.Sent++
	case KindReceived:
		c.Received++
	case KindDenied:
		c.Denied++
	}
}

func (b *statsBuilder) summary(now time.Time) Summary {
	flows := make([]FlowCount, 0, len(b.flows))
	for _, c := range b.flows {
		flows = append(flows, *c)
	}
	slices.SortFunc(flows, func(a, b FlowCount) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Origin, b.Origin), cmp.Compare(a.Destination, b.Destination))
	})
	denials := make([]ReasonCount, 0, len(b.denials))
	for r, n := range b.denials {
		denials = append(denials, ReasonCount{r, n})
	}
	slices.SortFunc(denials, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	return Summary{Flows: flows, Denials: denials, Latency: latency(b.ms), Referrals: referrals(b.refs, b.refused, now)}
}

// latency summarises delivery latencies (ms, sorted here).
func latency(ms []int64) Latency {
	if len(ms) == 0 {
		return Latency{}
	}
	slices.Sort(ms)
	rank := func(p int) int64 { return ms[(p*len(ms)+99)/100-1] }
	return Latency{Count: len(ms), P50: rank(50), P95: rank(95), P99: rank(99), Max: ms[len(ms)-1]}
}

// referrals follows each referral (a sent or received referral record) through
// the referral updates that refer to it, latest update winning; the
// receipt that says the destination's node rejected a referral sent from
// here moves it to rejected as an update would (isRejection), as the node
// moves its case. A referral sent from here that its destination rejected,
// or that delivery gave up on, and that was not requeued since, never
// reached the other province: it is counted by its status but not overdue
// (refused, see statsBuilder). A rejection logged by an earlier release
// carries no detail, so such a referral counts under its last status
// (referred), as that release counted it.
func referrals(entries []Entry, refused map[string]bool, now time.Time) Referrals {
	type state struct {
		status Detail
		at     time.Time
		due    string
	}
	cases := map[string]*state{}
	for _, e := range entries {
		if isReferral(e) {
			if cases[e.EnvelopeID] == nil {
				cases[e.EnvelopeID] = &state{status: cmp.Or(e.Detail, DetailReferred), at: e.Time, due: e.Due}
			}
		}
	}
	for _, e := range entries {
		s := cases[e.RefersTo]
		if !movesReferral(e) || s == nil || e.Detail == "" || e.Time.Before(s.at) {
			continue
		}
		s.status, s.at = e.Detail, e.Time
		if e.Due != "" {
			s.due = e.Due
		}
	}
	r := Referrals{ByStatus: map[Detail]int{}, Overdue: []string{}}
	today := now.UTC().Format(time.DateOnly)
	for id, s := range cases {
		r.ByStatus[s.status]++
		if !s.status.terminal() && !refused[id] && s.due != "" && s.due < today {
			r.Overdue = append(r.Overdue, id)
		}
	}
	slices.Sort(r.Overdue)
	return r
}

// isCountedFlow reports whether e is a flow FlowCount counts: an envelope
// sent, received or denied between two provinces. Other entries name
// provinces too (a pruned envelope, an agreement change, a receipt), but
// nothing crossed for them, and a row of zeros would say that a pair had
// traffic that day.
func isCountedFlow(e Entry) bool {
	return (e.Kind == KindSent || e.Kind == KindReceived || e.Kind == KindDenied) && e.Origin != "" && e.Destination != ""
}

// isReferral reports whether e is the flow of a referral record.
func isReferral(e Entry) bool {
	return e.RecordType == "referral" && (e.Kind == KindSent || e.Kind == KindReceived) && e.EnvelopeID != ""
}

// isReferralUpdate reports whether e changes a referral's status: an update
// entry, or the flow of a referral-update record that names its referral.
func isReferralUpdate(e Entry) bool {
	return e.Kind == KindReferralUpdate || e.RecordType == "referral-update" && (e.Kind == KindSent || e.Kind == KindReceived)
}

// isRejection reports whether e is the receipt that says the destination's
// node rejected the envelope it refers to, for good: a dead letter's
// receipt is denied too, but carries no detail (see detailsByKind).
func isRejection(e Entry) bool {
	return e.Kind == KindReceipt && e.Decision == Deny && e.Detail == DetailRejected
}

// movesReferral reports whether e moves the referral it refers to: an
// update, or its rejection by the destination's node, which ends its case
// as an update rejected would.
func movesReferral(e Entry) bool { return isReferralUpdate(e) || isRejection(e) }
