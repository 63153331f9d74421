package exchange

import (
	"context"
	"testing"

	"github.com/laborlink/laborlink/gateway/audit"
)

// TestAuditOutlivesTheCaller: with the audit log in a file of its own, a
// submission's entries are appended after the store's commit. A caller that
// goes away just then (a client hanging up) must not cancel them: the
// records are accepted, and the log would miss them.
func TestAuditOutlivesTheCaller(t *testing.T) {
	f := newFederationWith(t, auditOwnFile, 0, "51", "44")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.nodes["51"].stop()
	f.wrapAudit = func(a Auditor) Auditor { return hangUp{a, cancel, t} }
	f.nodes["51"] = f.start("51")
	n := f.nodes["51"]
	f.agreement("51", "44")

	res, err := n.x.Submit(ctx, n.system, encode(t, f.generator("51", "44", 1).Transfer()))
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("outcome %+v, want accepted", res[0])
	}
	sent := 0
	for _, e := range n.auditEntries(t) {
		if e.Kind == audit.KindSent && e.EnvelopeID == res[0].EnvelopeID {
			sent++
		}
	}
	if sent != 1 {
		t.Fatalf("%d sent entries for the accepted record, want 1", sent)
	}
}

// hangUp is an Auditor whose caller goes away as each append starts.
type hangUp struct {
	Auditor
	cancel context.CancelFunc
	t      *testing.T
}

func (h hangUp) Append(ctx context.Context, e audit.Entry) (int64, error) {
	h.cancel()
	if ctx.Err() != nil {
		h.t.Errorf("the %s entry was appended under the caller's cancelled context", e.Kind)
	}
	return h.Auditor.Append(ctx, e)
}
