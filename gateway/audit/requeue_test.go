package audit

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestARequeueIsLoggedVerifiedAndExported: the dead letter of an envelope
// (a denied receipt) and an operator's requeue of it are appended, found by
// kind, verified and exported like any entry; stats count no flow for the
// requeue and only the dead letter's denial.
func TestARequeueIsLoggedVerifiedAndExported(t *testing.T) {
	ctx := context.Background()
	l, _ := newTestLog(t)
	sent := sentEntry(1)
	dead := Entry{Time: sent.Time.Add(1e9), Kind: KindReceipt, EnvelopeID: sent.EnvelopeID, RefersTo: sent.EnvelopeID,
		Destination: "44", Decision: Deny, Reasons: []Reason{ReasonContractInvalid}}
	requeue := Entry{Time: sent.Time.Add(2e9), Kind: KindRequeue, EnvelopeID: sent.EnvelopeID, Destination: "44", Serial: "3f9a0c"}
	for _, e := range []Entry{sent, dead, requeue} {
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatalf("append %s: %v", e.Kind, err)
		}
	}
	entries, err := l.Entries(ctx, 0, l.Size())
	if err != nil {
		t.Fatal(err)
	}
	if got := Query(entries, Filter{Kind: KindRequeue}); len(got) != 1 || got[0].EnvelopeID != sent.EnvelopeID || got[0].Serial != "3f9a0c" {
		t.Errorf("query by kind requeue = %+v", got)
	}
	if err := (Filter{Kind: KindRequeue}).Check(); err != nil {
		t.Errorf("filter by kind requeue: %v", err)
	}

	head, err := l.SignedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	parsed, rows := exportVerified(t, entries, head.Note)
	if len(parsed) != 3 || parsed[2].Kind != KindRequeue {
		t.Fatalf("read back %+v", parsed)
	}
	if len(rows) != 4 {
		t.Fatalf("csv: %d rows", len(rows))
	}
	kind, serial := slices.Index(csvHeader, "kind"), slices.Index(csvHeader, "serial")
	if rows[3][kind] != "requeue" || rows[3][serial] != "3f9a0c" {
		t.Errorf("csv row of the requeue: %v", rows[3])
	}
	var table strings.Builder
	if err := WriteTable(&table, entries); err != nil || !strings.Contains(table.String(), "requeue") {
		t.Errorf("table:\n%s", table.String())
	}

	s := Stats(entries, t0)
	if len(s.Flows) != 1 || s.Flows[0].Sent != 1 || s.Flows[0].Denied != 0 {
		t.Errorf("flows %+v, want the one sent", s.Flows)
	}
	if len(s.Denials) != 1 || s.Denials[0] != (ReasonCount{ReasonContractInvalid, 1}) {
		t.Errorf("denials %+v, want the dead letter's", s.Denials)
	}
}
