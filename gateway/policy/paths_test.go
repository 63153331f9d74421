package policy

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

func TestRecordShapesCoverRecordTypes(t *testing.T) {
	got := slices.Sorted(maps.Keys(recordShapes))
	want := slices.Sorted(slices.Values(contracts.RecordTypes()))
	if !slices.Equal(got, want) {
		t.Errorf("recordShapes has %v, contracts.RecordTypes() %v", got, want)
	}
}

func TestCheckObligationPath(t *testing.T) {
	tests := []struct {
		rt   contracts.RecordType
		path string
		err  string // "" when the path is accepted, else part of the error
	}{
		{contracts.RecordTransfer, "worker.id_number", ""},
		{contracts.RecordTransfer, "worker", ""},
		{contracts.RecordTransfer, "events", ""},
		{contracts.RecordTransfer, "training.certificate.number", ""},
		// a field of transfers, absent from confirmations: nothing to do
		{contracts.RecordConfirmation, "worker.birth_date", ""},
		{contracts.RecordTransfer, "events.kind", `"events.kind" goes inside the array events of a transfer record`},
		{contracts.RecordTransfer, "worker.birthdate", `"worker.birthdate" names no field of a transfer record`},
		{"", "events.at", `"events.at" goes inside the array events of a transfer record`},
		{"", "worker.birthdate", `"worker.birthdate" names no field of any record type`},
		{"", "worker.birth_date", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.rt)+"/"+tt.path, func(t *testing.T) {
			err := checkObligationPath(tt.rt, tt.path)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want one saying %s", err, tt.err)
			}
		})
	}
}

// A province rule naming a path no obligation can act on is refused when the
// policy is loaded, with the file, line, path and record type.
func TestProvinceObligationPathRefusedOnLoad(t *testing.T) {
	tests := map[string]struct{ rule, want string }{
		"inside an array": {`obligations["events.kind"] := {"action": "drop", "code": "p"}`,
			`p.rego:3: obligation path "events.kind" goes inside the array events of a transfer record`},
		"misspelt, as a ref": {`obligations.worker_birth_date := {"action": "drop", "code": "p"}`,
			`p.rego:3: obligation path "worker_birth_date" names no field of any record type`},
		"misspelt, in an object": {`obligations := {"worker.birthdate": {"action": "drop", "code": "p"}} if input.side == "export"`,
			`p.rego:3: obligation path "worker.birthdate" names no field of any record type`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := writeProvince(t, map[string]string{"p.rego": "package laborlink.province\n\n" + tt.rule + "\n"})
			_, err := NewEngine(context.Background(), FederationBundle(), Config{ProvinceDir: dir})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %s", err, tt.want)
			}
		})
	}
}

// A path the policy computes is checked on the decision, for the record's
// type: the decision fails, which a node treats as a denial.
func TestProvinceObligationPathRefusedOnDecide(t *testing.T) {
	dir := writeProvince(t, map[string]string{"p.rego": `package laborlink.province

obligations[path] := {"action": "mask", "pattern": "all", "code": "p"} if {
	some path in {concat(".", ["events", "kind"]), "worker.name"}
}
`})
	e := newEngine(t, dir, DefaultCacheSize)
	d, err := e.Decide(context.Background(), Request{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{agreement51to44()}})
	want := `obligation path "events.kind" goes inside the array events of a transfer record`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("decision %v, error %v; want an error saying %s", d, err, want)
	}
}
