package node_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/devfed/devfedtest"
)

// TestReconcileAcrossNodes runs the development federation's sample traffic
// between real nodes, reconciles 51's log with 44's through the peer API,
// then makes 51 log a delivery 44 never logged and the two log one
// envelope with different digests, and finds both.
func TestReconcileAcrossNodes(t *testing.T) {
	ctx := context.Background()
	f := devfedtest.Seeded(t, 2)
	auditor := func(province string) *api.Client {
		t.Helper()
		cl, err := f.APIClient(province, f.Certs[province].Auditor)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	for _, pair := range [][2]string{{"51", "44"}, {"44", "51"}, {"51", "33"}} {
		r, err := auditor(pair[0]).AuditReconcile(ctx, pair[1], time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if string(r.A) != pair[0] || string(r.B) != pair[1] || r.EntriesA == 0 || r.EntriesB == 0 || r.Mismatches == nil || len(r.Mismatches) != 0 {
			t.Errorf("%s with %s after a clean exchange: %+v", pair[0], pair[1], r)
		}
	}

	// One sent entry of 51's and one received entry of 44's, as templates.
	find := func(province string, kind audit.Kind) audit.Entry {
		t.Helper()
		es, err := f.Nodes[province].AuditLog().Query(ctx, audit.Filter{Kind: kind, Pair: &audit.Pair{Origin: "51", Destination: "44"}})
		if err != nil || len(es) == 0 {
			t.Fatalf("no %s entry of 51 to 44 in %s's log: %v", kind, province, err)
		}
		return es[0]
	}
	appendTo := func(province string, e audit.Entry) int64 {
		t.Helper()
		e.Index, e.Time = 0, time.Now()
		idx, err := f.Nodes[province].AuditLog().Append(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		return idx
	}
	before := time.Now()
	sent, received := find("51", audit.KindSent), find("44", audit.KindReceived)
	dropped, altered := ulid.Make().String(), ulid.Make().String()
	sent.EnvelopeID = dropped
	droppedAt := appendTo("51", sent)
	sent.EnvelopeID, received.EnvelopeID = altered, altered
	received.PayloadDigest[0] ^= 0xff
	alteredA, alteredB := appendTo("51", sent), appendTo("44", received)

	r, err := auditor("51").AuditReconcile(ctx, "44", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]audit.Mismatch{
		dropped: {Discrepancy: audit.SentNotReceived, EnvelopeID: dropped, Origin: "51", Destination: "44", IndexA: droppedAt, IndexB: -1},
		altered: {Discrepancy: audit.DigestMismatch, EnvelopeID: altered, Origin: "51", Destination: "44", IndexA: alteredA, IndexB: alteredB},
	}
	if len(r.Mismatches) != len(want) {
		t.Fatalf("mismatches %+v, want %+v", r.Mismatches, want)
	}
	for _, m := range r.Mismatches {
		m.Detail = ""
		if m != want[m.EnvelopeID] {
			t.Errorf("mismatch %+v, want %+v", m, want[m.EnvelopeID])
		}
	}
	// Ending the window before them leaves them out.
	r, err = auditor("51").AuditReconcile(ctx, "44", time.Time{}, before)
	if err != nil || len(r.Mismatches) != 0 {
		t.Errorf("window ending before the edits: %+v, %v", r, err)
	}

	get := func(cl *api.Client, path string) error { return cl.Get(ctx, path, new(api.AuditReconcileResponse)) }
	system, err := f.APIClient("51", f.Certs["51"].System)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(system, "/api/v1/audit/reconcile?with=44"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("a system reconciling: %v, want 403", err)
	}
	for query, want := range map[string]string{
		"":              "with is required",
		"?with=4":       `with: "4" is not a province code`,
		"?with=51":      "with is this node's own province 51",
		"?with=32":      "province 32",
		"?with=44&to=x": "to must be an RFC 3339 time",
		"?with=44&from=2026-12-06T10:00:00Z&to=2026-12-06T10:00:00Z": "from 2026-12-06T10:00:00Z is not before to",
	} {
		err := get(auditor("51"), "/api/v1/audit/reconcile"+query)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("reconcile%s: %v, want an error mentioning %s", query, err, want)
		}
	}
	// A peer that is down is named.
	f.Nodes["33"].Close()
	_, err = auditor("51").AuditReconcile(ctx, "33", time.Time{}, time.Time{})
	if err == nil || !strings.Contains(err.Error(), "province 33") || !strings.Contains(err.Error(), "502") {
		t.Errorf("reconcile with a node that is down: %v, want a 502 naming 33", err)
	}
}
