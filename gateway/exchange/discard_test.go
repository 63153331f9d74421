package exchange

import (
	"context"
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/store"
)

// buryFor queues envelopes with ids for peer at n, bypassing export, and
// buries them as refused for good, as the delivery worker would.
func buryFor(t *testing.T, n *node, peer string, ids ...string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		out := store.Outgoing{EnvelopeID: id, Ref: "51/transfer/" + id, Type: "transfer", Peer: peer, Envelope: []byte(`{"id":"` + id + `"}`)}
		if _, err := n.store.Enqueue(ctx, []store.Outgoing{out}); err != nil {
			t.Fatal(err)
		}
		if err := n.store.MarkDead(ctx, peer, []store.DeadLetter{{EnvelopeID: id, Status: 422, Reason: "import refused"}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestADiscardIsAudited: an operator's discard of dead letters, one or all
// of a peer's, is audited as a discard entry for each, naming the envelope,
// the peer and the operator's certificate by serial, durable when Discard
// returns; the dead letters are gone and their records discarded.
func TestADiscardIsAudited(t *testing.T) {
	const serial = "5e71a1"
	for name, mode := range auditModes {
		t.Run(name, func(t *testing.T) {
			f := newFederationWith(t, mode, 0, "51")
			n := f.nodes["51"]
			ids := []string{"01A00000000000000000000DS1", "01A00000000000000000000DS2", "01A00000000000000000000DS3"}
			buryFor(t, n, "33", ids...)
			ctx := context.Background()

			if _, err := n.x.Discard(ctx, "33", store.DeadPick{EnvelopeID: "01NOSUCH"}, serial); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("discard of an unknown envelope: %v, want ErrNotFound", err)
			}
			if got, err := n.x.Discard(ctx, "33", store.DeadPick{EnvelopeID: ids[0]}, serial); err != nil || got != 1 {
				t.Fatalf("discard of one = %d, %v", got, err)
			}
			if got, err := n.x.Discard(ctx, "33", store.DeadPick{Through: store.EveryBurial}, serial); err != nil || got != 2 {
				t.Fatalf("discard of the rest = %d, %v", got, err)
			}
			entries := n.auditEntries(t)
			for _, id := range ids {
				e := find(entries, audit.KindDiscard, id)
				if e == nil || e.Destination != "33" || e.Serial != serial || e.Origin != "" || e.RecordType != "" {
					t.Errorf("audit entry of the discard of %s = %+v, want one naming 33 and serial %s alone", id, e, serial)
				}
				if st, err := n.store.Status(id); err != nil || st.State != store.StateDiscarded {
					t.Errorf("record of discarded %s: %+v, %v; want discarded", id, st, err)
				}
			}
			if dead := n.store.DeadLetterCounts(); len(dead) != 0 {
				t.Errorf("dead letters left: %v", dead)
			}
			checkAuditClean(t, n)
		})
	}
}

// TestADiscardTheLogRefusesDiscardsNothing: when the audit log shares the
// store's file, a discard whose entries the log cannot write fails whole,
// and the dead letter stays, to be discarded once the log takes it.
func TestADiscardTheLogRefusesDiscardsNothing(t *testing.T) {
	f := newFederationWith(t, auditInStore, 0, "51")
	f.nodes["51"].stop()
	refused := errors.New("refusing: entry refused")
	f.wrapAudit = func(a Auditor) Auditor { return refusing{a.(TxAuditor), refused} }
	f.nodes["51"] = f.start("51")
	f.wrapAudit = nil
	n := f.nodes["51"]
	if n.x.inTx == nil {
		t.Fatal("the wrapped log is not the store's: the discard would be audited after its commit")
	}
	const id = "01A00000000000000000000DS1"
	buryFor(t, n, "33", id)
	before := len(n.auditEntries(t))

	if got, err := n.x.Discard(context.Background(), "33", store.DeadPick{EnvelopeID: id}, "5e71a1"); !errors.Is(err, refused) || got != 0 {
		t.Errorf("discard with the log refusing = %d, %v; want 0 and the log's error", got, err)
	}
	if dead, err := n.store.DeadLetters("33"); err != nil || len(dead) != 1 || dead[0].EnvelopeID != id {
		t.Errorf("dead letters after the refused discard = %+v, %v; want %s still", dead, err, id)
	}
	if got := len(n.auditEntries(t)) - before; got != 0 {
		t.Errorf("%d entries appended by a discard that failed", got)
	}
}

// refusing is a store's audit log whose appends in a transaction fail.
type refusing struct {
	TxAuditor
	err error
}

func (l refusing) AppendPreparedTx(*bolt.Tx, ...audit.Prepared) error { return l.err }
