package exchange

import (
	"context"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestTheHarnessAgreementIsInForceYearsLater: the tests' agreement is the
// generator's, dated around 2026 and ending on 2028-12-31; on a clock
// years past that, a transfer under it must still cross, or every test
// of the package fails from 2029 with agreement_expired.
func TestTheHarnessAgreementIsInForceYearsLater(t *testing.T) {
	cst := time.FixedZone("CST", 8*60*60)
	for _, at := range []time.Time{
		time.Date(2029, time.June, 1, 9, 0, 0, 0, cst),
		time.Date(2031, time.January, 1, 9, 0, 0, 0, cst),
	} {
		t.Run(at.Format(time.DateOnly), func(t *testing.T) {
			f := newFederationAt(t, at, "51", "44")
			f.agreement("51", "44")
			tr := f.generator("51", "44", 7).Transfer()
			res := f.submit("51", tr)
			if res[0].Outcome != OutcomeAccepted {
				t.Fatalf("on %s: submit = %+v, want accepted", at.Format(time.DateOnly), res[0])
			}
			origin := f.nodes["51"]
			gatewaytest.Eventually(t, "the receipt at 51", func() bool {
				v, err := origin.x.Record(context.Background(), origin.system, res[0].EnvelopeID)
				return err == nil && v.State == store.StateDelivered
			})
		})
	}
}
