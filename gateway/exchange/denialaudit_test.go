package exchange

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/store"
)

// diesBeforeAppend is the node's audit log, in node.db, in a process that
// dies before any commit of the log's own: what is written in the store's
// commits is durable, what would be appended after them is lost.
type diesBeforeAppend struct{ TxAuditor }

func (diesBeforeAppend) Append(context.Context, audit.Entry) (int64, error) {
	return 0, errors.New("the process died before the audit log's own commit")
}

// TestDenialIsStoredWithItsAuditEntry: a denial the submitter can look
// up is a flow the audit log must hold. Written in the commit that
// stores the denial, the entry cannot be lost to a crash after that
// commit, leaving a denied record the log never saw: policy denials and
// those of a quota used up in the commit alike.
func TestDenialIsStoredWithItsAuditEntry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*contracts.Agreement)
		// submit returns the denied result.
		submit func(f *federation, g *synth.Generator) SubmitResult
	}{
		{"policy", func(a *contracts.Agreement) { a.Status = contracts.AgreementSuspended }, func(f *federation, g *synth.Generator) SubmitResult {
			return f.submit("51", g.Transfer())[0]
		}},
		{"quota", func(a *contracts.Agreement) {
			a.Quotas = []contracts.Quota{{RecordType: contracts.RecordTransfer, Max: 1, Period: contracts.QuotaTotal}}
		}, func(f *federation, g *synth.Generator) SubmitResult {
			// Two in one submission: the decision sees the quota free
			// for both, and the commit finds it used up by the first.
			return f.submit("51", g.Transfer(), g.Transfer())[1]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFederationWith(t, auditInStore, 0, "51", "44")
			n := f.restartAudited("51", func(a Auditor) Auditor { return diesBeforeAppend{a.(TxAuditor)} })
			f.agreement("51", "44", tc.mutate)

			res := tc.submit(f, f.generator("51", "44", 5))
			if res.Outcome != OutcomeDenied {
				t.Fatalf("submit = %+v, want denied", res)
			}
			st, err := n.store.Status(res.EnvelopeID)
			if err != nil || st.State != store.StateDenied {
				t.Fatalf("stored denial = %+v, %v", st, err)
			}
			if e := find(n.auditEntries(t), audit.KindDenied, res.EnvelopeID); e == nil {
				t.Errorf("denial %s is stored, but the audit log has no denied entry for it", res.EnvelopeID)
			}
		})
	}
}

// TestADenialNotStoredIsAnsweredUnavailable: a denial whose commit fails,
// or whose entry the audit log refuses (so that it would be stored
// without one), stores nothing, and the submitter is not told "denied"
// with an envelope id under which nothing can be looked up: the record is
// answered unavailable, nothing audited, and submitted again once the
// node can store it, it is denied, stored and audited. Policy denials and
// those of a quota used up in the commit alike.
func TestADenialNotStoredIsAnsweredUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*contracts.Agreement)
		// prior submits an accepted transfer before the denied one, in
		// the same submission.
		prior bool
	}{
		{"policy", func(a *contracts.Agreement) { a.Status = contracts.AgreementSuspended }, false},
		{"quota", func(a *contracts.Agreement) {
			a.Quotas = []contracts.Quota{{RecordType: contracts.RecordTransfer, Max: 1, Period: contracts.QuotaTotal}}
		}, true},
	} {
		for _, entry := range []bool{false, true} {
			name := tc.name + "/the commit fails"
			if entry {
				name = tc.name + "/the log refuses the entry"
			}
			t.Run(name, func(t *testing.T) {
				f := newFederationWith(t, auditInStore, 0, "51", "44")
				var log *refusesDenials
				n := f.restartAudited("51", func(a Auditor) Auditor {
					log = &refusesDenials{TxAuditor: a.(TxAuditor), entry: entry}
					return log
				})
				f.agreement("51", "44", tc.mutate)
				g := f.generator("51", "44", 6)
				denied := g.Transfer()
				recs := []any{denied}
				if tc.prior {
					// Two in one submission: the decision sees the quota
					// free for both, and the commit finds it used up by
					// the first.
					recs = []any{g.Transfer(), denied}
				}
				before := deniedEntries(t, n)

				log.on.Store(true)
				res := f.submit("51", recs...)
				got := res[len(res)-1]
				if got.Outcome != OutcomeUnavailable || got.EnvelopeID != "" || len(got.Reasons) != 0 || got.Error == "" {
					t.Errorf("a denial the node could not store answered %+v; want %s, with an error and no envelope id or reasons", got, OutcomeUnavailable)
				}
				if tc.prior && res[0].Outcome != OutcomeAccepted {
					t.Fatalf("the first transfer: %+v, want accepted", res[0])
				}
				if got := deniedEntries(t, n); got != before {
					t.Errorf("%d denied entries after a denial that was not stored, want %d", got, before)
				}

				log.on.Store(false)
				again := f.submit("51", denied)[0]
				if again.Outcome != OutcomeDenied || again.EnvelopeID == "" {
					t.Fatalf("the record submitted again: %+v, want denied under an envelope id", again)
				}
				if st, err := n.store.Status(again.EnvelopeID); err != nil || st.State != store.StateDenied {
					t.Errorf("the denial of the record submitted again: %+v, %v; want it stored denied", st, err)
				}
				if e := find(n.auditEntries(t), audit.KindDenied, again.EnvelopeID); e == nil {
					t.Errorf("denial %s is stored, but the audit log has no denied entry for it", again.EnvelopeID)
				}
			})
		}
	}
}

// deniedEntries counts the denied entries of n's audit log.
func deniedEntries(t *testing.T, n *node) int {
	t.Helper()
	c := 0
	for _, e := range n.auditEntries(t) {
		if e.Kind == audit.KindDenied {
			c++
		}
	}
	return c
}

// refusesDenials is an audit log that, while on, will not write a denied
// entry (a denial's, or a peer's envelope's refusal): it refuses the entry
// itself when entry is set, else its write fails. Written in the store's
// transactions, it fails every append there once it has prepared one, so
// that the commit that would store a denial with its entry fails, storing
// nothing.
type refusesDenials struct {
	TxAuditor
	entry   bool
	on      atomic.Bool
	denying atomic.Bool
}

var errDeniedRefused = errors.New("refusesDenials: a denied entry refused")

func (l *refusesDenials) Prepare(es ...audit.Entry) ([]audit.Prepared, error) {
	for _, e := range es {
		if e.Kind != audit.KindDenied {
			continue
		}
		if l.entry && l.on.Load() {
			return nil, errDeniedRefused
		}
		l.denying.Store(l.on.Load())
	}
	return l.TxAuditor.Prepare(es...)
}

func (l *refusesDenials) Append(ctx context.Context, e audit.Entry) (int64, error) {
	if e.Kind == audit.KindDenied && l.on.Load() {
		return 0, errDeniedRefused
	}
	return l.TxAuditor.Append(ctx, e)
}

func (l *refusesDenials) AppendPreparedTx(tx *bolt.Tx, ps ...audit.Prepared) error {
	if l.denying.Load() && l.on.Load() {
		return errors.New("refusesDenials: the commit of a denial refused")
	}
	return l.TxAuditor.AppendPreparedTx(tx, ps...)
}
