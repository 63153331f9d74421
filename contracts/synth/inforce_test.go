package synth

import (
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// TestInForceCoversToday: an agreement generated around DefaultToday
// ends on 2028-12-31; InForce keeps that end while it is a year away or
// more, so the guides' output holds, and later moves it so that the
// agreement is in force today and for a year at least, whatever year it
// is.
func TestInForceCoversToday(t *testing.T) {
	for _, tt := range []struct {
		today     string
		wantUntil string
	}{
		{"2026-03-01", "2028-12-31"},
		{"2027-12-31", "2028-12-31"},
		{"2028-01-01", "2030-12-31"},
		{"2029-06-01", "2031-12-31"},
		{"2031-01-01", "2033-12-31"},
		{"2099-12-31", "2101-12-31"},
	} {
		t.Run(tt.today, func(t *testing.T) {
			today, err := contracts.ParseDate(tt.today)
			if err != nil {
				t.Fatal(err)
			}
			g, err := New(Config{Origin: "51", Destination: "44", Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			a := g.Agreement()
			id, from := a.ID, a.ValidFrom
			InForce(a, today)
			if got := a.ValidUntil.String(); got != tt.wantUntil {
				t.Errorf("valid_until %s, want %s", got, tt.wantUntil)
			}
			if a.ID != id || a.ValidFrom != from {
				t.Errorf("InForce changed the id or the first day: %s from %s, want %s from %s", a.ID, a.ValidFrom, id, from)
			}
			if a.ValidUntil.Before(today.AddYears(1)) || today.Before(a.ValidFrom) {
				t.Errorf("%s..%s does not cover %s and the year after", a.ValidFrom, a.ValidUntil, today)
			}
			if err := a.Validate(); err != nil {
				t.Errorf("the agreement kept in force is invalid: %v", err)
			}
		})
	}
}
