package policy

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// provinceDropsDivisions is a province layer that keeps the placement's
// district at home, and masks the whole worker of referrals.
const provinceDropsDivisions = `package laborlink.province

obligations["placement.division"] := {"action": "drop", "code": "province_district"} if input.side == "export"

obligations["worker"] := {"action": "drop", "code": "province_referral_worker"} if {
	input.side == "export"
	input.record_type == "referral"
}
`

// TestNothingCrossesThatTheDestinationMustRefuseForItsDivisions: the
// destination decides on the record as it crossed, after the export's
// obligations, reading the divisions in it. Whatever the export allows,
// the import of what crosses is not refused for a division
// (division_not_covered, referral_destination), which would make it a dead
// letter; where the obligations would keep such a division from the
// destination (an agreement whose scope leaves it out, which the registry
// held before it checked scopes, or a province policy), the export is
// denied instead, with division_not_crossing, naming the agreement, the
// field and what to change.
func TestNothingCrossesThatTheDestinationMustRefuseForItsDivisions(t *testing.T) {
	scoped := func(origin, dest string, rt contracts.RecordType, fields ...string) []contracts.Agreement {
		return with(func(a *contracts.Agreement) {
			a.Origin.Division, a.Destination.Division = origin, dest
			a.Rule(rt).Fields = fields
			a.Rule(rt).Clear = nil
		})
	}
	transferFields := []string{"worker.name", "worker.id_number", "worker.sex", "training", "organizer", "placement", "events"}
	for _, c := range []struct {
		name       string
		rec        contracts.Record
		agreements []contracts.Agreement
		province   bool // with provinceDropsDivisions as the origin's province layer
		// stranded, when set, is what the denial's message must name;
		// empty means the export is allowed.
		stranded []string
	}{
		{name: "prefecture origin, scope without the household", rec: transfer51to44(),
			agreements: scoped("511300", "440000", contracts.RecordTransfer, transferFields...),
			stranded:   []string{"AG-51-44-2026-001 v2", "origin party 511300 (a prefecture)", "worker.household_division", "(division_not_covered)", "transfer rule leaves it out: amend the agreement"}},
		{name: "county origin, scope with the household", rec: transfer51to44(),
			agreements: scoped("511321", "440000", contracts.RecordTransfer, append(transferFields, "worker.household_division")...)},
		{name: "county origin, scope with the whole worker", rec: transfer51to44(),
			agreements: scoped("511321", "440000", contracts.RecordTransfer, "worker", "placement")},
		{name: "province origin needs no household", rec: transfer51to44(),
			agreements: scoped("510000", "440000", contracts.RecordTransfer, transferFields...)},
		{name: "county destination, scope without the placement's division", rec: transfer51to44(),
			agreements: scoped("510000", "440305", contracts.RecordTransfer, "worker", "placement.job", "placement.employer_name"),
			stranded:   []string{"destination party 440305 (a county)", "placement.division", "(division_not_covered)"}},
		{name: "county destination, province policy drops the placement's division", rec: transfer51to44(), province: true,
			agreements: scoped("510000", "440305", contracts.RecordTransfer, "worker", "placement"),
			stranded:   []string{"destination party 440305", "placement.division", "(dropped)", "an obligation (code province_district) hides it"}},
		{name: "province destination, province policy drops the placement's division", rec: transfer51to44(), province: true,
			agreements: scoped("510000", "440000", contracts.RecordTransfer, "worker", "placement")},
		{name: "referral home, scope without the household", rec: referral("44", "51"),
			agreements: scoped("510000", "440000", contracts.RecordReferral, "kind", "worker.name", "employer", "status", "deadline", "opened_at"),
			stranded:   []string{"referral to province 51 as the worker's household province", "worker.household_division", "(referral_destination)"}},
		{name: "referral to the workplace, scope without the household", rec: referral("51", "44"),
			agreements: scoped("510000", "440000", contracts.RecordReferral, "kind", "worker.name", "employer", "status", "deadline", "opened_at")},
		{name: "referral to the workplace, scope without the employer's division", rec: referral("51", "44"),
			agreements: scoped("510000", "440000", contracts.RecordReferral, "kind", "worker", "employer.name", "status", "deadline", "opened_at"),
			stranded:   []string{"referral to province 44 as the employer's province", "employer.division"}},
		{name: "county origin, province policy drops the referral's worker", rec: referral("51", "44"), province: true,
			agreements: scoped("511321", "440000", contracts.RecordReferral, "kind", "worker", "employer", "status", "deadline", "opened_at"),
			stranded:   []string{"origin party 511321 (a county)", "worker.household_division", "province_referral_worker"}},
		{name: "confirmations carry no division", rec: confirmation44to51(),
			agreements: scoped("511321", "440305", contracts.RecordConfirmation, "employed", "since", "confirmed_on")},
	} {
		t.Run(c.name, func(t *testing.T) {
			origin := newEngine(t, "", DefaultCacheSize)
			if c.province {
				origin = newEngine(t, writeProvince(t, map[string]string{"p.rego": provinceDropsDivisions}), DefaultCacheSize)
			}
			ctx := context.Background()
			exp, err := origin.Decide(ctx, Request{Side: Export, Record: c.rec, Agreements: c.agreements})
			if err != nil {
				t.Fatal(err)
			}
			if c.stranded != nil {
				if exp.Allow || !slices.Equal(exp.Codes(), []string{ReasonDivisionNotCrossing}) || exp.Obligations != nil || exp.Agreement != nil {
					t.Fatalf("export %+v; want denied for %s alone", exp, ReasonDivisionNotCrossing)
				}
				for _, w := range c.stranded {
					if !strings.Contains(exp.Reasons[0].Message, w) {
						t.Errorf("reason %q does not say %q", exp.Reasons[0].Message, w)
					}
				}
				if exp.Reasons[0].Layer != LayerFederation {
					t.Errorf("reason of layer %q; want %q", exp.Reasons[0].Layer, LayerFederation)
				}
				return
			}
			if !exp.Allow {
				t.Fatalf("export denied: %+v", exp.Reasons)
			}
			crossed := asCrossed(t, c.rec, exp)
			imp, err := newEngine(t, "", DefaultCacheSize).Decide(ctx, Request{Side: Import, Record: crossed, Agreements: c.agreements})
			if err != nil {
				t.Fatal(err)
			}
			if !imp.Allow {
				t.Errorf("the destination refuses what the origin let cross: %+v", imp.Reasons)
			}
		})
	}
}

// TestADivisionStrandedAtExportIsCached: the denial is the decision for
// its key, served from the cache as it was evaluated.
func TestADivisionStrandedAtExportIsCached(t *testing.T) {
	e := newEngine(t, "", DefaultCacheSize)
	req := Request{Side: Export, Record: transfer51to44(), Agreements: with(func(a *contracts.Agreement) {
		a.Origin.Division = "511300"
		a.Scope[0].Fields = []string{"worker.name", "placement"}
	})}
	for i := range 2 {
		d, err := e.Decide(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allow || !slices.Equal(d.Codes(), []string{ReasonDivisionNotCrossing}) {
			t.Errorf("decision %d: %+v; want denied for %s", i, d, ReasonDivisionNotCrossing)
		}
	}
	if hits, _, _ := e.CacheStats(); hits != 1 {
		t.Errorf("%d cache hits; want the second decision from the cache", hits)
	}
}

// asCrossed is rec as the export decision d lets it cross.
func asCrossed(t *testing.T, rec contracts.Record, d *Decision) contracts.Record {
	t.Helper()
	canonical, err := contracts.Canonical(rec)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Apply(canonical, d.Obligations)
	if err != nil {
		t.Fatal(err)
	}
	crossed, err := contracts.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	return crossed
}
