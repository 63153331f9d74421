package contracts_test

import (
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
)

func TestCheckToken(t *testing.T) {
	for _, tc := range []struct {
		s, want string // want is a part of the error, "" for none
	}{
		{"", ""},
		{"AG-51-44-2026-001", ""},
		{"01J0000000000000000000000A", ""},
		{"a.b_c:d-e", ""},
		{"TR-20260301-000004", ""},
		{"AG/51-44/2026", "character 3 is '/', want letters, digits and . _ : - only"},
		{"AG 1", "character 3 is ' '"},
		{"AG-川-1", "character 4 is '川'"},
		{"AG-13800138000", "phone or ID number"},
		{"51010119900307001X", "phone or ID number"},
		{"13800138000/x", "character 12 is '/'"},
	} {
		t.Run(tc.s, func(t *testing.T) {
			err := contracts.CheckToken(tc.s)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("CheckToken(%q) = %v, want nil", tc.s, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("CheckToken(%q) = %v, want an error with %q", tc.s, err, tc.want)
			case err != nil && strings.Contains(err.Error(), "13800138000"):
				t.Fatalf("CheckToken's error repeats the number: %v", err)
			}
		})
	}
}

func TestCheckID(t *testing.T) {
	for _, tc := range []struct{ s, want string }{
		{"AG-51-44-2026-001", ""},
		{"", "is required"},
		{strings.Repeat("a", contracts.MaxIDLen+1), "at most 64"},
		{"AG/1", "character 3 is '/'"},
	} {
		err := contracts.CheckID(tc.s)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckID(%q) = %v, want %q", tc.s, err, tc.want)
		}
	}
}

// ValidateIDs checks only ids, as a destination does of a record whose
// other fields export obligations may have masked.
func TestValidateIDs(t *testing.T) {
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	tr := g.Transfer()
	tr.Worker.IDNumber = "5101**********001X" // masked: not a valid ID number, and no matter
	if err := contracts.ValidateIDs(tr); err != nil {
		t.Fatalf("ValidateIDs of a transfer with ids = %v", err)
	}
	tr.AgreementID = "AG/51-44/2026"
	c := g.Confirmation(tr)
	c.TransferID = "TR/1"
	for _, tc := range []struct {
		rec  contracts.Record
		path string
	}{{tr, "agreement_id"}, {c, "transfer_id"}} {
		fe := contracts.FieldErrors(contracts.ValidateIDs(tc.rec))
		if len(fe) == 0 || fe[len(fe)-1].Path != tc.path {
			t.Errorf("ValidateIDs(%s) = %v, want a problem with %s", tc.rec.Type(), fe, tc.path)
		}
	}
}
