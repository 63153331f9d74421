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
func Stats(entries []Entry, now time.Time) Summary {
	return Summary{
		Flows:     flows(entries),
		Denials:   denials(entries),
		Latency:   latency(entries),
		Referrals: referrals(entries, now),
	}
}

func flows(entries []Entry) []FlowCount {
	type k struct {
		day  string
		o, d Province
	}
	counts := map[k]*FlowCount{}
	for _, e := range entries {
		if e.Origin == "" || e.Destination == "" {
			continue
		}
		key := k{e.Time.UTC().Format(time.DateOnly), e.Origin, e.Destination}
		c := counts[key]
		if c == nil {
			c = &FlowCount{Day: key.day, Origin: key.o, Destination: key.d}
			counts[key] = c
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
	out := make([]FlowCount, 0, len(counts))
	for _, c := range counts {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b FlowCount) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Origin, b.Origin), cmp.Compare(a.Destination, b.Destination))
	})
	return out
}

func denials(entries []Entry) []ReasonCount {
	counts := map[Reason]int{}
	for _, e := range entries {
		if e.Kind == KindDenied || e.Decision == Deny {
			for _, r := range e.Reasons {
				counts[r]++
			}
		}
	}
	out := make([]ReasonCount, 0, len(counts))
	for r, n := range counts {
		out = append(out, ReasonCount{r, n})
	}
	slices.SortFunc(out, func(a, b ReasonCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	return out
}

func latency(entries []Entry) Latency {
	var ms []int64
	for _, e := range entries {
		if e.LatencyMS > 0 {
			ms = append(ms, e.LatencyMS)
		}
	}
	if len(ms) == 0 {
		return Latency{}
	}
	slices.Sort(ms)
	rank := func(p int) int64 { return ms[(p*len(ms)+99)/100-1] }
	return Latency{Count: len(ms), P50: rank(50), P95: rank(95), P99: rank(99), Max: ms[len(ms)-1]}
}

// referrals follows each referral (a sent or received referral record) through
// the referral updates that refer to it, latest update winning.
func referrals(entries []Entry, now time.Time) Referrals {
	type state struct {
		status Detail
		at     time.Time
		due    string
	}
	cases := map[string]*state{}
	for _, e := range entries {
		if e.RecordType == "referral" && (e.Kind == KindSent || e.Kind == KindReceived) && e.EnvelopeID != "" {
			if cases[e.EnvelopeID] == nil {
				cases[e.EnvelopeID] = &state{status: cmp.Or(e.Detail, DetailReferred), at: e.Time, due: e.Due}
			}
		}
	}
	for _, e := range entries {
		s := cases[e.RefersTo]
		// A status change is an update entry, or the flow of a referral-update
		// record that names its referral.
		update := e.Kind == KindReferralUpdate || e.RecordType == "referral-update" && (e.Kind == KindSent || e.Kind == KindReceived)
		if !update || s == nil || e.Detail == "" || e.Time.Before(s.at) {
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
		if !s.status.terminal() && s.due != "" && s.due < today {
			r.Overdue = append(r.Overdue, id)
		}
	}
	slices.Sort(r.Overdue)
	return r
}
