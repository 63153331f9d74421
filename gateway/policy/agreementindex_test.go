package policy

import (
	"context"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// TestAgreementIndexListsStayAsHandedOut: a list Agreements handed out
// was the index's own, which Put rewrote and sorted in place, so a caller
// reading it raced with a Put and saw it change under it. (From a review
// of policy.)
func TestAgreementIndexListsStayAsHandedOut(t *testing.T) {
	named := func(id string, version int) contracts.Agreement {
		a := agreement51to44()
		a.ID, a.Version = id, version
		return a
	}
	list := func(x *AgreementIndex) []contracts.Agreement {
		l, err := x.Agreements(context.Background(), "51", "44", "")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	x := NewAgreementIndex(named("AG-51-44-2026-002", 1))
	held := list(x)
	x.Put(named("AG-51-44-2026-002", 2)) // a new version of the one held
	if held[0].Version != 1 {
		t.Errorf("a list handed out took version %d of a later Put", held[0].Version)
	}
	x.Put(named("AG-51-44-2026-003", 1))
	x.Put(named("AG-51-44-2026-004", 1)) // room to spare in the list now
	held = list(x)
	x.Put(named("AG-51-44-2026-001", 1)) // sorts first
	if held[0].ID != "AG-51-44-2026-002" || len(list(x)) != 4 || list(x)[0].ID != "AG-51-44-2026-001" {
		t.Errorf("a list handed out was sorted again under its reader: it starts with %s", held[0].ID)
	}
}
