package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	tests := []struct {
		pattern, in, want string
	}{
		{"id_number", "510104199001011234", "510***********1234"},
		{"id_number", "51010419900101123X", "510***********123X"},
		{"id_number", "1234567", "*******"},
		{"phone", "13812345678", "138****5678"},
		{"phone", "138", "***"},
		{"name", "张三丰", "张**"},
		{"name", "李四", "李*"},
		{"name", "欧阳娜娜", "欧***"},
		{"name", "王", "*"},
		{"name", "", ""},
		{"all", "CERT-0001", "*********"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.in, func(t *testing.T) {
			got, err := Mask(tt.pattern, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Mask(%q, %q) = %q, want %q", tt.pattern, tt.in, got, tt.want)
			}
		})
	}
	if _, err := Mask("rot13", "x"); err == nil || !strings.Contains(err.Error(), "id_number") {
		t.Errorf("an unknown pattern should be an error listing the patterns, got %v", err)
	}
}

// TestApplyFieldByField applies the obligations of an allowed transfer export
// and checks every field of the result: dropped, masked, or untouched.
func TestApplyFieldByField(t *testing.T) {
	doc, err := json.Marshal(transfer51to44())
	if err != nil {
		t.Fatal(err)
	}
	out, err := Apply(doc, map[string]Obligation{
		"labor_brand":                      {Action: ActionDrop},
		"worker.id_number":                 {Action: ActionMask, Pattern: "id_number"},
		"worker.phone":                     {Action: ActionMask, Pattern: "phone"},
		"worker.name":                      {Action: ActionMask, Pattern: "name"},
		"training.certificate.number":      {Action: ActionDrop},
		"training.certificate.skill_level": {Action: ActionDrop},
		"worker.nickname":                  {Action: ActionDrop}, // absent: ignored
		"organizer.kind.deeper":            {Action: ActionDrop}, // below a leaf: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want any // nil: the field must be absent
	}{
		{"schema", "laborlink.transfer/v1"},
		{"id", "R-1"},
		{"from", "51"},
		{"to", "44"},
		{"agreement_id", "AG-51-44-2026-001"},
		{"purpose", "employment-service"},
		{"labor_brand", nil},
		{"worker.name", "张**"},
		{"worker.id_number", "511***********1234"},
		{"worker.phone", "138****5678"},
		{"worker.sex", "male"},
		{"worker.birth_date", "1990-01-01"},
		{"worker.household_division", "511321"},
		{"training.institution", "营山县职业技能培训学校"},
		{"training.programme", "电工"},
		{"training.hours", float64(120)},
		{"training.certificate", nil}, // emptied by the drops, so removed
		{"organizer.kind", "public-employment-service"},
		{"organizer.name", "营山县公共就业服务中心"},
		{"placement.employer_name", "深圳市某电子有限公司"},
		{"placement.division", "440305"},
		{"placement.monthly_wage_fen", float64(650000)},
		{"placement.contract_start", "2026-03-01"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			v, ok := lookupPath(got, tt.path)
			if tt.want == nil {
				if ok {
					t.Errorf("%s = %v, want it absent", tt.path, v)
				}
				return
			}
			if !ok || v != tt.want {
				t.Errorf("%s = %v (present %v), want %v", tt.path, v, ok, tt.want)
			}
		})
	}
	if !strings.HasPrefix(string(out), `{"agreement_id":`) {
		t.Errorf("output is not canonical JSON: %s", out[:40])
	}
}

func TestApplyErrors(t *testing.T) {
	doc := []byte(`{"worker":{"name":"张三","age":30}}`)
	tests := map[string]map[string]Obligation{
		"mask a number":   {"worker.age": {Action: ActionMask, Pattern: "all"}},
		"unknown pattern": {"worker.name": {Action: ActionMask, Pattern: "rot13"}},
		"unknown action":  {"worker.name": {Action: "encrypt"}},
	}
	for name, obl := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Apply(doc, obl); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	if _, err := Apply([]byte(`[1]`), nil); err == nil {
		t.Error("a non-object document should be an error")
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	doc, _ := json.Marshal(transfer51to44())
	obl := map[string]Obligation{"worker.id_number": {Action: ActionMask, Pattern: "id_number"}, "labor_brand": {Action: ActionDrop}}
	once, err := Apply(doc, obl)
	if err != nil {
		t.Fatal(err)
	}
	twice, err := Apply(once, obl)
	if err != nil {
		t.Fatal(err)
	}
	if string(once) != string(twice) {
		t.Errorf("applying twice changed the record:\n%s\n%s", once, twice)
	}
}

func lookupPath(doc map[string]any, path string) (any, bool) {
	parts := strings.Split(path, ".")
	var v any = doc
	for _, p := range parts {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// TestObligedReadsOneFieldAsApplied: Obliged gives a field as Apply leaves
// it in the payload: masked by its mask, gone ("") when it or a member
// above it is dropped, as it was when no obligation names it.
func TestObligedReadsOneFieldAsApplied(t *testing.T) {
	const id = "510104199001011234"
	mask := Obligation{Action: ActionMask, Pattern: "id_number"}
	drop := Obligation{Action: ActionDrop}
	tests := []struct {
		name        string
		obligations map[string]Obligation
		want        string
	}{
		{"none", nil, id},
		{"another field", map[string]Obligation{"worker.phone": drop}, id},
		{"masked", map[string]Obligation{"worker.id_number": mask}, "510***********1234"},
		{"dropped", map[string]Obligation{"worker.id_number": drop}, ""},
		{"above it dropped", map[string]Obligation{"worker": drop, "worker.id_number": mask}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Decision{Obligations: tt.obligations}
			got, err := d.Obliged("worker.id_number", id)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Obliged = %q, want %q", got, tt.want)
			}
			doc, err := Apply([]byte(`{"worker":{"id_number":"`+id+`","name":"x"}}`), tt.obligations)
			if err != nil {
				t.Fatal(err)
			}
			var applied struct {
				Worker struct {
					IDNumber string `json:"id_number"`
				} `json:"worker"`
			}
			if err := json.Unmarshal(doc, &applied); err != nil {
				t.Fatal(err)
			}
			if applied.Worker.IDNumber != got {
				t.Errorf("Obliged = %q, but Apply leaves %q", got, applied.Worker.IDNumber)
			}
		})
	}
	d := &Decision{Obligations: map[string]Obligation{"worker.id_number": {Action: ActionMask, Pattern: "rot13"}}}
	if _, err := d.Obliged("worker.id_number", id); err == nil || strings.Contains(err.Error(), id) {
		t.Errorf("an unknown pattern: %v; want an error that names no value", err)
	}
}
