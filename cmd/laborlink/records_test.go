package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestPrintRecordShowsItsTimes: `records show` prints when a record was
// delivered or, for a dead letter, when delivery gave up on it, beside the
// reason, and for one discarded when, and that it will never be sent
// rather than wait as a dead letter.
func TestPrintRecordShowsItsTimes(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 15, 3, 0, time.UTC)
	tests := []struct {
		name string
		st   store.Status
		want []string
		not  string
	}{
		{"failed", store.Status{EnvelopeID: "01JDEAD", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", State: store.StateFailed,
			Reasons: []string{"province 44 refused the envelope with 400 Bad Request: bad batch"}, FailedAt: at},
			[]string{"01JDEAD  51/transfer/T-1  transfer to 44: failed", "reasons: province 44 refused", "failed 2026-03-02 10:15:03Z"}, "delivered"},
		{"discarded", store.Status{EnvelopeID: "01JDEAD", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", State: store.StateDiscarded,
			Reasons: []string{"province 44 refused the envelope with 422 Unprocessable Entity: import refused"}, FailedAt: at, DiscardedAt: at.Add(time.Hour)},
			[]string{"transfer to 44: discarded", "reasons: province 44 refused", "failed 2026-03-02 10:15:03Z, discarded 2026-03-02 11:15:03Z: it will never be sent"}, "dead letter until"},
		{"delivered", store.Status{EnvelopeID: "01JGOOD", Ref: "51/transfer/T-2", Type: "transfer", Peer: "44", State: store.StateDelivered, DeliveredAt: at},
			[]string{"transfer to 44: delivered", "delivered 2026-03-02 10:15:03Z"}, "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			printRecord(&out, exchange.RecordView{Status: tt.st})
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), tt.not) {
				t.Errorf("output mentions %q:\n%s", tt.not, out.String())
			}
		})
	}
}

// TestPrintRecordShowsARefusedConfirmation: `records show` prints a
// confirmation refused as of another worker with its reason, beside the
// one that confirms the transfer, how that one matched the worker, and
// the flag on its since.
func TestPrintRecordShowsARefusedConfirmation(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 15, 3, 0, time.UTC)
	v := exchange.RecordView{
		Status: store.Status{EnvelopeID: "01JGOOD", Ref: "51/transfer/T-2", Type: "transfer", Peer: "44", State: store.StateDelivered, DeliveredAt: at,
			Answers: []store.Answer{
				{EnvelopeID: "01JWRONG", Type: "confirmation", ReceivedAt: at, Summary: []byte(`{"employed":true}`), Refused: exchange.ReasonWorkerMismatch},
				{EnvelopeID: "01JRIGHT", Type: "confirmation", ReceivedAt: at, Summary: []byte(`{"employed":true}`)},
			}},
		Confirmed: &exchange.Confirmed{Employed: true, Since: "2026-02-28", ConfirmedOn: "2026-03-01", EnvelopeID: "01JRIGHT",
			WorkerMatch: exchange.WorkerMatchPartial, SinceBeforeContractStart: true},
	}
	var out bytes.Buffer
	printRecord(&out, v)
	for _, want := range []string{
		"employment confirmed by the destination: employed=true since 2026-02-28, 0 months (envelope 01JRIGHT)",
		"worker ID number against the transfer's: partial",
		"since is before the transfer's contract start",
		"refused answer: confirmation 01JWRONG: worker_mismatch",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "01JRIGHT {") {
		t.Errorf("output lists the confirmation taken as an answer of its own:\n%s", out.String())
	}
}

// TestInboxLineShowsTheWorkerMatch: `laborlink inbox` without --json shows
// a confirmation's worker match, so that one refused as another worker's
// is not listed as if it confirmed its transfer; an item without one
// shows none.
func TestInboxLineShowsTheWorkerMatch(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	refused := store.Incoming{Seq: 7, EnvelopeID: "01JCONF", Type: "confirmation", From: "44", ReceivedAt: at, WorkerMatch: exchange.WorkerMatchMismatch}
	if got := inboxLine(refused); !strings.HasSuffix(got, "  worker mismatch") {
		t.Errorf("inboxLine(a refused confirmation) = %q; want it to end \"  worker mismatch\"", got)
	}
	transfer := store.Incoming{Seq: 8, EnvelopeID: "01JTRAN", Type: "transfer", From: "51", ReceivedAt: at}
	if got := inboxLine(transfer); strings.Contains(got, "worker") || !strings.Contains(got, "01JTRAN") {
		t.Errorf("inboxLine(a transfer) = %q; want its envelope id and no worker match", got)
	}
}
