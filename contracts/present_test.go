package contracts_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// jsonPaths is the generic, slow definition FieldsPresent must agree with:
// every member of the record's JSON form.
func jsonPaths(t *testing.T, rec contracts.Record) []string {
	t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				set[prefix+k] = true
				walk(prefix+k+".", e)
			}
		case []any:
			for _, e := range v {
				walk(prefix, e)
			}
		}
	}
	walk("", v)
	var paths []string
	for p := range set {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

func TestFieldsPresentMatchesJSON(t *testing.T) {
	g := generator(t)
	var recs []contracts.Record
	for range 300 {
		tr := g.Transfer()
		r := g.Referral()
		recs = append(recs, tr, g.Confirmation(tr), r, g.ReferralUpdate(r))
	}
	// Sparse records: every optional member missing.
	recs = append(recs, &contracts.Transfer{}, &contracts.Confirmation{}, &contracts.Referral{}, &contracts.ReferralUpdate{})
	for _, rec := range recs {
		got := contracts.FieldsPresent(rec)
		for _, p := range got {
			if !contracts.IsFieldPath(rec.Type(), p) {
				t.Fatalf("%s: %q is not a field path", rec.Type(), p)
			}
		}
		slices.Sort(got)
		if want := jsonPaths(t, rec); !slices.Equal(got, want) {
			t.Fatalf("%s %s:\n got %v\nwant %v", rec.Type(), rec.Head().ID, got, want)
		}
	}
	if contracts.FieldsPresent(nil) != nil {
		t.Error("nil record has fields")
	}
}

func TestFieldPathsCoverEveryType(t *testing.T) {
	for _, rt := range append(contracts.RecordTypes(), contracts.RecordAgreement) {
		paths := contracts.FieldPaths(rt)
		if len(paths) == 0 || paths[0] != "schema" {
			t.Errorf("%s: paths %v", rt, paths)
		}
	}
	for _, want := range []string{"worker.id_number", "placement.contract_end", "events.at", "training.subsidy.amount_fen"} {
		if !contracts.IsFieldPath(contracts.RecordTransfer, want) {
			t.Errorf("transfer lacks %q", want)
		}
	}
	if contracts.IsFieldPath(contracts.RecordTransfer, "worker.nope") || contracts.FieldPaths("nope") != nil {
		t.Error("unknown paths accepted")
	}
}
