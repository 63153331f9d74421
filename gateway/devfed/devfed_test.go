package devfed

import (
	"context"
	"net/url"
	"slices"
	"testing"

	"github.com/laborlink/laborlink/gateway/audit"
)

// TestSeedIsAudited starts the development federation in this process, runs
// the sample traffic and checks that each node audited what concerns it:
// the certificates' issuance, the agreements' transitions and the flows.
func TestSeedIsAudited(t *testing.T) {
	ctx := context.Background()
	f, err := Start(ctx, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.RecordIssuance(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Seed(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// Each destination gets transfers of its own: the corridors' records
	// must not share IDs, or the origin answers the second as a duplicate.
	if ids := slices.Compact(slices.Sorted(slices.Values(f.Traffic.Transfers))); len(ids) != 2*(len(f.Provinces)-1) {
		t.Errorf("%d distinct transfers sent, want %d: %v", len(ids), 2*(len(f.Provinces)-1), f.Traffic.Transfers)
	}
	// Each agreement: proposed, approved by each party.
	want := map[string]int{"51": 6, "44": 3, "33": 3}
	for p, n := range want {
		cl, err := f.APIClient(p, f.Certs[p].Auditor)
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := f.waitFor(ctx, "agreement entries in the audit log of "+p, func() bool {
			es, err := cl.AuditEntries(ctx, url.Values{"kind": {"agreement"}})
			got = len(es)
			return err == nil && got == n
		}); err != nil {
			t.Fatalf("%v (have %d, want %d)", err, got, n)
		}
		// Five certificates per province, each node sees every issuance.
		if err := f.waitFor(ctx, "certificate entries in the audit log of "+p, func() bool {
			es, err := cl.AuditEntries(ctx, url.Values{"kind": {"certificate"}})
			got = 0
			for _, e := range es {
				if e.Detail == audit.DetailIssued {
					got++
				}
			}
			return err == nil && got == 5*len(f.Provinces)
		}); err != nil {
			t.Fatalf("%v (have %d, want %d)", err, got, 5*len(f.Provinces))
		}
		sent, err := cl.AuditEntries(ctx, url.Values{"kind": {"sent"}})
		if err != nil || len(sent) == 0 {
			t.Errorf("node %s audited no sent flow: %v", p, err)
		}
	}
}
