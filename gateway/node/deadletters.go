package node

import (
	"context"

	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/store"
)

// deadLetters serves the local API's dead letters from the store, requeues
// and discards them through the exchange, which audits each act, and wakes
// the delivery worker of a peer whose dead letters go back to its outbox.
type deadLetters struct{ n *Node }

var _ api.DeadLetters = deadLetters{}

func (d deadLetters) DeadLetters(peer string) ([]store.DeadLetter, error) {
	return d.n.store.DeadLetters(peer)
}

func (d deadLetters) Requeue(ctx context.Context, r api.RequeueRequest) (int, error) {
	n, err := d.act(ctx, "requeued", r, d.n.exchange.Requeue)
	if n > 0 {
		d.n.delivery.Notify(r.Peer)
	}
	return n, err
}

// Discard wakes no delivery worker: nothing is left to send.
func (d deadLetters) Discard(ctx context.Context, r api.DiscardRequest) (api.DiscardResponse, error) {
	n, err := d.act(ctx, "discarded", api.RequeueRequest(r), d.n.exchange.Discard)
	return api.DiscardResponse{Discarded: n, Left: d.n.store.DeadLetterCounts()[r.Peer]}, err
}

// act does an operator's act on dead letters through the exchange and logs
// it as done ("requeued", "discarded"), with no personal data: an
// operator's or admin's certificate names a person, so the log names the
// caller's province and role, and its certificate by serial.
func (d deadLetters) act(ctx context.Context, done string, r api.RequeueRequest, act func(ctx context.Context, peer string, pick store.DeadPick, serial string) (int, error)) (int, error) {
	n, err := act(ctx, r.Peer, r.Pick(), r.CallerSerial)
	if err != nil {
		return 0, err
	}
	by := "unknown"
	if id, err := auth.FromContext(ctx); err == nil {
		by = "p" + id.Province + "/" + string(id.Kind)
	}
	d.n.log.Info("dead letters "+done, "peer", r.Peer, "envelope", r.EnvelopeID, done, n, "by", by, "serial", r.CallerSerial)
	return n, nil
}
