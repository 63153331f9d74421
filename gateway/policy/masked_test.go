package policy

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// Shapes of record no contract has, for TestMaskedAlready.
type (
	// maskedText reads its JSON form itself, and maskedWritten writes it:
	// the Go value need not be the string the payload holds.
	maskedText    string
	maskedWritten string
	maskedShapes  struct {
		contracts.Header
		planEmbedded
		contracts.Worker `json:"worker"`
		// E hides planEmbedded's E, as it does in encoding/json.
		E        string        `json:"e"`
		Text     maskedText    `json:"text"`
		Written  maskedWritten `json:"written"`
		Self     planSelf      `json:"self"`
		Ptr      *string       `json:"ptr"`
		Untagged string
		Skipped  string `json:"-"`
	}
)

func (m *maskedText) UnmarshalText(b []byte) error { *m = maskedText(b); return nil }

func (m maskedWritten) MarshalText() ([]byte, error) { return []byte(m), nil }

func (*maskedShapes) Type() contracts.RecordType { return "masked-shapes" }

// TestMaskedAlready: MaskedAlready answers true only when every obligation
// masks a string that is masked already, on a path it can follow to a
// plain string, and then applying the obligations leaves the record as it
// is.
func TestMaskedAlready(t *testing.T) {
	mask := func(pattern string) Obligation {
		return Obligation{Action: ActionMask, Pattern: pattern, Code: "identifier_masked"}
	}
	identifiers := map[string]Obligation{"worker.id_number": mask("id_number"), "worker.phone": mask("phone")}
	masked := func(tr *contracts.Transfer) {
		tr.Worker.IDNumber, _ = Mask("id_number", tr.Worker.IDNumber)
		tr.Worker.Phone, _ = Mask("phone", tr.Worker.Phone)
	}
	transfer := func(edits ...func(*contracts.Transfer)) contracts.Record {
		tr := transfer51to44()
		for _, e := range edits {
			e(tr)
		}
		return tr
	}
	shapes := func(edit func(*maskedShapes)) contracts.Record {
		s := "secret"
		m := &maskedShapes{
			Header:       header("masked-shapes", "51", "44", contracts.PurposeEmploymentService),
			planEmbedded: planEmbedded{E: "secret", E2: "secret"},
			E:            "secret", Text: "secret", Written: "secret", Self: planSelf{V: "secret"},
			Ptr: &s, Untagged: "secret", Skipped: "secret",
		}
		if edit != nil {
			edit(m)
		}
		return m
	}
	tests := []struct {
		name        string
		obligations map[string]Obligation
		rec         contracts.Record
		want        bool
	}{
		{"no obligations", nil, transfer(), true},
		{"identifiers masked by the origin", identifiers, transfer(masked), true},
		{"identifiers in clear", identifiers, transfer(), false},
		{"one of two masked", identifiers, transfer(func(tr *contracts.Transfer) {
			tr.Worker.IDNumber, _ = Mask("id_number", tr.Worker.IDNumber)
		}), false},
		{"a masked path empty", identifiers, transfer(masked, func(tr *contracts.Transfer) { tr.Worker.Phone = "" }), false},
		{"a drop", map[string]Obligation{"worker.id_number": mask("id_number"), "worker.phone": {Action: ActionDrop}}, transfer(masked), false},
		{"a drop of a string a mask would keep", map[string]Obligation{"worker.sex": {Action: ActionDrop, Pattern: "all"}}, transfer(func(tr *contracts.Transfer) {
			tr.Worker.Sex = "****"
		}), false},
		{"another pattern masks again", map[string]Obligation{"worker.id_number": mask("all")}, transfer(masked), false},
		{"an unknown pattern", map[string]Obligation{"worker.id_number": mask("nonesuch")}, transfer(masked), false},
		{"nested through pointers, masked", map[string]Obligation{"training.certificate.number": mask("all")}, transfer(func(tr *contracts.Transfer) {
			tr.Training.Certificate.Number = "*********"
		}), true},
		{"nested through pointers, in clear", map[string]Obligation{"training.certificate.number": mask("all")}, transfer(), false},
		{"nested through a nil pointer", map[string]Obligation{"training.certificate.number": mask("all")}, transfer(func(tr *contracts.Transfer) {
			tr.Training.Certificate = nil
		}), false},
		{"a string kind", map[string]Obligation{"worker.sex": mask("all")}, transfer(func(tr *contracts.Transfer) { tr.Worker.Sex = "****" }), true},
		{"an object", map[string]Obligation{"worker": mask("all")}, transfer(), false},
		{"a path the type lacks", map[string]Obligation{"worker.nickname": mask("all")}, transfer(), false},
		{"a path below a string", map[string]Obligation{"worker.name.family": mask("all")}, transfer(), false},
		{"a path into an array", map[string]Obligation{"events.kind": mask("all")}, transfer(), false},
		{"a non-string", map[string]Obligation{"placement.monthly_wage_fen": mask("all")}, transfer(), false},
		{"a date, which writes itself", map[string]Obligation{"worker.birth_date": mask("all")}, transfer(), false},
		{"a header field, promoted", map[string]Obligation{"from": mask("all")}, transfer(func(tr *contracts.Transfer) { tr.From = "**" }), false},
		{"a string that reads itself", map[string]Obligation{"text": mask("all")}, shapes(func(m *maskedShapes) { m.Text = "******" }), false},
		{"a string that writes itself", map[string]Obligation{"written": mask("all")}, shapes(func(m *maskedShapes) { m.Written = "******" }), false},
		{"a struct that writes itself", map[string]Obligation{"self.V": mask("all")}, shapes(func(m *maskedShapes) { m.Self.V = "******" }), false},
		{"a pointer to a string", map[string]Obligation{"ptr": mask("all")}, shapes(func(m *maskedShapes) { *m.Ptr = "******" }), false},
		{"a declared field over a promoted one, masked", map[string]Obligation{"e": mask("all")}, shapes(func(m *maskedShapes) { m.E = "******" }), true},
		{"a declared field over a promoted one, in clear", map[string]Obligation{"e": mask("all")}, shapes(func(m *maskedShapes) { m.planEmbedded.E = "******" }), false},
		{"a promoted field", map[string]Obligation{"e2": mask("all")}, shapes(func(m *maskedShapes) { m.E2 = "******" }), false},
		{"an embedded struct with a JSON name", map[string]Obligation{"worker.name": mask("all")}, shapes(func(m *maskedShapes) { m.Worker.Name = "******" }), false},
		{"an untagged field by its Go name", map[string]Obligation{"Untagged": mask("all")}, shapes(func(m *maskedShapes) { m.Untagged = "******" }), true},
		{"an untagged field by another name", map[string]Obligation{"untagged": mask("all")}, shapes(func(m *maskedShapes) { m.Untagged = "******" }), false},
		{"a field JSON skips", map[string]Obligation{"Skipped": mask("all")}, shapes(func(m *maskedShapes) { m.Skipped = "******" }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Decision{Allow: true, Obligations: tt.obligations}
			got := d.MaskedAlready(tt.rec)
			if got != tt.want {
				t.Fatalf("MaskedAlready = %v, want %v", got, tt.want)
			}
			if got {
				assertUnchanged(t, tt.rec, tt.obligations)
			}
		})
	}
}

// assertUnchanged checks that applying obligations to rec's JSON gives
// back its canonical form: what MaskedAlready promises when it answers true.
func assertUnchanged(t *testing.T, rec contracts.Record, obligations map[string]Obligation) {
	t.Helper()
	doc, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Apply(doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Apply(doc, obligations)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("applying %v changed the record:\n%s\n%s", obligations, want, got)
	}
}
