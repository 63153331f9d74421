package audit

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
)

// Tokens may start with '-', which spreadsheets read as a formula: such a
// cell is exported after a ', and reads back as the token once the '
// is dropped. (From a reviewer's finding: cells were written as they are.)
func TestExportCSVGuardsFormulas(t *testing.T) {
	e := Entry{Kind: KindSent, EnvelopeID: "-1+2", RefersTo: "@SUM", AgreementID: "-2-3", Origin: "51", Destination: "44",
		Serial: "=cmd", Policy: PolicyRevisions{Federation: "+1", Province: "p-1"}}
	for name, v := range map[string]string{"refers_to": e.RefersTo, "serial": e.Serial, "policy.federation": e.Policy.Federation} {
		// = + @ are not token characters: Validate would refuse those
		// entries, but the export must not rely on it.
		if checkToken(v) == nil {
			t.Fatalf("%s %q is a token; the test wants one that is not", name, v)
		}
	}
	var b bytes.Buffer
	if err := ExportCSV(&b, All([]Entry{e})); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("read back %d rows, %v", len(rows), err)
	}
	guarded := map[string]string{"envelope_id": e.EnvelopeID, "refers_to": e.RefersTo, "agreement_id": e.AgreementID,
		"serial": e.Serial, "policy_federation": e.Policy.Federation}
	for i, cell := range rows[1] {
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			t.Errorf("%s: cell %q opens as a formula", csvHeader[i], cell)
		}
		if v, ok := guarded[csvHeader[i]]; ok && (cell != "'"+v || unguardCSV(cell) != v) {
			t.Errorf("%s: cell %q, want %q reading back as %q", csvHeader[i], cell, "'"+v, v)
		}
	}
	if p := rows[1][slices.Index(csvHeader, "policy_province")]; p != e.Policy.Province {
		t.Errorf("policy_province %q, want %q as it is", p, e.Policy.Province)
	}
}

// unguardCSV is a cell as a reader of the export gets its value: without
// the ' csvCell puts before a formula's first character.
func unguardCSV(cell string) string {
	if len(cell) > 1 && cell[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(cell[1])) {
		return cell[1:]
	}
	return cell
}
