package exchange

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/store"
)

// Requeue puts peer's dead letters back in its outbox, the one named by
// envelopeID or all of them when it is "" (see store.Requeue), and audits
// each as a requeue by the operator whose certificate has the serial (hex)
// given. When the audit log shares the store's file, the entries are
// written in the commit that requeues, as a dead letter's entry is in the
// one that buries it, so the log never misses a requeue that happened. It
// returns how many went back; the caller wakes the peer's delivery worker.
func (x *Exchange) Requeue(ctx context.Context, peer, envelopeID, serial string) (int, error) {
	if x.inTx == nil {
		var requeued []store.DeadLetter
		n, err := x.d.Store.RequeueAnd(ctx, peer, envelopeID, func(_ *bolt.Tx, ds []store.DeadLetter) error {
			requeued = ds
			return nil
		})
		if err != nil {
			return 0, err
		}
		x.audit(ctx, requeueEntries(peer, serial, requeued)...)
		return n, nil
	}
	return x.d.Store.RequeueAnd(ctx, peer, envelopeID, func(tx *bolt.Tx, ds []store.DeadLetter) error {
		if len(ds) == 0 {
			return nil
		}
		// Prepared inside the transaction, which has to read the dead
		// letters to know them: a requeue is an operator's rare act, and
		// its few entries cost other writers little.
		ps, err := x.inTx.Prepare(requeueEntries(peer, serial, ds)...)
		if err != nil {
			return err
		}
		return x.inTx.AppendPreparedTx(tx, ps...)
	})
}

// requeueEntries are the audit entries of dead letters an operator sent
// back to peer's queue: the envelope and its destination, as the dead
// letter's receipt entry names them, and the operator's certificate by
// serial, never the operator's name.
func requeueEntries(peer, serial string, ds []store.DeadLetter) []audit.Entry {
	entries := make([]audit.Entry, len(ds))
	for i, d := range ds {
		entries[i] = audit.Entry{Kind: audit.KindRequeue, EnvelopeID: d.EnvelopeID, Destination: audit.Province(peer), Serial: serial}
	}
	return entries
}
