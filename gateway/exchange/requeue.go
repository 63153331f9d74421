package exchange

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/store"
)

// Requeue puts peer's dead letters that pick names back in its outbox
// (see store.Requeue), and audits each as a requeue by the operator whose
// certificate has the serial (hex) given. When the audit log shares the
// store's file, the entries are written in the commit that requeues, as a
// dead letter's entry is in the one that buries it, so the log never
// misses a requeue that happened. It returns how many went back; the
// caller wakes the peer's delivery worker.
func (x *Exchange) Requeue(ctx context.Context, peer string, pick store.DeadPick, serial string) (int, error) {
	return x.settleDead(ctx, x.d.Store.RequeueAnd, audit.KindRequeue, peer, pick, serial)
}

// Discard deletes peer's dead letters that pick names (see store.Discard),
// so that the personal data of envelopes the peer will never take is no
// longer kept, and audits each as a discard by the operator whose
// certificate has the serial (hex) given, in the same commit as Requeue
// does. It returns how many went; nothing is sent.
func (x *Exchange) Discard(ctx context.Context, peer string, pick store.DeadPick, serial string) (int, error) {
	return x.settleDead(ctx, x.d.Store.DiscardAnd, audit.KindDiscard, peer, pick, serial)
}

// takeDeadFunc is store.RequeueAnd or store.DiscardAnd: what an operator
// can do with dead letters.
type takeDeadFunc func(ctx context.Context, peer string, pick store.DeadPick, also func(*bolt.Tx, []store.DeadLetter) error) (int, error)

// settleDead does take, an operator's act on peer's dead letters, and
// audits each dead letter it took as an entry of kind: in take's commit
// when the audit log shares the store's file, else once it committed.
func (x *Exchange) settleDead(ctx context.Context, take takeDeadFunc, kind audit.Kind, peer string, pick store.DeadPick, serial string) (int, error) {
	if x.inTx == nil {
		var taken []store.DeadLetter
		n, err := take(ctx, peer, pick, func(_ *bolt.Tx, ds []store.DeadLetter) error {
			taken = ds
			return nil
		})
		if err != nil {
			return 0, err
		}
		x.audit(ctx, operatorEntries(kind, peer, serial, taken)...)
		return n, nil
	}
	return take(ctx, peer, pick, func(tx *bolt.Tx, ds []store.DeadLetter) error {
		if len(ds) == 0 {
			return nil
		}
		// Prepared inside the transaction, which has to read the dead
		// letters to know them: an operator's act on dead letters is rare,
		// and its few entries cost other writers little.
		ps, err := x.inTx.Prepare(operatorEntries(kind, peer, serial, ds)...)
		if err != nil {
			return err
		}
		return x.inTx.AppendPreparedTx(tx, ps...)
	})
}

// operatorEntries are the audit entries of an operator's act on dead
// letters for peer (a requeue or a discard): the envelope and its
// destination, as the dead letter's receipt entry names them, and the
// operator's certificate by serial, never the operator's name.
func operatorEntries(kind audit.Kind, peer, serial string, ds []store.DeadLetter) []audit.Entry {
	entries := make([]audit.Entry, len(ds))
	for i, d := range ds {
		entries[i] = audit.Entry{Kind: kind, EnvelopeID: d.EnvelopeID, Destination: audit.Province(peer), Serial: serial}
	}
	return entries
}
