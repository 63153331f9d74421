package node

import (
	"context"

	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/store"
)

// deadLetters serves the local API's dead letters from the store, requeues
// them through the exchange, which audits the requeue, and wakes the
// delivery worker of a peer whose dead letters go back to its outbox.
type deadLetters struct{ n *Node }

var _ api.DeadLetters = deadLetters{}

func (d deadLetters) DeadLetters(peer string) ([]store.DeadLetter, error) {
	return d.n.store.DeadLetters(peer)
}

func (d deadLetters) Requeue(ctx context.Context, r api.RequeueRequest) (int, error) {
	n, err := d.n.exchange.Requeue(ctx, r.Peer, r.EnvelopeID, r.CallerSerial)
	if err != nil {
		return 0, err
	}
	// An operator's or admin's certificate names a person: the log names
	// the caller's province and role, and its certificate by serial.
	by := "unknown"
	if id, err := auth.FromContext(ctx); err == nil {
		by = "p" + id.Province + "/" + string(id.Kind)
	}
	d.n.log.Info("dead letters requeued", "peer", r.Peer, "envelope", r.EnvelopeID, "requeued", n, "by", by, "serial", r.CallerSerial)
	if n > 0 {
		d.n.delivery.Notify(r.Peer)
	}
	return n, nil
}
