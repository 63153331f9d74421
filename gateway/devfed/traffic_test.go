package devfed

import (
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/federation/registry"
)

// TestSampleAgreementInForce: the sample agreements are dated around
// synth.DefaultToday, yet `laborlink dev` must find them in force whenever
// it runs, years later too; and while the generator's dates cover the
// present by a year, they are kept, so that the guides' output holds.
func TestSampleAgreementInForce(t *testing.T) {
	cst := time.FixedZone("CST", 8*60*60)
	for _, tt := range []struct {
		now       time.Time
		wantUntil string // "" for the generator's own
	}{
		{time.Date(2026, time.March, 1, 9, 0, 0, 0, cst), ""},
		{time.Date(2026, time.December, 7, 9, 0, 0, 0, cst), ""},
		{time.Date(2028, time.June, 1, 9, 0, 0, 0, cst), "2030-12-31"},
		{time.Date(2029, time.January, 1, 0, 30, 0, 0, cst), "2031-12-31"},
		{time.Date(2035, time.July, 1, 12, 0, 0, 0, cst), "2037-12-31"},
	} {
		t.Run(tt.now.Format(time.DateOnly), func(t *testing.T) {
			g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 2026})
			if err != nil {
				t.Fatal(err)
			}
			a := sampleAgreement(g, "51", "44", tt.now)
			want := tt.wantUntil
			if want == "" {
				want = "2028-12-31" // the generator's, as the guides show it
			}
			if got := a.ValidUntil.String(); got != want {
				t.Errorf("valid_until %s, want %s", got, want)
			}
			if err := a.Validate(); err != nil {
				t.Fatalf("the sample agreement is invalid: %v", err)
			}
			v := registry.Version{Agreement: *a}
			v.Agreement.Status = contracts.AgreementApproved
			if st := v.StatusAt(tt.now); st != contracts.AgreementActive {
				t.Errorf("approved on %s, the sample agreement is %s; want it active", tt.now, st)
			}
		})
	}
}
