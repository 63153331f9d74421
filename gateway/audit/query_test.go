package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestQuery(t *testing.T) {
	_, a, _ := traffic(10, 1)
	denied := sentEntry(99)
	denied.Kind, denied.Decision, denied.Reasons = KindDenied, Deny, []Reason{ReasonPurposeNotAllowed}
	denied.Origin, denied.Destination, denied.AgreementID = "51", "33", "AG-51-33-2026-002"
	denied.RecordType = "referral"
	a = append(a, denied)
	p5144, p4451 := Pair{"51", "44"}, Pair{"44", "51"}
	tests := []struct {
		name string
		f    Filter
		want int
	}{
		{"everything", Filter{}, 21},
		{"sent only", Filter{Kind: KindSent}, 10},
		{"denied", Filter{Decision: Deny}, 1},
		{"pair 51:44", Filter{Pair: &p5144}, 20},
		{"pair the other way", Filter{Pair: &p4451}, 0},
		{"between 44 and 51, either way", Filter{Between: &p4451}, 20},
		{"between 51 and 33", Filter{Between: &Pair{"51", "33"}}, 1},
		{"agreement", Filter{AgreementID: "AG-51-33-2026-002"}, 1},
		{"record type", Filter{RecordType: "referral"}, 1},
		{"first five minutes", Filter{From: t0, To: t0.Add(5 * time.Minute)}, 11}, // 5 sent, 5 receipts, the denial
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Query(a, tc.f); len(got) != tc.want {
				t.Errorf("%d entries, want %d", len(got), tc.want)
			}
		})
	}
}

func TestFilterCheckNamesWhatCanMatchNothing(t *testing.T) {
	for _, tc := range []struct {
		f    Filter
		want string
	}{
		{Filter{Kind: "sending"}, `kind "sending" is not an entry kind`},
		{Filter{RecordType: "transfers"}, `type "transfers" is not a record type`},
		{Filter{Decision: "denied"}, `decision "denied" is neither allow nor deny`},
		{Filter{From: t0, To: t0}, "is not before to"},
		{Filter{Pair: &Pair{"51", "33"}, Between: &Pair{"51", "44"}}, "pair 51:33 is neither direction of between 51,44"},
	} {
		if err := tc.f.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error containing %q", tc.f, err, tc.want)
		}
	}
	ok := Filter{Kind: KindCertificate, RecordType: "referral-update", Decision: Allow, From: t0, To: t0.Add(time.Second),
		Pair: &Pair{"44", "51"}, Between: &Pair{"51", "44"}} // the pair is one direction of between
	if err := ok.Check(); err != nil {
		t.Errorf("%+v: %v", ok, err)
	}
}

func TestParseWindow(t *testing.T) {
	for q, want := range map[string]string{
		"from=yesterday": `from must be an RFC 3339 time, got "yesterday"`,
		"from=2026-12-06T10:00:00Z&to=2026-12-06T09:00:00Z": "from 2026-12-06T10:00:00Z is not before to 2026-12-06T09:00:00Z",
		"from=2026-12-06T10:00:00Z&to=2026-12-06T10:00:00Z": "is not before to",
	} {
		v, _ := url.ParseQuery(q)
		if _, _, err := ParseWindow(v); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", q, err, want)
		}
	}
	v, _ := url.ParseQuery("from=2026-12-06T09:00:00.5Z&to=2026-12-06T18:00:00%2B08:00")
	from, to, err := ParseWindow(v)
	if err != nil || !from.Equal(time.Date(2026, 12, 6, 9, 0, 0, 5e8, time.UTC)) || !to.Equal(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("a valid window: %s, %s, %v", from, to, err)
	}
}

func TestParsePair(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want Pair
	}{
		{"51:44", true, Pair{"51", "44"}},
		{"51-44", false, Pair{}},
		{"51:99", false, Pair{}},
		{"51:51", false, Pair{}}, // as between refuses 51,51 (from a review)
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParsePair(tc.in)
			if (err == nil) != tc.ok || p != tc.want {
				t.Errorf("ParsePair(%q) = %v, %v", tc.in, p, err)
			}
		})
	}
}

// TestParseBetween: between names two different provinces, comma
// separated, in either order; anything else is refused naming between.
func TestParseBetween(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Pair
		err  string // in the error; "" when accepted
	}{
		{"51,44", Pair{"51", "44"}, ""},
		{"44,51", Pair{"44", "51"}, ""},
		{"51:44", Pair{}, `between "51:44": want two province codes separated by a comma`},
		{"51,99", Pair{}, `between "51,99": want two province codes`},
		{"51,44,33", Pair{}, `between "51,44,33": want two province codes`},
		{"51", Pair{}, `between "51": want two province codes`},
		{"51,51", Pair{}, `between "51,51" names province 51 twice`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParseBetween(tc.in)
			switch {
			case tc.err == "" && (err != nil || p != tc.want):
				t.Errorf("ParseBetween(%q) = %v, %v; want %v", tc.in, p, err, tc.want)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("ParseBetween(%q) = %v, %v; want an error containing %q", tc.in, p, err, tc.err)
			}
		})
	}
}

func TestStats(t *testing.T) {
	_, a, b := traffic(10, 1)
	all := append(append([]Entry{}, a...), b...)
	denied := sentEntry(50)
	denied.Kind, denied.Decision, denied.Reasons = KindDenied, Deny, []Reason{ReasonQuotaExceeded, ReasonProvincePolicy}
	ref := sentEntry(60)
	ref.RecordType, ref.EnvelopeID, ref.Purpose, ref.Due = "referral", "ref-1", "rights-protection", "2026-03-01"
	ref2 := ref
	ref2.EnvelopeID, ref2.Due = "ref-2", "2026-04-01"
	ref3 := ref
	ref3.EnvelopeID = "ref-3"
	closed := Entry{Time: t0.Add(time.Hour), Kind: KindReferralUpdate, EnvelopeID: "upd-1", RefersTo: "ref-3", Detail: DetailClosed}
	all = append(all, denied, ref, ref2, ref3, closed)

	s := Stats(all, t0)
	if len(s.Flows) != 1 || s.Flows[0].Sent != 13 || s.Flows[0].Received != 10 || s.Flows[0].Denied != 1 {
		t.Errorf("flows %+v", s.Flows)
	}
	if len(s.Denials) != 2 || s.Denials[0].Count != 1 {
		t.Errorf("denials %+v", s.Denials)
	}
	if s.Latency.Count != 10 || s.Latency.P50 <= 0 || s.Latency.Max < s.Latency.P99 {
		t.Errorf("latency %+v", s.Latency)
	}
	if s.Referrals.ByStatus[DetailReferred] != 2 || s.Referrals.ByStatus[DetailClosed] != 1 ||
		len(s.Referrals.Overdue) != 1 || s.Referrals.Overdue[0] != "ref-1" {
		t.Errorf("referrals %+v", s.Referrals)
	}
}

func TestExportRoundTripVerifies(t *testing.T) {
	ctx := context.Background()
	l, _ := newTestLog(t)
	_, a, _ := traffic(20, 5)
	for _, e := range a {
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	head, err := l.SignedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := l.Entries(ctx, 0, l.Size())
	if err != nil {
		t.Fatal(err)
	}
	parsed, rows := exportVerified(t, entries, head.Note)
	if len(parsed) != len(entries) {
		t.Fatalf("read back %d entries, want %d", len(parsed), len(entries))
	}
	if len(rows) != len(entries)+1 || len(rows[1]) != len(csvHeader) {
		t.Errorf("csv: %d rows", len(rows))
	}
	var table strings.Builder
	if err := WriteTable(&table, entries[:2]); err != nil || strings.Count(table.String(), "\n") != 3 {
		t.Errorf("table:\n%s", table.String())
	}
}

// exportVerified exports entries as JSONL and checks that what it reads
// back verifies against head, as an auditor holding only the file and the
// head would; it returns the entries read back and the rows of the same
// entries exported as CSV, header first.
func exportVerified(t *testing.T, entries []Entry, head []byte) (parsed []Entry, rows [][]string) {
	t.Helper()
	var jsonl bytes.Buffer
	if err := ExportJSONL(&jsonl, All(entries)); err != nil {
		t.Fatal(err)
	}
	raws, parsed, err := ReadJSONL(&jsonl)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(context.Background(), VerifyInput{Entries: raws, Latest: head, Origin: testOrigin, Verifier: testVerifier(t)})
	if err != nil || !rep.OK() {
		t.Errorf("exported file does not verify: %v %v", err, rep.Findings)
	}
	var c bytes.Buffer
	if err := ExportCSV(&c, All(entries)); err != nil {
		t.Fatal(err)
	}
	if rows, err = csv.NewReader(&c).ReadAll(); err != nil {
		t.Fatalf("csv: %v", err)
	}
	return parsed, rows
}

// A referral its destination rejected (or delivery gave up on) never
// reached the other province: past its due day it is not overdue there,
// unless an operator requeued it since.
func TestStatsReferralsRefusedAreNotOverdue(t *testing.T) {
	ref := func(id string) Entry {
		e := sentEntry(60)
		e.RecordType, e.EnvelopeID, e.Purpose, e.Due = "referral", id, "rights-protection", "2026-03-01"
		return e
	}
	refused := func(id string) Entry {
		return Entry{Time: t0.Add(time.Minute), Kind: KindReceipt, EnvelopeID: id, RefersTo: id, Destination: "44", Decision: Deny, Reasons: []Reason{"referral_id_taken"}}
	}
	requeued := Entry{Time: t0.Add(time.Hour), Kind: KindRequeue, EnvelopeID: "ref-2", Destination: "44"}
	s := Stats([]Entry{ref("ref-1"), refused("ref-1"), ref("ref-2"), refused("ref-2"), requeued, ref("ref-3")}, t0)
	if s.Referrals.ByStatus[DetailReferred] != 3 || !slices.Equal(s.Referrals.Overdue, []string{"ref-2", "ref-3"}) {
		t.Errorf("referrals %+v; want 3 referred, ref-2 (requeued) and ref-3 overdue", s.Referrals)
	}
}

// The filters stats take select a referral's flow, but not the receipt
// that says its destination rejected it (no record type, agreement or
// origin): that receipt is read all the same, and the referral is not
// overdue under any of them. (From a review.)
func TestStatsForFollowsReferralsPastTheFilter(t *testing.T) {
	ref := sentEntry(60)
	ref.RecordType, ref.EnvelopeID, ref.Purpose, ref.Due = "referral", "ref-1", "rights-protection", "2026-03-01"
	refused := Entry{Time: t0.Add(48 * time.Hour), Kind: KindReceipt, EnvelopeID: "ref-1", RefersTo: "ref-1", Destination: "44", Decision: Deny, Reasons: []Reason{"referral_id_taken"}}
	for name, f := range map[string]Filter{
		"none":      {},
		"pair":      {Pair: &Pair{Origin: "51", Destination: "44"}},
		"type":      {RecordType: "referral"},
		"agreement": {AgreementID: ref.AgreementID},
		"window":    {From: t0.Add(-time.Hour), To: t0.Add(time.Hour)},
	} {
		s := StatsFor([]Entry{ref, refused}, f, t0.Add(72*time.Hour))
		if s.Referrals.ByStatus[DetailReferred] != 1 || len(s.Referrals.Overdue) != 0 {
			t.Errorf("filter %s: referrals %+v; want the one referred, not overdue: 44 rejected it", name, s.Referrals)
		}
	}
}

// Following answers past the filter keeps nothing of the answers to other
// envelopes: a narrow query over a log a peer refused much of stays small.
// (From a review: every refused receipt was kept whole.)
func TestStatsForKeepsOnlyItsReferralsAnswers(t *testing.T) {
	var b statsBuilder
	f := Filter{RecordType: "referral"}
	for i := range 1000 {
		id := fmt.Sprintf("tr-%d", i)
		b.take(Entry{Time: t0, Kind: KindReceipt, EnvelopeID: id, RefersTo: id, Destination: "44", Decision: Deny}, f)
	}
	if len(b.refs) != 0 || len(b.refused) != 0 {
		t.Errorf("kept %d entries and %d flags of answers to envelopes the filter does not select", len(b.refs), len(b.refused))
	}
}

// A referral sent 51→44 is resolved by an update that travels back 44→51
// (referral updates go either way). The filters select the referral but
// not its update, which is read all the same: the case is resolved, not
// overdue, under any of them. (From a review.)
func TestStatsForFollowsReferralUpdatesPastTheFilter(t *testing.T) {
	ref := sentEntry(60)
	ref.RecordType, ref.EnvelopeID, ref.Purpose, ref.Due, ref.Detail = "referral", "ref-1", "rights-protection", "2026-03-05", DetailReferred
	upd := Entry{Time: t0.Add(time.Hour), Kind: KindReceived, EnvelopeID: "upd-1", RefersTo: "ref-1",
		RecordType: "referral-update", Origin: "44", Destination: "51", Purpose: "rights-protection",
		Decision: Allow, Detail: DetailResolved}
	now := t0.Add(30 * 24 * time.Hour) // well past the due day
	for name, f := range map[string]Filter{
		"none":   {},
		"pair":   {Pair: &Pair{Origin: "51", Destination: "44"}},
		"type":   {RecordType: "referral"},
		"kind":   {Kind: KindSent},
		"window": {From: t0.Add(-time.Hour), To: t0.Add(2 * time.Minute)},
	} {
		s := StatsFor([]Entry{ref, upd}, f, now)
		if s.Referrals.ByStatus[DetailResolved] != 1 || len(s.Referrals.Overdue) != 0 {
			t.Errorf("filter %s: referrals %+v; want ref-1 resolved and not overdue: 44 resolved it", name, s.Referrals)
		}
	}
}

// Entries that name an origin and a destination but are no flow (a pruned
// envelope, an agreement change, a receipt) make no flow row: flows count
// what was sent, received or denied. (From a review.)
func TestStatsCountsOnlyFlowsAsFlows(t *testing.T) {
	later := t0.Add(40 * 24 * time.Hour)
	pruned := Entry{Time: later, Kind: KindPruned, EnvelopeID: "env-1", RecordType: "transfer", Origin: "44", Destination: "51"}
	agreement := Entry{Time: later, Kind: KindAgreement, AgreementID: "AG-51-44-2026-001", AgreementVersion: 2, Origin: "51", Destination: "44", Detail: "approved"}
	receipt := Entry{Time: later, Kind: KindReceipt, EnvelopeID: "env-2", RefersTo: "env-2", Origin: "51", Destination: "44", Decision: Allow, LatencyMS: 20}
	s := Stats([]Entry{sentEntry(1), pruned, agreement, receipt}, t0)
	if len(s.Flows) != 1 || s.Flows[0].Sent != 1 || s.Flows[0].Day != t0.Format(time.DateOnly) {
		t.Errorf("flows %+v; want the one sent on %s, nothing of the pruned, agreement or receipt entry", s.Flows, t0.Format(time.DateOnly))
	}
}

// TestTableEscapesControlCharacters: a query's entries come from a node
// unverified; one holding terminal escapes, tabs or newlines in a field
// must not reach the terminal raw. (From a review.)
func TestTableEscapesControlCharacters(t *testing.T) {
	e := Entry{Index: 7, Kind: KindSent, Origin: "51", Destination: "44", EnvelopeID: "01J\x1b[2J\tX\nY", AgreementID: "AG\u202e-1"}
	var table strings.Builder
	if err := WriteTable(&table, []Entry{e}); err != nil {
		t.Fatal(err)
	}
	out := table.String()
	if strings.ContainsAny(out, "\x1b\t\u202e") || strings.Count(out, "\n") != 2 {
		t.Errorf("table holds the field's control characters raw:\n%q", out)
	}
	if !strings.Contains(out, `"01J\x1b[2J\tX\nY"`) {
		t.Errorf("table does not show the envelope id escaped:\n%s", out)
	}
	var plain strings.Builder
	WriteTable(&plain, []Entry{{Index: 1, Kind: KindSent, EnvelopeID: "01JABC"}})
	if strings.Contains(plain.String(), `"`) {
		t.Errorf("a plain field is quoted:\n%s", plain.String())
	}
}

// TestTablePairOfOneProvince: an entry of one province's own (a
// certificate issued, its policy changed) shows that province alone, not
// a pair with an empty side.
func TestTablePairOfOneProvince(t *testing.T) {
	var table strings.Builder
	if err := WriteTable(&table, []Entry{{Index: 3, Kind: KindCertificate, Origin: "51"}}); err != nil {
		t.Fatal(err)
	}
	row := strings.Fields(strings.Split(table.String(), "\n")[1])
	if len(row) < 4 || row[3] != "51" {
		t.Errorf("row %q: PAIR is not 51", row)
	}
}
