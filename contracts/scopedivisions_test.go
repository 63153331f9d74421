package contracts_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
)

// TestCheckScopeDivisions: a party below province level is checked against
// the worker's household (origin) or the employer's division (destination)
// at both ends, so a scope rule that leaves that field out is refused,
// naming the rule's fields and the field to add; a province-level party
// needs neither, and a path above the field (worker, placement) admits it.
func TestCheckScopeDivisions(t *testing.T) {
	transfer := func(fields ...string) contracts.ScopeRule {
		return contracts.ScopeRule{RecordType: contracts.RecordTransfer, Purposes: []contracts.Purpose{contracts.PurposeEmploymentService}, Fields: fields}
	}
	referral := func(fields ...string) contracts.ScopeRule {
		return contracts.ScopeRule{RecordType: contracts.RecordReferral, Purposes: []contracts.Purpose{contracts.PurposeRightsProtection}, Fields: fields}
	}
	confirmation := contracts.ScopeRule{RecordType: contracts.RecordConfirmation, Purposes: []contracts.Purpose{contracts.PurposeEmploymentConfirmation}, Fields: []string{"employed"}}
	for _, c := range []struct {
		name         string
		origin, dest string
		scope        []contracts.ScopeRule
		// want are the problems, "path: fragment" each.
		want []string
	}{
		{"provinces need no division", "510000", "440000",
			[]contracts.ScopeRule{transfer("worker.name"), referral("kind"), confirmation}, nil},
		{"prefecture origin without the household", "511300", "440000",
			[]contracts.ScopeRule{transfer("worker.name", "placement")},
			[]string{`scope[0].fields: leaves out "worker.household_division": the origin party 511300 is a prefecture`}},
		{"county origin with the household", "511321", "440000",
			[]contracts.ScopeRule{transfer("worker.name", "worker.household_division")}, nil},
		{"county origin with the whole worker", "511321", "440000",
			[]contracts.ScopeRule{transfer("worker")}, nil},
		{"prefecture destination without the placement's division", "510000", "440300",
			[]contracts.ScopeRule{confirmation, transfer("worker", "placement.job")},
			[]string{`scope[1].fields: leaves out "placement.division": the destination party 440300 is a prefecture`}},
		{"county destination without the employer's division", "510000", "440305",
			[]contracts.ScopeRule{referral("worker", "employer.name")},
			[]string{`scope[0].fields: leaves out "employer.division": the destination party 440305 is a county`}},
		{"both parties, both rules", "511321", "440305",
			[]contracts.ScopeRule{transfer("organizer"), referral("kind"), confirmation},
			[]string{
				`scope[0].fields: leaves out "worker.household_division"`, `scope[0].fields: leaves out "placement.division"`,
				`scope[1].fields: leaves out "worker.household_division"`, `scope[1].fields: leaves out "employer.division"`,
			}},
		{"confirmations carry no division", "511321", "440305", []contracts.ScopeRule{confirmation}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := contracts.Agreement{Origin: contracts.Party{Division: c.origin}, Destination: contracts.Party{Division: c.dest}, Scope: c.scope}
			got := contracts.FieldErrors(a.CheckScopeDivisions())
			if len(got) != len(c.want) {
				t.Fatalf("problems %v; want %d: %v", got, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.HasPrefix(got[i].Error(), w) {
					t.Errorf("problem %d: %q; want it to begin %q", i, got[i], w)
				}
			}
			for _, p := range got {
				if !strings.Contains(p.Message, "refuses for good") || !strings.Contains(p.Message, "; add ") {
					t.Errorf("%q does not say what goes wrong and what to add", p)
				}
			}
		})
	}
}

// TestCheckJSONRefusesAScopeWithoutItsDivision: laborlink validate, which
// checks an agreement file before it is proposed, reports the division a
// scope leaves out beside the terms' other problems.
func TestCheckJSONRefusesAScopeWithoutItsDivision(t *testing.T) {
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	a := g.Agreement()
	a.Origin.Division = "511300"
	rule := a.Rule(contracts.RecordTransfer)
	rule.Fields = slices.DeleteFunc(rule.Fields, func(f string) bool { return f == "worker.household_division" })
	a.Version = 0
	doc, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range contracts.CheckJSON(doc, now) {
		paths = append(paths, p.Path)
	}
	if !slices.Equal(paths, []string{"version", "scope[0].fields"}) {
		t.Errorf("problems at %v; want version and scope[0].fields, every one at once", paths)
	}
}
