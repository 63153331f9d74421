package policy

import (
	"context"
	"slices"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// Where both layers oblige the same field, the stricter obligation applies,
// whichever layer it comes from.
func TestMergeKeepsTheStricterObligation(t *testing.T) {
	mask := func(pattern, code string) Obligation {
		return Obligation{Action: ActionMask, Pattern: pattern, Code: code}
	}
	drop := func(code string) Obligation { return Obligation{Action: ActionDrop, Code: code} }
	tests := []struct {
		name            string
		fed, prov, want Obligation
	}{
		{"province masks all over an id_number mask", mask("id_number", "fed"), mask("all", "prov"), mask("all", "prov")},
		{"federation masks all over a name mask", mask("all", "fed"), mask("name", "prov"), mask("all", "fed")},
		{"province name mask keeps fewer than phone", mask("phone", "fed"), mask("name", "prov"), mask("name", "prov")},
		{"province drop over a mask", mask("all", "fed"), drop("prov"), drop("prov")},
		{"federation drop over a mask", drop("fed"), mask("all", "prov"), drop("fed")},
		{"a tie goes to the federation", mask("id_number", "fed"), mask("phone", "prov"), mask("id_number", "fed")},
		{"two drops: the federation's", drop("fed"), drop("prov"), drop("fed")},
		{"a broken province obligation is kept, to fail", drop("fed"), mask("blur", "prov"), mask("blur", "prov")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeObligations(map[string]Obligation{"f": tt.fed}, map[string]Obligation{"f": tt.prov})
			if got["f"] != tt.want || len(got) != 1 {
				t.Errorf("merged %v, want f: %v", got, tt.want)
			}
		})
	}
}

func TestProvinceStricterMaskApplies(t *testing.T) {
	dir := writeProvince(t, map[string]string{"p.rego": `package laborlink.province

obligations["worker.id_number"] := {"action": "mask", "pattern": "all", "code": "province_hide_id"}
`})
	d, err := newEngine(t, dir, DefaultCacheSize).Decide(context.Background(),
		Request{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{agreement51to44()}})
	if err != nil || !d.Allow {
		t.Fatalf("decide: %v %+v", err, d)
	}
	want := Obligation{Action: ActionMask, Pattern: "all", Code: "province_hide_id"}
	if got := d.Obligations["worker.id_number"]; got != want {
		t.Errorf("worker.id_number: %+v, want the province's %+v", got, want)
	}
}

// The birth date is 8 of the 11 digits an ID number's mask hides: it goes
// wherever the ID number is masked, by the province as well as by the
// bundle, at both ends. Here the purpose clears the ID number in the
// bundle, and the province masks it all the same.
func TestBirthDateDroppedBesideAProvinceMaskedIDNumber(t *testing.T) {
	dir := writeProvince(t, map[string]string{"p.rego": `package laborlink.province

obligations["worker.id_number"] := {"action": "mask", "pattern": "all", "code": "province_hide_id"}
`})
	e := newEngine(t, dir, DefaultCacheSize)
	tr := transfer51to44()
	tr.Purpose = contracts.PurposeRightsProtection
	for _, side := range []Side{Export, Import} {
		d, err := e.Decide(context.Background(), Request{Side: side, Record: tr, Agreements: []contracts.Agreement{agreement51to44()}})
		if err != nil || !d.Allow {
			t.Fatalf("%s: %v %+v", side, err, d)
		}
		if got := d.Obligations["worker.id_number"]; got.Action != ActionMask {
			t.Fatalf("%s: worker.id_number %+v, want the province's mask", side, got)
		}
		want := Obligation{Action: ActionDrop, Code: "reveals_masked_identifier"}
		if got := d.Obligations["worker.birth_date"]; got != want {
			t.Errorf("%s: worker.birth_date %+v beside a masked ID number, want %+v", side, got, want)
		}
	}
	// Without the province's mask the ID number crosses in clear, and the
	// birth date with it.
	d, err := newEngine(t, "", DefaultCacheSize).Decide(context.Background(), Request{Side: Export, Record: tr, Agreements: []contracts.Agreement{agreement51to44()}})
	if err != nil || !d.Allow {
		t.Fatalf("decide: %v %+v", err, d)
	}
	if o, ok := d.Obligations["worker.birth_date"]; ok {
		t.Errorf("worker.birth_date obliged %+v beside an ID number in clear", o)
	}
}

// A denial keeps every province reason, whatever its code: only the
// bundle's "allowed" reason goes beside a province's denial.
func TestProvinceDenialKeepsItsReasons(t *testing.T) {
	dir := writeProvince(t, map[string]string{"p.rego": `package laborlink.province

deny contains {"code": "agreement_covers", "message": "no agreement covers imports here"} if input.side == "import"
`})
	d, err := newEngine(t, dir, DefaultCacheSize).Decide(context.Background(),
		Request{Side: Import, Record: transfer51to44(), Agreements: []contracts.Agreement{agreement51to44()}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Reason{{Code: "agreement_covers", Message: "no agreement covers imports here", Layer: LayerProvince}}
	if d.Allow || !slices.Equal(d.Reasons, want) {
		t.Errorf("decided %+v, want a denial with reasons %+v", d, want)
	}
}
