package exchange

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
)

// A request whose records' entries the log refuses on auditAlong's second
// preparation, after it answered those refused on the first, fails whole
// (unavailable): the second call's entries must go into the store's commit
// or nowhere, never written after it. Preparing is deterministic, so only
// a log that turns between the two preparations (turning) reaches this.
func TestSecondAuditPreparationRefusedFailsTheRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		// province is the node under test; run makes it the request of
		// a transfer and a referral, in that order.
		province string
		run      func(f *federation, tr *contracts.Transfer, ref *contracts.Referral) error
		// stored is how many of recs the node holds.
		stored func(t *testing.T, n *node, recs ...contracts.Record) int
	}{
		{"submit", "51", func(f *federation, tr *contracts.Transfer, ref *contracts.Referral) error {
			n := f.nodes["51"]
			_, err := n.x.Submit(context.Background(), n.system, encode(f.t, tr, ref))
			return err
		}, func(t *testing.T, n *node, recs ...contracts.Record) int {
			refs := make([]string, len(recs))
			for i, r := range recs {
				refs[i] = Ref(r.Head(), r.Type())
			}
			ids, err := n.store.LookupAll(refs)
			if err != nil {
				t.Fatal(err)
			}
			held := 0
			for _, id := range ids {
				if id != "" {
					held++
				}
			}
			return held
		}},
		{"receive", "44", func(f *federation, tr *contracts.Transfer, ref *contracts.Referral) error {
			_, err := f.deliver("51", "44", f.rawSignedBy("51", tr), f.rawSignedBy("51", ref))
			return err
		}, func(t *testing.T, n *node, _ ...contracts.Record) int { return len(n.inbox(t)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFederationWith(t, auditInStore, 0, "51", "44")
			f.nodes[tc.province].stop()
			var log *turning
			f.wrapAudit = func(a Auditor) Auditor {
				log = &turning{TxAuditor: a.(TxAuditor), bad: string(contracts.RecordReferral)}
				return log
			}
			f.nodes[tc.province] = f.start(tc.province)
			f.wrapAudit = nil
			n := f.nodes[tc.province]
			if n.x.inTx == nil {
				t.Fatal("the wrapped log is not the store's: auditAlong would not prepare entries")
			}
			f.agreement("51", "44")
			g := f.generator("51", "44", 3)
			before := len(n.auditEntries(t))

			tr, ref := g.Transfer(), referralFrom(g, "51")
			err := tc.run(f, tr, ref)
			if ErrorCode(err) != CodeUnavailable {
				t.Errorf("request answered %v (code %s), want it failed unavailable", err, ErrorCode(err))
			}
			if !log.hasTurned() {
				t.Fatal("the log never refused the referral's entry on its own: the first preparation did not single it out")
			}
			if got := tc.stored(t, n, tr, ref); got != 0 {
				t.Errorf("%d records stored by a request that failed, want none", got)
			}
			if got := len(n.auditEntries(t)) - before; got != 0 {
				t.Errorf("%d entries appended by a request that failed, want none", got)
			}
		})
	}
}

// turning is a store's audit log that refuses the entries of records of
// type bad and, once it has refused one of them prepared on its own (as
// auditAlong prepares the entries one by one to find those the log
// refuses), every entry: the records left after the first preparation are
// then refused on the second.
type turning struct {
	TxAuditor
	bad string

	mu     sync.Mutex
	turned bool
}

func (l *turning) Prepare(es ...audit.Entry) ([]audit.Prepared, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range es {
		if l.turned || e.RecordType == l.bad {
			l.turned = l.turned || len(es) == 1
			return nil, errors.New("turning: entry refused")
		}
	}
	return l.TxAuditor.Prepare(es...)
}

func (l *turning) hasTurned() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.turned
}
