package audit

import (
	"slices"
	"testing"
	"time"
)

func TestReconcile(t *testing.T) {
	tests := []struct {
		name string
		edit func(a, b []Entry) ([]Entry, []Entry)
		want []Mismatch
	}{
		{"clean run", nil, nil},
		{"dropped delivery", func(a, b []Entry) ([]Entry, []Entry) {
			return a, slices.Delete(b, 4, 5) // b never logged env-000004
		}, []Mismatch{{Discrepancy: SentNotReceived, EnvelopeID: "env-000004", Origin: "51", Destination: "44", IndexA: 8, IndexB: -1}}},
		{"digest mismatch", func(a, b []Entry) ([]Entry, []Entry) {
			b[2].PayloadDigest[0] ^= 0xff
			return a, b
		}, []Mismatch{{Discrepancy: DigestMismatch, EnvelopeID: "env-000002", Origin: "51", Destination: "44", IndexA: 4, IndexB: 2}}},
		{"received without sent", func(a, b []Entry) ([]Entry, []Entry) {
			return slices.Delete(a, 6, 7), b // a's sent env-000003 is gone
		}, []Mismatch{{Discrepancy: ReceivedNotSent, EnvelopeID: "env-000003", Origin: "51", Destination: "44", IndexA: -1, IndexB: 3}}},
		{"import denied on an allowed flow", func(a, b []Entry) ([]Entry, []Entry) {
			b[5].Kind, b[5].Decision, b[5].Reasons = KindDenied, Deny, []Reason{ReasonProvincePolicy}
			return a, b
		}, []Mismatch{{Discrepancy: DeniedOneSide, EnvelopeID: "env-000005", Origin: "51", Destination: "44", IndexA: 10, IndexB: 5}}},
		{"sent logged twice", func(a, b []Entry) ([]Entry, []Entry) {
			again := a[6] // sent env-000003
			again.Index = int64(len(a))
			return append(a, again), b
		}, []Mismatch{{Discrepancy: LoggedTwice, EnvelopeID: "env-000003", Origin: "51", Destination: "44", IndexA: 16, IndexB: 3}}},
		{"received logged twice, its send gone", func(a, b []Entry) ([]Entry, []Entry) {
			again := b[2] // received env-000002
			again.Index = int64(len(b))
			return slices.Delete(a, 4, 5), append(b, again)
		}, []Mismatch{
			{Discrepancy: LoggedTwice, EnvelopeID: "env-000002", Origin: "51", Destination: "44", IndexA: -1, IndexB: 8},
			{Discrepancy: ReceivedNotSent, EnvelopeID: "env-000002", Origin: "51", Destination: "44", IndexA: -1, IndexB: 2},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, a, b := traffic(8, 3)
			if tc.edit != nil {
				a, b = tc.edit(a, b)
			}
			got := Reconcile(a, b, ReconcileOptions{A: "51", B: "44"})
			for i := range got {
				got[i].Detail = ""
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Reconcile:\n got %+v\nwant %+v", got, tc.want)
			}
			// The same logs passed the other way round find the same flows.
			if back := Reconcile(b, a, ReconcileOptions{A: "44", B: "51"}); len(back) != len(tc.want) {
				t.Errorf("reversed: %d findings, want %d", len(back), len(tc.want))
			}
		})
	}
}

func TestReconcileWindow(t *testing.T) {
	_, a, b := traffic(8, 3)
	b = slices.Delete(b, 6, 7) // env-000006 dropped, sent at t0+6m
	opt := ReconcileOptions{A: "51", B: "44", From: t0, To: t0.Add(5 * 60e9)}
	if got := Reconcile(a, b, opt); len(got) != 0 {
		t.Errorf("a drop outside the window was reported: %+v", got)
	}
}

// TestReconcileWidenedAndCounted: the window read is the reconciled one
// widened by the margin on each side that is bounded, and only entries
// within the reconciled window are counted.
func TestReconcileWidenedAndCounted(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	opt := ReconcileOptions{A: "51", B: "44", From: day(10), To: day(12)}
	if from, to := opt.Widened(24 * time.Hour); !from.Equal(day(9)) || !to.Equal(day(13)) {
		t.Errorf("Widened = %s, %s; want a day out on each side", from, to)
	}
	if from, to := (ReconcileOptions{To: day(12)}).Widened(time.Hour); !from.IsZero() || !to.Equal(day(12).Add(time.Hour)) {
		t.Errorf("Widened of an open start = %s, %s; want it left open", from, to)
	}
	es := []Entry{{Time: day(9)}, {Time: day(10)}, {Time: day(11)}, {Time: day(12)}}
	if got := opt.Counted(es); got != 2 {
		t.Errorf("Counted = %d, want the 2 entries from the 10th up to the 12th", got)
	}
}
