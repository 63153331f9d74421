package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
)

// TestAgreementShowPrintsTheTermsApproveSigns: an admin reviews with show
// the terms approve then signs. Those include the quotas and the
// identifiers that may cross unmasked, and, while an amendment awaits
// approval, they are the amendment's, not those of the version in force:
// show printed neither quotas nor clear fields, and of a pending version
// only its number, so that the admin guide's version 2, which raises the
// quota, was approved on terms nobody could read without --json.
func TestAgreementShowPrintsTheTermsApproveSigns(t *testing.T) {
	day := func(s string) contracts.Date {
		d, err := contracts.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	v1 := contracts.Agreement{
		Schema: contracts.SchemaAgreement, ID: "AG-51-44-2026-002", Version: 1, Title: "川粤协议",
		Origin:      contracts.Party{Division: "510000", Name: "四川省人力资源和社会保障厅"},
		Destination: contracts.Party{Division: "440000", Name: "广东省人力资源和社会保障厅"},
		ValidFrom:   day("2026-01-01"), ValidUntil: day("2099-12-31"),
		Scope: []contracts.ScopeRule{{RecordType: contracts.RecordTransfer,
			Purposes: []contracts.Purpose{contracts.PurposeEmploymentService},
			Fields:   []string{"worker.name", "worker.id_number"}, Clear: []string{"worker.id_number"}}},
		Quotas:    []contracts.Quota{{RecordType: contracts.RecordTransfer, Period: contracts.QuotaMonth, Max: 5000}},
		Status:    contracts.AgreementApproved,
		Approvals: []contracts.Approval{{Province: "44", Admin: "spiffe://p44.laborlink.test/admin/li", At: time.Date(2026, 1, 5, 1, 0, 0, 0, time.UTC)}},
	}
	v2 := v1
	v2.Version, v2.Status, v2.Title = 2, contracts.AgreementProposed, "川粤协议（修订）"
	v2.ValidUntil = day("2030-12-31")
	v2.Quotas = []contracts.Quota{{RecordType: contracts.RecordTransfer, Period: contracts.QuotaMonth, Max: 8000},
		{RecordType: contracts.RecordTransfer, Period: contracts.QuotaTotal, Max: 90000}}
	v2.Approvals = []contracts.Approval{{Province: "51", Admin: "spiffe://p51.laborlink.test/admin/zhang", At: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)}}
	rec := &registry.AgreementRecord{ID: v1.ID, Versions: []*registry.Version{
		{Agreement: v1, Digest: "d1d1d1d1d1d1d1d1d1d1"},
		{Agreement: v2, Digest: "d2d2d2d2d2d2d2d2d2d2"},
	}}
	var out bytes.Buffer
	printAgreement(&out, rec, time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), false)
	got := out.String()
	for _, want := range []string{
		"AG-51-44-2026-002 version 1: 川粤协议\n",
		"status:      active\n",
		"clear:       transfer: worker.id_number\n",
		"quota:       transfer: at most 5000 a month\n",
		"\napproved:    44 by spiffe://p44.laborlink.test/admin/li at 2026-01-05T01:00:00Z\n",
		"pending:     version 2 awaits approval (digest d2d2d2d2d2d2d2d2…): 川粤协议（修订）\n",
		"  valid:       2026-01-01 to 2030-12-31\n",
		"  scope:       transfer for [employment-service]: worker.name, worker.id_number\n",
		"  clear:       transfer: worker.id_number\n",
		"  quota:       transfer: at most 8000 a month\n",
		"  quota:       transfer: at most 90000 in total\n",
		"  approved:    51 by spiffe://p51.laborlink.test/admin/zhang at 2026-03-02T01:00:00Z\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("show lacks %q:\n%s", want, got)
		}
	}
	// Without a pending amendment nothing is said of one.
	rec.Versions = rec.Versions[:1]
	out.Reset()
	printAgreement(&out, rec, time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), false)
	if strings.Contains(out.String(), "pending") || strings.Contains(out.String(), "8000") {
		t.Errorf("show of an agreement without an amendment speaks of one:\n%s", out.String())
	}
}
