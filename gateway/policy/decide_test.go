package policy

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

var (
	dropScope = Obligation{Action: ActionDrop, Code: "outside_scope"}
	dropStats = Obligation{Action: ActionDrop, Code: "statistics_no_identifiers"}
	maskID    = Obligation{Action: ActionMask, Pattern: "id_number", Code: "identifier_masked"}
	maskPhone = Obligation{Action: ActionMask, Pattern: "phone", Code: "identifier_masked"}
	// dropRevealing drops the birth date beside a masked ID number, of
	// which it is 8 of the 11 masked digits.
	dropRevealing = Obligation{Action: ActionDrop, Code: "reveals_masked_identifier"}
)

// with returns the base agreement changed by f.
func with(f func(a *contracts.Agreement)) []contracts.Agreement {
	a := agreement51to44()
	f(&a)
	return []contracts.Agreement{a}
}

func TestDecide(t *testing.T) {
	base := []contracts.Agreement{agreement51to44()}
	transferAs := func(f func(*contracts.Transfer)) contracts.Record {
		tr := transfer51to44()
		f(tr)
		return tr
	}
	tests := []struct {
		name       string
		side       Side
		rec        contracts.Record
		agreements []contracts.Agreement
		quota      map[QuotaKey]int
		peer       string
		province   bool // decide with provincePolicy as the province layer
		allow      bool
		codes      []string
		// obligations, when not nil, must equal the decision's exactly.
		obligations map[string]Obligation
		// agreementID, when set, is the agreement the decision must name.
		agreementID string
	}{
		{name: "transfer export allowed", side: Export, rec: transfer51to44(), agreements: base, allow: true,
			codes:       []string{"agreement_covers"},
			obligations: map[string]Obligation{"labor_brand": dropScope, "worker.id_number": maskID, "worker.phone": maskPhone, "worker.birth_date": dropRevealing}},
		{name: "transfer import allowed", side: Import, rec: transfer51to44(), agreements: base, allow: true,
			codes: []string{"agreement_covers"}},
		{name: "no agreement", side: Export, rec: transfer51to44(), agreements: nil, codes: []string{"no_agreement"}},
		{name: "expired by date", side: Export, rec: transfer51to44(),
			agreements: with(func(a *contracts.Agreement) { a.ValidUntil = day("2026-03-14") }), codes: []string{"agreement_expired"}},
		{name: "expired by status", side: Import, rec: transfer51to44(),
			agreements: with(func(a *contracts.Agreement) { a.Status = contracts.AgreementExpired }), codes: []string{"agreement_expired"}},
		{name: "last day still in force", side: Export, rec: transfer51to44(),
			agreements: with(func(a *contracts.Agreement) { a.ValidUntil = day("2026-03-15") }), allow: true, codes: []string{"agreement_covers"}},
		{name: "suspended", side: Export, rec: transfer51to44(),
			agreements: with(func(a *contracts.Agreement) { a.Status = contracts.AgreementSuspended }), codes: []string{"agreement_suspended"}},
		{name: "not yet started", side: Export, rec: transfer51to44(),
			agreements: with(func(a *contracts.Agreement) { a.ValidFrom = day("2026-04-01") }), codes: []string{"agreement_not_started"}},
		{name: "proposed is not active", side: Export, rec: transfer51to44(),
			agreements: with(func(a *contracts.Agreement) { a.Status = contracts.AgreementProposed }), codes: []string{"agreement_inactive"}},
		{name: "terminated", side: Import, rec: transfer51to44(),
			agreements: with(func(a *contracts.Agreement) { a.Status = contracts.AgreementTerminated }), codes: []string{"agreement_inactive"}},
		{name: "approved and in force", side: Export, rec: transfer51to44(),
			agreements: with(func(a *contracts.Agreement) { a.Status = contracts.AgreementApproved }), allow: true, codes: []string{"agreement_covers"}},
		{name: "wrong purpose", side: Export,
			rec:        transferAs(func(tr *contracts.Transfer) { tr.Purpose = contracts.PurposeEmploymentConfirmation }),
			agreements: base, codes: []string{"purpose_not_covered"}},
		{name: "record type not covered", side: Export, rec: referralUpdate("44", "51"),
			agreements: with(func(a *contracts.Agreement) { a.Scope = a.Scope[:3] }), codes: []string{"record_type_not_covered"}},
		{name: "transfer in the wrong direction", side: Export,
			rec:        transferAs(func(tr *contracts.Transfer) { tr.From, tr.To = "44", "51" }),
			agreements: base, codes: []string{"wrong_direction"}},
		{name: "confirmation in the wrong direction", side: Import,
			rec: func() contracts.Record {
				c := confirmation44to51()
				c.From, c.To = "51", "44"
				return c
			}(),
			agreements: base, codes: []string{"wrong_direction"}},
		{name: "confirmation returns with the ID number in clear", side: Export, rec: confirmation44to51(), agreements: base,
			allow: true, codes: []string{"agreement_covers"},
			obligations: map[string]Obligation{"employer_credit_code": dropScope}},
		{name: "confirmation for a subsidy masks the ID number", side: Export,
			rec: func() contracts.Record {
				c := confirmation44to51()
				c.Purpose = contracts.PurposeTrainingSubsidy
				return c
			}(),
			agreements: base, allow: true,
			obligations: map[string]Obligation{"employer_credit_code": dropScope, "worker_id_number": maskID}},
		{name: "agreement between other provinces", side: Export, rec: transfer51to44(),
			agreements: with(func(a *contracts.Agreement) { a.Destination.Division = "320000" }), codes: []string{"province_not_covered"}},
		{name: "fields outside a narrow scope dropped", side: Export, rec: transfer51to44(),
			agreements: with(func(a *contracts.Agreement) {
				a.Scope[0].Fields = []string{"worker.name", "worker.household_division", "placement"}
			}),
			allow: true,
			obligations: map[string]Obligation{
				"labor_brand": dropScope, "events": dropScope,
				"worker.id_number": dropScope, "worker.phone": dropScope, "worker.sex": dropScope, "worker.birth_date": dropScope,
				"training.institution": dropScope, "training.programme": dropScope, "training.hours": dropScope,
				"training.certificate.number": dropScope, "training.certificate.skill_level": dropScope,
				"organizer.kind": dropScope, "organizer.name": dropScope,
			}},
		{name: "rights protection sees the granted ID number, not the phone", side: Export,
			rec:        transferAs(func(tr *contracts.Transfer) { tr.Purpose = contracts.PurposeRightsProtection }),
			agreements: base, allow: true,
			obligations: map[string]Obligation{"labor_brand": dropScope, "worker.phone": maskPhone}},
		{name: "rights protection without a grant is masked", side: Export,
			rec:        transferAs(func(tr *contracts.Transfer) { tr.Purpose = contracts.PurposeRightsProtection }),
			agreements: with(func(a *contracts.Agreement) { a.Scope[0].Clear = nil }), allow: true,
			obligations: map[string]Obligation{"labor_brand": dropScope, "worker.id_number": maskID, "worker.phone": maskPhone, "worker.birth_date": dropRevealing}},
		{name: "statistics receive no direct identifiers", side: Export,
			rec:        transferAs(func(tr *contracts.Transfer) { tr.Purpose = contracts.PurposeStatistics }),
			agreements: base, allow: true,
			obligations: map[string]Obligation{"labor_brand": dropScope, "worker.name": dropStats, "worker.id_number": dropStats,
				"worker.phone": dropStats, "training.certificate.number": dropStats}},
		{name: "quota reached", side: Export, rec: transfer51to44(), agreements: base,
			quota: map[QuotaKey]int{{"AG-51-44-2026-001", contracts.QuotaMonth}: 1000}, codes: []string{"quota_reached"}},
		{name: "quota one short of the limit", side: Export, rec: transfer51to44(), agreements: base,
			quota: map[QuotaKey]int{{"AG-51-44-2026-001", contracts.QuotaMonth}: 999}, allow: true, codes: []string{"agreement_covers"}},
		{name: "a transfer quota does not limit confirmations", side: Export, rec: confirmation44to51(), agreements: base,
			quota: map[QuotaKey]int{{"AG-51-44-2026-001", contracts.QuotaMonth}: 5000}, allow: true},
		{name: "referral to the worker's household province", side: Export, rec: referral("44", "51"), agreements: base,
			allow: true, obligations: map[string]Obligation{"notes": dropScope}},
		{name: "referral to the employer's province", side: Import, rec: referral("51", "44"), agreements: base, allow: true},
		{name: "referral to a third province", side: Export,
			rec:        func() contracts.Record { r := referral("51", "32"); return r }(),
			agreements: with(func(a *contracts.Agreement) { a.Destination.Division = "320000" }), codes: []string{"referral_destination"}},
		{name: "referral update back to the origin", side: Import, rec: referralUpdate("44", "51"), agreements: base, allow: true,
			obligations: map[string]Obligation{}},
		{name: "county agreement covers its county", side: Export, rec: transfer51to44(),
			agreements: with(func(a *contracts.Agreement) { a.Origin.Division = "511321" }), allow: true},
		{name: "county agreement does not cover another county", side: Export,
			rec:        transferAs(func(tr *contracts.Transfer) { tr.Worker.HouseholdDivision = "510104" }),
			agreements: with(func(a *contracts.Agreement) { a.Origin.Division = "511321" }), codes: []string{"division_not_covered"}},
		{name: "prefecture agreement covers the employer's district", side: Import, rec: transfer51to44(),
			agreements: with(func(a *contracts.Agreement) { a.Destination.Division = "440300" }), allow: true},
		{name: "prefecture agreement does not cover another city", side: Import,
			rec:        transferAs(func(tr *contracts.Transfer) { tr.Placement.Division = "440106" }),
			agreements: with(func(a *contracts.Agreement) { a.Destination.Division = "440300" }), codes: []string{"division_not_covered"}},
		{name: "one usable agreement among several", side: Export, rec: transfer51to44(),
			agreements: func() []contracts.Agreement {
				old := agreement51to44()
				old.ID, old.Status = "AG-51-44-2025-009", contracts.AgreementSuspended
				return []contracts.Agreement{agreement51to44(), old}
			}(),
			allow: true, codes: []string{"agreement_covers"}},
		{name: "the agreement is not the one the record names", side: Export,
			rec:        transferAs(func(tr *contracts.Transfer) { tr.AgreementID = "AG-51-44-2026-002" }),
			agreements: base, codes: []string{"agreement_mismatch"}},
		{name: "the record names no agreement", side: Import,
			rec:        transferAs(func(tr *contracts.Transfer) { tr.AgreementID = "" }),
			agreements: base, codes: []string{"agreement_unnamed"}},
		{name: "the named agreement among others", side: Export, rec: transfer51to44(),
			agreements: func() []contracts.Agreement {
				other := agreement51to44()
				other.ID = "AG-51-44-2025-009"
				return []contracts.Agreement{other, agreement51to44()}
			}(),
			allow: true, codes: []string{"agreement_covers"}, agreementID: "AG-51-44-2026-001"},
		{name: "every problem is reported", side: Export,
			rec: transferAs(func(tr *contracts.Transfer) { tr.Purpose = contracts.PurposeEmploymentConfirmation }),
			agreements: with(func(a *contracts.Agreement) {
				a.Status = contracts.AgreementSuspended
				a.ValidFrom = day("2026-06-01")
			}),
			codes: []string{"agreement_not_started", "agreement_suspended", "purpose_not_covered"}},
		{name: "province denies what the bundle allows", side: Export, province: true,
			rec:        transferAs(func(tr *contracts.Transfer) { tr.Purpose = contracts.PurposeStatistics }),
			agreements: base, codes: []string{"no_statistics_export"}},
		{name: "province denies an import from an untrusted peer", side: Import, province: true, peer: "spiffe://p99.laborlink.test/node/gw-1",
			rec: transfer51to44(), agreements: base, codes: []string{"province_denied"}},
		{name: "province adds an obligation", side: Export, province: true, rec: transfer51to44(), agreements: base, allow: true,
			obligations: map[string]Obligation{"labor_brand": dropScope, "worker.id_number": maskID, "worker.phone": maskPhone, "worker.birth_date": dropRevealing,
				"placement.monthly_wage_fen": {Action: ActionDrop, Code: "province_wage"}}},
		{name: "province cannot allow what the bundle denies", side: Export, province: true, rec: transfer51to44(),
			agreements: nil, codes: []string{"no_agreement"}},
	}
	plain := newEngine(t, "", DefaultCacheSize)
	withProvince := newEngine(t, writeProvince(t, map[string]string{"sichuan.rego": provincePolicy}), DefaultCacheSize)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := plain
			if tt.province {
				e = withProvince
			}
			d, err := e.Decide(context.Background(), Request{Side: tt.side, Record: tt.rec, Agreements: tt.agreements, QuotaUsed: tt.quota, Peer: tt.peer})
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tt.allow {
				t.Fatalf("allow = %v, want %v: %+v", d.Allow, tt.allow, d.Reasons)
			}
			if d.Side != tt.side {
				t.Errorf("side = %q, want %q", d.Side, tt.side)
			}
			if tt.codes != nil {
				got := d.Codes()
				slices.Sort(got)
				if !slices.Equal(got, tt.codes) {
					t.Errorf("reasons %v, want %v: %+v", got, tt.codes, d.Reasons)
				}
			}
			for _, r := range d.Reasons {
				if r.Message == "" || r.Layer == "" {
					t.Errorf("reason %+v lacks a message or layer", r)
				}
			}
			if tt.obligations != nil && !maps.Equal(d.Obligations, tt.obligations) && len(d.Obligations)+len(tt.obligations) > 0 {
				t.Errorf("obligations\n got %v\nwant %v", d.Obligations, tt.obligations)
			}
			if !d.Allow && len(d.Obligations) > 0 {
				t.Errorf("a denial carries obligations %v", d.Obligations)
			}
			if d.Allow && (d.Agreement == nil || d.Agreement.ID == "") {
				t.Errorf("an allowed decision names no agreement")
			}
			if tt.agreementID != "" && (d.Agreement == nil || d.Agreement.ID != tt.agreementID) {
				t.Errorf("agreement %+v, want %s", d.Agreement, tt.agreementID)
			}
			if d.Revisions != e.Revisions() {
				t.Errorf("revisions %v, want %v", d.Revisions, e.Revisions())
			}
		})
	}
}

func TestDecideRejectsBadRequests(t *testing.T) {
	e := newEngine(t, "", DefaultCacheSize)
	for name, req := range map[string]Request{
		"no side":   {Record: transfer51to44()},
		"no record": {Side: Export},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := e.Decide(context.Background(), req); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// A rule of either layer whose builtin fails must not be read as "no
// objection": the decision is an error, which a node treats as a denial.
func TestBuiltinErrorIsAnError(t *testing.T) {
	// input.today is a date, not RFC 3339, so the builtin errors.
	const notBefore2027 = `time.parse_rfc3339_ns(input.today) < time.parse_rfc3339_ns("2027-01-01T00:00:00Z")`
	withFile := func(l Layer, name, src string) Layer {
		files := maps.Clone(l.Files)
		files[name] = src
		return Layer{Files: files, Version: l.Version}
	}
	tests := []struct {
		name     string
		bundle   Layer
		province map[string]string
	}{
		{name: "province deny rule", bundle: FederationBundle(),
			province: map[string]string{"p.rego": "package laborlink.province\n\ndeny contains \"not before 2027\" if " + notBefore2027 + "\n"}},
		{name: "bundle problem rule", bundle: withFile(FederationBundle(), "trap.rego", `package laborlink.federation

problems contains problem(i, a, "not_before_2027", "is not in force before 2027") if {
	some i, a in input.agreements
	`+notBefore2027+`
}
`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := NewEngine(context.Background(), tt.bundle, Config{
				ProvinceDir: writeProvince(t, tt.province),
				Now:         func() time.Time { return march15 },
			})
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Decide(context.Background(), Request{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{agreement51to44()}})
			if err == nil {
				t.Fatalf("want an evaluation error, got %s", d.Summary())
			}
			if !strings.Contains(err.Error(), "time.parse_rfc3339_ns") {
				t.Errorf("the error does not name the builtin: %v", err)
			}
		})
	}
}
