package audit

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"
)

// TestStatsCountAReferralItsDestinationsNodeRejectedAsRejected: the origin
// logs the receipt that says the destination's node rejected a referral as
// a receipt denied with detail rejected, and stats count the referral
// rejected, as the node's case list shows its case, whatever the filters
// (the receipt names no record type or agreement). A dead letter's receipt
// is denied too but carries no detail, and a rejection logged by an
// earlier release carried none either: both referrals still count under
// their last status, referred, as before. Each entry appends and the log
// verifies, the earlier release's with the bytes it always had. (From a
// known gap: the log could not tell a rejection from a dead letter, and
// stats counted every such referral referred.)
func TestStatsCountAReferralItsDestinationsNodeRejectedAsRejected(t *testing.T) {
	ctx := context.Background()
	l, _ := newTestLog(t)
	ref := func(i int) Entry {
		e := sentEntry(i)
		e.RecordType, e.Purpose, e.Due, e.Detail = "referral", "rights-protection", "2026-03-01", DetailReferred
		return e
	}
	denied := func(sent Entry, r Reason) Entry {
		return Entry{Time: sent.Time.Add(time.Minute), Kind: KindReceipt, EnvelopeID: sent.EnvelopeID,
			RefersTo: sent.EnvelopeID, Destination: "44", Decision: Deny, Reasons: []Reason{r}}
	}
	rejected, dead, older := ref(1), ref(2), ref(3)
	rejection := denied(rejected, ReasonRecordTypeNotCovered)
	rejection.Detail = DetailRejected
	entries := []Entry{rejected, dead, older, rejection,
		denied(dead, ReasonContractInvalid), denied(older, ReasonRecordTypeNotCovered)}
	for _, e := range entries {
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatalf("append %s %s: %v", e.Kind, e.EnvelopeID, err)
		}
	}
	stored, err := l.Entries(ctx, 0, l.Size())
	if err != nil {
		t.Fatal(err)
	}
	head, err := l.SignedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if parsed, _ := exportVerified(t, stored, head.Note); len(parsed) != len(entries) || parsed[3].Detail != DetailRejected || parsed[4].Detail != "" {
		t.Errorf("read back %+v; want the rejection's receipt with detail rejected, the dead letter's with none", parsed)
	}

	want := map[Detail]int{DetailRejected: 1, DetailReferred: 2}
	now := t0.Add(30 * 24 * time.Hour) // past every due day
	for name, f := range map[string]Filter{
		"none": {},
		"pair": {Pair: &Pair{Origin: "51", Destination: "44"}},
		"type": {RecordType: "referral"},
		"kind": {Kind: KindSent},
	} {
		s, err := l.Stats(ctx, f, now)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(s.Referrals.ByStatus, want) || len(s.Referrals.Overdue) != 0 {
			t.Errorf("filter %s: referrals %+v; want %v and none overdue (none reached 44)", name, s.Referrals, want)
		}
	}
}

// A receipt's detail says the destination's node rejected the envelope:
// it goes with decision deny alone, and no other detail fits a receipt.
func TestValidateReceiptDetail(t *testing.T) {
	receipt := func(d Decision, detail Detail) *Entry {
		return &Entry{Time: t0, Kind: KindReceipt, EnvelopeID: "env-1", RefersTo: "env-1",
			Destination: "44", Decision: d, Reasons: []Reason{ReasonOther}, Detail: detail}
	}
	if err := receipt(Deny, DetailRejected).Validate(); err != nil {
		t.Errorf("a rejection's receipt: %v", err)
	}
	for _, e := range []*Entry{receipt(Allow, DetailRejected), receipt("", DetailRejected), receipt(Deny, DetailAccepted)} {
		if err := e.Validate(); err == nil || !strings.Contains(err.Error(), "audit entry detail") {
			t.Errorf("receipt, decision %q, detail %q: %v; want an error on detail", e.Decision, e.Detail, err)
		}
	}
}
