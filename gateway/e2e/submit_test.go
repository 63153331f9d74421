package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestADeniedRecordNeverReachesItsDestination: of a batch from 51, the
// transfer under an agreement nobody registered is denied, the answer's
// body says why by reason code, its record view shows the denial with the
// same codes, and only its accepted neighbour ever arrives in 44's inbox.
func TestADeniedRecordNeverReachesItsDestination(t *testing.T) {
	f := start(t, nil)
	ctx := context.Background()
	g := f.gens["44"]
	accepted, denied := g.Transfer(), g.Transfer()
	denied.AgreementID = "AG-51-44-2026-999"

	status, body := f.httpAs("51", f.Certs["51"].System).do(http.MethodPost, "/api/v1/records", batchOf(t, accepted, denied))
	if status != http.StatusOK {
		t.Fatalf("batch answered %d: %s", status, body)
	}
	res := submitAnswer(t, body)
	if res[0].Outcome != exchange.OutcomeAccepted {
		t.Fatalf("the covered transfer: %+v", res[0])
	}
	d := res[1]
	if d.Outcome != exchange.OutcomeDenied || !slices.Contains(reasonCodes(d.Reasons), "no_agreement") {
		t.Fatalf("the uncovered transfer: %+v; want denied for no_agreement", d)
	}
	for _, r := range d.Reasons {
		if r.Message == "" {
			t.Errorf("reason %s comes without a message for the submitter", r.Code)
		}
	}

	v, err := f.system("51").Record(ctx, d.EnvelopeID)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != store.StateDenied || !slices.Equal(v.Reasons, reasonCodes(d.Reasons)) {
		t.Errorf("record view of the denied transfer: state %s, reasons %v; want %s, %v", v.State, v.Reasons, store.StateDenied, reasonCodes(d.Reasons))
	}

	f.waitArrived("44", res[0].EnvelopeID)
	inbox := f.inboxAfter("44", 0)
	if n := countRecord(t, inbox, accepted.ID); n != 1 {
		t.Errorf("44's inbox holds the accepted transfer %d times; want once", n)
	}
	if n := countRecord(t, inbox, denied.ID); n != 0 {
		t.Errorf("44's inbox holds the denied transfer %d times", n)
	}
}

// TestAResubmittedRecordIsStoredOnce: a reference is the idempotency key.
// Sent again, alone, with its content changed, or twice in one batch, the
// record is answered duplicate with the first envelope's id, and 44's
// inbox holds it once.
func TestAResubmittedRecordIsStoredOnce(t *testing.T) {
	f := start(t, nil)
	ctx := context.Background()
	g := f.gens["44"]
	tr, other := g.Transfer(), g.Transfer()
	corrected := *tr
	corrected.Purpose = contracts.PurposeRightsProtection

	first := f.submit("51", tr)[0]
	if first.Outcome != exchange.OutcomeAccepted {
		t.Fatalf("first submission: %+v", first)
	}
	pair := f.submit("51", other, other)
	if pair[0].Outcome != exchange.OutcomeAccepted {
		t.Fatalf("first of a pair in one batch: %+v", pair[0])
	}
	for _, c := range []struct {
		name  string
		got   exchange.SubmitResult
		first string
	}{
		{"the same record again", f.submit("51", tr)[0], first.EnvelopeID},
		{"the same reference with other content", f.submit("51", &corrected)[0], first.EnvelopeID},
		{"the same record twice in a later batch", f.submit("51", tr, tr)[1], first.EnvelopeID},
		{"the second of a pair in one batch", pair[1], pair[0].EnvelopeID},
	} {
		if c.got.Outcome != exchange.OutcomeDuplicate || c.got.EnvelopeID != c.first {
			t.Errorf("%s: %s, envelope %s; want duplicate of %s", c.name, c.got.Outcome, c.got.EnvelopeID, c.first)
		}
	}

	if err := f.WaitDelivered(ctx, "51", []string{first.EnvelopeID, pair[0].EnvelopeID}); err != nil {
		t.Fatal(err)
	}
	inbox := f.inboxAfter("44", 0)
	if len(inbox) != 2 {
		t.Errorf("44's inbox holds %d envelopes; want the 2 transfers once each", len(inbox))
	}
	for _, rec := range []*contracts.Transfer{tr, other} {
		if n := countRecord(t, inbox, rec.ID); n != 1 {
			t.Errorf("44's inbox holds transfer %s %d times; want once", rec.ID, n)
		}
	}
	if q := f.nodeStatus("51").Queues; q["44"] != 0 {
		t.Errorf("51 still queues %d envelopes for 44 after the deliveries", q["44"])
	}
}

// TestASystemCannotSubmitForAnotherProvince: 44's system certificate is
// refused by 51's node before anything is read, and by its own node for a
// record from 51. Neither node stores it: its reference is unknown to both,
// nothing is queued, and when 51's system then sends it, it is accepted as
// new and reaches 44 once.
func TestASystemCannotSubmitForAnotherProvince(t *testing.T) {
	f := start(t, nil)
	tr := f.gens["44"].Transfer()
	ref := exchange.Ref(&tr.Header, contracts.RecordTransfer)
	as44 := f.Certs["44"].System

	status, body := f.httpAs("51", as44).do(http.MethodPost, "/api/v1/records", batchOf(t, tr))
	if e := errorAnswer(t, body); status != http.StatusForbidden || e.Code != "forbidden" || !strings.Contains(e.Error, "province 44") {
		t.Errorf("44's system at 51's node: %d %+v; want 403 forbidden naming province 44", status, e)
	}

	status, body = f.httpAs("44", as44).do(http.MethodPost, "/api/v1/records", batchOf(t, tr))
	if res := submitAnswer(t, body); status != http.StatusOK || res[0].Outcome != exchange.OutcomeForbidden || !strings.Contains(res[0].Error, "from is 51") {
		t.Errorf("44's system at its node with a record from 51: %d %+v; want forbidden for its from", status, res)
	}
	if status, body = f.httpAs("44", as44).do(http.MethodPost, "/api/v1/records", jsonOf(t, tr)); status != http.StatusForbidden {
		t.Errorf("the same record alone: %d %s; want 403", status, body)
	}

	f.noRecord("51", ref)
	f.noRecord("44", ref)
	for _, p := range []string{"51", "44"} {
		for peer, n := range f.nodeStatus(p).Queues {
			if n != 0 {
				t.Errorf("%s queues %d envelopes for %s", p, n, peer)
			}
		}
	}

	res := f.submit("51", tr)[0]
	if res.Outcome != exchange.OutcomeAccepted {
		t.Fatalf("51's system sending the refused record: %+v; want accepted as new", res)
	}
	f.waitArrived("44", res.EnvelopeID)
	if n := countRecord(t, f.inboxAfter("44", 0), tr.ID); n != 1 {
		t.Errorf("44's inbox holds the transfer %d times; want once", n)
	}
	// A 404, not any error: a request that failed would say nothing of
	// what 44's node holds.
	f.noRecord("44", ref)
}

// TestARefusedSubmissionNamesItsProblem: malformed JSON, a body beyond
// api.MaxBody, an unknown schema and a bad ID number check character are
// each refused with an answer naming the problem, and none is stored: the
// records' references are unknown to 51, and sent afterwards as they
// should be, the records are accepted as new and reach 44 once each, alone.
func TestARefusedSubmissionNamesItsProblem(t *testing.T) {
	f := start(t, nil)
	g := f.gens["44"]
	malformed, oversized, unknown, badID := g.Transfer(), g.Transfer(), g.Transfer(), g.Transfer()

	wrongSchema := *unknown
	wrongSchema.Schema = "laborlink.transfer/v9"
	wrongCheck := *badID
	wrongCheck.Worker.IDNumber = withWrongCheckCharacter(badID.Worker.IDNumber)
	whole := batchOf(t, malformed)

	for _, c := range []struct {
		name   string
		body   []byte
		status int
		// code is the error's code for a refusal of the whole body; names
		// is what the answer must say, in its error or in the problem at
		// path.
		code, names, path string
	}{
		{"malformed JSON", whole[:len(whole)/2], http.StatusBadRequest, "invalid", "JSON", ""},
		{"oversized body", oversizedBatch(t, oversized), http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the limit is %d", api.MaxBody), ""},
		{"unknown schema", jsonOf(t, &wrongSchema), http.StatusUnprocessableEntity, "", "unknown schema", "schema"},
		{"bad ID number check character", jsonOf(t, &wrongCheck), http.StatusUnprocessableEntity, "", "check character", "worker.id_number"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := f.httpAs("51", f.Certs["51"].System).do(http.MethodPost, "/api/v1/records", c.body)
			if status != c.status {
				t.Errorf("answered %d; want %d: %.300s", status, c.status, body)
			}
			if c.path == "" {
				if e := errorAnswer(t, body); e.Code != c.code || !strings.Contains(e.Error, c.names) {
					t.Errorf("error %+v; want code %s, naming %q", e, c.code, c.names)
				}
				return
			}
			res := submitAnswer(t, body)
			if len(res) != 1 || res[0].Outcome != exchange.OutcomeInvalid || !namesProblem(res[0].Problems, c.path, c.names) {
				t.Errorf("results %+v; want invalid, with a problem at %s naming %q", res, c.path, c.names)
			}
		})
	}

	sent := []*contracts.Transfer{malformed, oversized, unknown, badID}
	for _, tr := range sent {
		f.noRecord("51", exchange.Ref(&tr.Header, contracts.RecordTransfer))
	}
	res := f.submit("51", malformed, oversized, unknown, badID)
	if len(res) != len(sent) {
		t.Fatalf("%d results for %d transfers", len(res), len(sent))
	}
	for i, r := range res {
		if r.Outcome != exchange.OutcomeAccepted {
			t.Fatalf("transfer %s sent properly after its refusal: %+v; want accepted as new", sent[i].ID, r)
		}
		f.waitArrived("44", r.EnvelopeID)
	}
	inbox := f.inboxAfter("44", 0)
	if len(inbox) != len(sent) {
		t.Errorf("44's inbox holds %d envelopes; want the %d transfers sent properly", len(inbox), len(sent))
	}
	for _, tr := range sent {
		if n := countRecord(t, inbox, tr.ID); n != 1 {
			t.Errorf("44's inbox holds transfer %s %d times; want once", tr.ID, n)
		}
	}
}

// noRecord fails the test unless province's node answers 404 for the
// reference, to province's system.
func (f *federation) noRecord(province, ref string) {
	f.t.Helper()
	status, body := f.httpAs(province, f.Certs[province].System).do(http.MethodGet, "/api/v1/records?ref="+url.QueryEscape(ref), nil)
	if status != http.StatusNotFound {
		f.t.Errorf("node %s answers %d for reference %s: %.300s; want 404, nothing stored", province, status, ref, body)
	}
}

// batchOf is the body of a submission of recs, {"records":[...]}.
func batchOf(t *testing.T, recs ...any) []byte {
	t.Helper()
	docs := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		docs[i] = jsonOf(t, r)
	}
	return api.BatchBody(docs)
}

// oversizedBatch is a batch of the valid tr and a string that takes the
// body one byte beyond api.MaxBody: a node that read past its limit would
// accept tr.
func oversizedBatch(t *testing.T, tr *contracts.Transfer) []byte {
	t.Helper()
	head := append(append([]byte(`{"records":[`), jsonOf(t, tr)...), `,"`...)
	tail := []byte(`"]}`)
	pad := bytes.Repeat([]byte("x"), api.MaxBody+1-len(head)-len(tail))
	return slices.Concat(head, pad, tail)
}

// jsonOf is v as json.Marshal writes it.
func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// submitAnswer reads a submission's answer as the node sent it.
func submitAnswer(t *testing.T, body []byte) []exchange.SubmitResult {
	t.Helper()
	var r api.SubmitResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("the answer is not a submission's results: %v: %.300s", err, body)
	}
	return r.Results
}

func reasonCodes(rs []policy.Reason) []string {
	codes := make([]string, len(rs))
	for i, r := range rs {
		codes[i] = r.Code
	}
	return codes
}

// namesProblem reports whether a problem at path says what.
func namesProblem(ps []contracts.FieldError, path, what string) bool {
	return slices.ContainsFunc(ps, func(p contracts.FieldError) bool {
		return p.Path == path && strings.Contains(p.Message, what)
	})
}

// withWrongCheckCharacter is the ID number with another check character,
// which no ID number's first 17 characters give.
func withWrongCheckCharacter(id string) string {
	if strings.HasSuffix(id, "0") {
		return id[:17] + "1"
	}
	return id[:17] + "0"
}

// countRecord counts the items of an inbox holding the record with id.
func countRecord(t *testing.T, items []store.Incoming, id string) int {
	t.Helper()
	n := 0
	for _, it := range items {
		var h struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(it.Record, &h); err != nil {
			t.Fatalf("inbox item %d: %v", it.Seq, err)
		}
		if h.ID == id {
			n++
		}
	}
	return n
}
