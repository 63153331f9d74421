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

func TestCheckAgreementID(t *testing.T) {
	for _, tc := range []struct{ s, want string }{
		{"AG-51-44-2026-001", ""},
		{"", "is required"},
		{strings.Repeat("a", contracts.MaxIDLen+1), "at most 64"},
		{"AG/1", "character 3 is '/'"},
		{"AG 1", "without spaces"},
	} {
		err := contracts.CheckAgreementID(tc.s)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckAgreementID(%q) = %v, want %q", tc.s, err, tc.want)
		}
	}
}

// ValidateKeys checks only what a destination keys its store and audit log
// by, as it does of a record whose other fields export obligations may
// have masked: a record's own ids may be any printable ASCII (a UUID, a
// path), its agreement_id must be a token, a case status one it knows,
// and a referral's status referred: a case it opens answered already
// would be its opener's answer to its own referral.
func TestValidateKeys(t *testing.T) {
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	tr := g.Transfer()
	tr.Worker.IDNumber = "5101**********001X" // masked: not a valid ID number, and no matter
	tr.ID = "123e4567-e89b-12d3-a456-426614174000"
	c := g.Confirmation(tr)
	c.TransferID = "TR/51/1"
	for _, rec := range []contracts.Record{tr, c, g.Referral()} {
		if err := contracts.ValidateKeys(rec); err != nil {
			t.Fatalf("ValidateKeys of a %s with its system's ids = %v", rec.Type(), err)
		}
	}
	tr.AgreementID = "AG/51-44/2026"
	c.TransferID = "TR 1"
	r := g.Referral()
	r.Status = "escalated"
	u := g.ReferralUpdate(g.Referral())
	u.Status = "escalated"
	answered := g.Referral()
	answered.Status = contracts.CaseAccepted
	for _, tc := range []struct {
		rec  contracts.Record
		path string
	}{{tr, "agreement_id"}, {c, "transfer_id"}, {r, "status"}, {u, "status"}, {answered, "status"}} {
		fe := contracts.FieldErrors(contracts.ValidateKeys(tc.rec))
		if len(fe) == 0 || fe[len(fe)-1].Path != tc.path {
			t.Errorf("ValidateKeys(%s) = %v, want a problem with %s", tc.rec.Type(), fe, tc.path)
		}
	}
}
