package exchange

import (
	"context"
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

// receiptEntries are the audit entries of a peer's answers.
func (x *Exchange) receiptEntries(peer string, ds []store.Delivered) []audit.Entry {
	entries := make([]audit.Entry, 0, len(ds))
	for _, d := range ds {
		if d.Rejected {
			e := receiptEntry(d.EnvelopeID, peer, "", d.Latency.Milliseconds())
			e.Decision = "deny"
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

// Outbox is the store as the delivery workers' outbox. When the audit log
// shares the store's file, it writes the receipts' audit entries in the
// transaction that records the receipts (and Delivered then has nothing to
// audit); otherwise it is the store itself.
func (x *Exchange) Outbox() delivery.Outbox {
	if x.inTx == nil {
		return x.d.Store
	}
	x.receiptsAlong.Store(true)
	return receiptOutbox{x}
}

type receiptOutbox struct{ x *Exchange }

func (o receiptOutbox) Pending(peer string, limit int, skip func(string) bool) ([]store.Queued, error) {
	return o.x.d.Store.Pending(peer, limit, skip)
}

func (o receiptOutbox) CountPending(peer string, limit int, skip func(string) bool) (int, error) {
	return o.x.d.Store.CountPending(peer, limit, skip)
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

// Failed is told of failed batches; the delivery worker logs them already.
func (x *Exchange) Failed(peer string, err error) {}

var _ delivery.Observer = (*Exchange)(nil)
