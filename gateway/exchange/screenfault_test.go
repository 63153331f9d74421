package exchange

import (
	"context"
	"errors"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/policy"
)

// failingAgreements is an AgreementSource whose lookups of one agreement
// id fail, as a registry replica that cannot be read does.
type failingAgreements struct {
	policy.AgreementSource
	id string
}

func (s failingAgreements) Agreements(ctx context.Context, a, b, id string) ([]contracts.Agreement, error) {
	if id == s.id {
		return nil, errors.New("registry replica unreadable")
	}
	return s.AgreementSource.Agreements(ctx, a, b, id)
}

// TestSubmissionFailingWholeDecidesNothing: a submission that fails whole,
// because the agreements of one of its records cannot be looked up, has
// none of its records decided: no denial is stored or audited that its
// submitter is never answered, and that sending it again would store a
// second time.
func TestSubmissionFailingWholeDecidesNothing(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	n := f.nodes["51"]
	n.x.d.Agreements = failingAgreements{AgreementSource: n.agreements, id: "AG-51-44-UNREADABLE"}
	g := f.generator("51", "44", 85)
	denied, unreadable := g.Transfer(), g.Transfer()
	denied.AgreementID, unreadable.AgreementID = "AG-51-44-NONE", "AG-51-44-UNREADABLE"
	if _, err := n.x.Submit(context.Background(), n.system, encode(t, denied, unreadable)); ErrorCode(err) != CodeUnavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
	for _, e := range n.auditEntries(t) {
		if e.Kind == audit.KindDenied {
			t.Errorf("a record of the failed submission was denied: %+v", e)
		}
	}
}
