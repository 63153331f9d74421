package exchange

import (
	"context"
	"encoding/json"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/store"
)

// Delivered audits the receipts of a delivered batch; it makes the exchange
// the delivery workers' observer.
func (x *Exchange) Delivered(peer string, outcomes []delivery.Outcome, batch []store.Queued, latency time.Duration) {
	var entries []audit.Entry
	defer func() { x.audit(context.Background(), entries...) }()
	for _, o := range outcomes {
		if o.Rejected {
			e := receiptEntry(o.EnvelopeID, peer, "", "", latency.Milliseconds())
			e.Decision = "deny"
			for _, r := range o.Reasons {
				e.Reasons = append(e.Reasons, auditReason(r))
			}
			entries = append(entries, e)
			continue
		}
		var r contracts.Receipt
		if err := json.Unmarshal(o.Receipt, &r); err != nil {
			x.d.Log.Warn("unreadable receipt", "peer", peer, "envelope", o.EnvelopeID)
		}
		entries = append(entries, receiptEntry(o.EnvelopeID, peer, "", r.PayloadDigest, latency.Milliseconds()))
	}
}

// Failed is told of failed batches; the delivery worker logs them already.
func (x *Exchange) Failed(peer string, err error) {}

var _ delivery.Observer = (*Exchange)(nil)
