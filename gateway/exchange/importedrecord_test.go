package exchange

import (
	"bytes"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/gateway/policy"
)

// TestImportedRecordAsApplied holds importedRecord to applying the import
// obligations: whether or not Decision.MaskedAlready lets it keep the payload, the
// record is the one ApplyCanonical makes. Each case also says whether the
// payload may be kept, so that a check that never (or always) keeps it
// fails.
func TestImportedRecordAsApplied(t *testing.T) {
	mask := func(pattern string) policy.Obligation {
		return policy.Obligation{Action: policy.ActionMask, Pattern: pattern, Code: "identifier_masked"}
	}
	drop := policy.Obligation{Action: policy.ActionDrop, Code: "outside_scope"}
	identifiers := map[string]policy.Obligation{"worker.id_number": mask("id_number"), "worker.phone": mask("phone")}
	masked := func(tr *contracts.Transfer) {
		tr.Worker.IDNumber, _ = policy.Mask("id_number", tr.Worker.IDNumber)
		tr.Worker.Phone, _ = policy.Mask("phone", tr.Worker.Phone)
	}
	withPhone := func(tr *contracts.Transfer) {
		if tr.Worker.Phone == "" {
			tr.Worker.Phone = "13800001234"
		}
	}
	tests := []struct {
		name        string
		obligations map[string]policy.Obligation
		edit        []func(*contracts.Transfer)
		kept        bool
	}{
		{"masked by the origin already", identifiers, []func(*contracts.Transfer){withPhone, masked}, true},
		{"not masked yet", identifiers, []func(*contracts.Transfer){withPhone}, false},
		{"one of two masked", identifiers, []func(*contracts.Transfer){withPhone, func(tr *contracts.Transfer) {
			tr.Worker.IDNumber, _ = policy.Mask("id_number", tr.Worker.IDNumber)
		}}, false},
		{"masked path absent", identifiers, []func(*contracts.Transfer){masked, func(tr *contracts.Transfer) { tr.Worker.Phone = "" }}, false},
		{"a drop", map[string]policy.Obligation{"worker.id_number": mask("id_number"), "worker.phone": drop}, []func(*contracts.Transfer){withPhone, masked}, false},
		{"a drop of an absent path", map[string]policy.Obligation{"training.subsidy.voucher_number": drop}, nil, false},
		{"another pattern masks again", map[string]policy.Obligation{"worker.id_number": mask("all")}, []func(*contracts.Transfer){masked}, false},
		{"an unknown pattern", map[string]policy.Obligation{"worker.id_number": mask("nonesuch")}, []func(*contracts.Transfer){masked}, false},
		{"a mask of an object", map[string]policy.Obligation{"worker": mask("all")}, nil, false},
		{"a mask of a path the type lacks", map[string]policy.Obligation{"worker.nickname": mask("all")}, nil, false},
		{"a mask of a non-string", map[string]policy.Obligation{"placement.monthly_wage_fen": mask("all")}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			dec := &policy.Decision{Allow: true, Obligations: tt.obligations}
			for range 20 {
				tr := g.Transfer()
				for _, e := range tt.edit {
					e(tr)
				}
				payload, err := contracts.Canonical(tr)
				if err != nil {
					t.Fatal(err)
				}
				rec, err := contracts.Decode(payload)
				if err != nil {
					t.Fatal(err)
				}
				want, wantErr := dec.ApplyCanonical(payload)
				got, err := importedRecord(payload, rec, dec)
				if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
					t.Fatalf("importedRecord = %s, %v\nApplyCanonical = %s, %v", got, err, want, wantErr)
				}
				if kept := dec.MaskedAlready(rec); kept != tt.kept {
					t.Fatalf("MaskedAlready = %v, want %v", kept, tt.kept)
				}
			}
		})
	}
}
