package exchange

import (
	"context"
	"net/http"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/store"
)

// Delivered audits the receipts of a delivered batch; it makes the exchange
// the delivery workers' observer. When the workers use Outbox, the receipts
// were audited in the transaction that recorded them, and there is nothing
// left to do here.
func (x *Exchange) Delivered(peer string, outcomes []delivery.Outcome, batch []store.Queued, latency time.Duration) {
	if x.receiptsAlong.Load() {
		return
	}
	ds := make([]store.Delivered, len(outcomes))
	for i, o := range outcomes {
		ds[i] = store.Delivered{EnvelopeID: o.EnvelopeID, Receipt: o.Receipt, Rejected: o.Rejected, Reasons: o.Reasons, PayloadDigest: o.PayloadDigest, Latency: latency}
	}
	x.audit(context.Background(), x.receiptEntries(peer, ds)...)
}

// receiptEntries are the audit entries of a peer's answers. A rejection
// is a receipt denied with detail rejected, which tells it from a dead
// letter's (deadLetterEntries): the envelope reached the peer's node and
// was refused for good, so a referral's case ends there (stats count it
// rejected, as the store moves its case when it records the answer).
func (x *Exchange) receiptEntries(peer string, ds []store.Delivered) []audit.Entry {
	entries := make([]audit.Entry, 0, len(ds))
	for _, d := range ds {
		if d.Rejected {
			e := receiptEntry(d.EnvelopeID, peer, "", d.Latency.Milliseconds())
			e.Decision, e.Detail = audit.Deny, audit.DetailRejected
			for _, r := range d.Reasons {
				e.Reasons = append(e.Reasons, auditReason(r))
			}
			entries = append(entries, e)
			continue
		}
		entries = append(entries, receiptEntry(d.EnvelopeID, peer, d.PayloadDigest, d.Latency.Milliseconds()))
	}
	return entries
}

// deadLetterEntries are the audit entries of envelopes delivery gave up
// on: receipt entries denied, as for a rejection but without its detail
// (a requeue may yet deliver them), with a code for the refusal and none
// of its text. The log's closed set of kinds has none of its own for
// them, nor for an envelope unreadable before it was sent, and an
// auditor's reconciliation shows them as sent and not received, which
// they are.
func deadLetterEntries(peer string, ds []store.DeadLetter) []audit.Entry {
	entries := make([]audit.Entry, len(ds))
	for i, d := range ds {
		e := receiptEntry(d.EnvelopeID, peer, "", 0)
		e.Decision = audit.Deny
		e.Reasons = []audit.Reason{audit.ReasonOther}
		switch d.Status {
		case 0, http.StatusBadRequest, http.StatusUnprocessableEntity:
			// unreadable as stored, or refused as a malformed request
			e.Reasons = []audit.Reason{audit.ReasonContractInvalid}
		}
		entries[i] = e
	}
	return entries
}

// Outbox is the store as the delivery workers' outbox. When the audit log
// shares the store's file, it writes the audit entries of receipts and
// dead letters in the transaction that records them (and Delivered then
// has nothing to audit); otherwise it is the store, auditing dead letters
// once they are recorded.
func (x *Exchange) Outbox() delivery.Outbox {
	if x.inTx == nil {
		return deadAfter{x.d.Store, x}
	}
	x.receiptsAlong.Store(true)
	return receiptOutbox{x}
}

type receiptOutbox struct{ x *Exchange }

func (o receiptOutbox) Pending(peer string, limit int, skip func(string) bool) ([]store.Queued, error) {
	return o.x.d.Store.Pending(peer, limit, skip)
}

func (o receiptOutbox) PendingFull(peer string, limit int, skip func(string) bool) ([]store.Queued, error) {
	return o.x.d.Store.PendingFull(peer, limit, skip)
}

func (o receiptOutbox) MarkDeferred(ctx context.Context, peer string, ids []string, at time.Time) ([]time.Time, error) {
	return o.x.d.Store.MarkDeferred(ctx, peer, ids, at)
}

func (o receiptOutbox) MarkDelivered(ctx context.Context, peer string, ds []store.Delivered) error {
	prepared, err := o.x.inTx.Prepare(o.x.receiptEntries(peer, ds)...)
	if err != nil {
		return err
	}
	return o.x.d.Store.MarkDeliveredAnd(ctx, peer, ds, func(tx *bolt.Tx) error {
		return o.x.inTx.AppendPreparedTx(tx, prepared...)
	})
}

func (o receiptOutbox) MarkDead(ctx context.Context, peer string, ds []store.DeadLetter) error {
	prepared, err := o.x.inTx.Prepare(deadLetterEntries(peer, ds)...)
	if err != nil {
		return err
	}
	return o.x.d.Store.MarkDeadAnd(ctx, peer, ds, func(tx *bolt.Tx) error {
		return o.x.inTx.AppendPreparedTx(tx, prepared...)
	})
}

// deadAfter is the store as the outbox when the audit log is elsewhere.
type deadAfter struct {
	*store.Store
	x *Exchange
}

func (o deadAfter) MarkDead(ctx context.Context, peer string, ds []store.DeadLetter) error {
	if err := o.Store.MarkDead(ctx, peer, ds); err != nil {
		return err
	}
	o.x.audit(ctx, deadLetterEntries(peer, ds)...)
	return nil
}

// Failed is told of failed batches; the delivery worker logs them already.
func (x *Exchange) Failed(peer string, err error) {}

var _ delivery.Observer = (*Exchange)(nil)
