package policy

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// Types with every shape walkFields handles, for TestFieldPlanMatchesWalk.
type (
	planInner struct {
		A string `json:"a"`
		B int    `json:"b,omitempty"`
	}
	planEmbedded struct {
		E  string `json:"e"`
		E2 string `json:"e2,omitempty"`
	}
	planShapes struct {
		*planEmbedded
		Inner   planInner         `json:"inner"`
		Ptr     *planInner        `json:"ptr"`
		PtrOmit *planInner        `json:"ptr_omit,omitempty"`
		PtrPtr  **planInner       `json:"ptr_ptr"`
		Date    contracts.Date    `json:"date"`
		DatePtr *contracts.Date   `json:"date_ptr,omitempty"`
		At      time.Time         `json:"at"`
		List    []planInner       `json:"list"`
		Map     map[string]string `json:"map,omitempty"`
		Skipped string            `json:"-"`
		//lint:ignore U1000 unexported: no path of the plan may name it
		unexposed string
		Untagged  string
		Zero      int `json:",omitempty"`
	}
	planInterface struct {
		Name string `json:"name"`
		Any  any    `json:"any"`
	}
	// planSelf lists no paths: it marshals itself.
	planSelf struct{ V string }
	// planDup has two fields of one JSON name, which encoding/json resolves
	// and the walk does not.
	planDup struct {
		planEmbedded
		E string `json:"e"`
	}
)

func (planSelf) MarshalJSON() ([]byte, error) { return []byte(`"self"`), nil }

// TestFieldPlanMatchesWalk holds the plans presentIn uses to the walk
// they stand in for, on the records that cross and on every shape of value
// the walk handles; types no plan can hold are walked.
func TestFieldPlanMatchesWalk(t *testing.T) {
	inner := &planInner{A: "x"}
	d := contracts.Date{}
	values := []any{
		&planShapes{}, planShapes{}, (*planShapes)(nil),
		&planShapes{planEmbedded: &planEmbedded{E2: "y"}, Ptr: inner, PtrOmit: &planInner{B: 1}, PtrPtr: &inner, DatePtr: &d, Map: map[string]string{"k": "v"}, Zero: 1},
		&planShapes{PtrPtr: new(*planInner)},
		&planInterface{Any: "leaf"}, &planInterface{Any: planInner{}}, &planInterface{},
		planSelf{}, &planSelf{}, &planDup{}, "a string", 7,
	}
	for _, rec := range synthRecords(t, 40) {
		values = append(values, rec)
	}
	for _, rec := range []contracts.Record{transfer51to44(), confirmation44to51(), referral("44", "51"), referralUpdate("44", "51")} {
		values = append(values, rec)
	}
	for i, v := range values {
		got, want := presentIn(v).paths(), walkPresent(v)
		if !slices.Equal(got, want) {
			t.Errorf("value %d (%T): plan lists\n %v\nwalk lists\n %v", i, v, got, want)
		}
	}
	for _, v := range []any{&planInterface{}, &planDup{}} {
		if presentIn(v).plan != nil {
			t.Errorf("%T has a plan", v)
		}
	}
	for _, v := range []any{&planShapes{}, transfer51to44()} {
		if presentIn(v).plan == nil {
			t.Errorf("%T has no plan", v)
		}
	}
}

// TestFieldsKey: the cache key's fields part is the same exactly when the
// lists of paths are, whichever form each is in.
func TestFieldsKey(t *testing.T) {
	key := func(f presentFields) string { return string(appendFieldsKey(nil, f)) }
	full := transfer51to44()
	bare := transfer51to44()
	bare.Worker.Phone, bare.Training, bare.LaborBrand = "", nil, ""
	forms := []presentFields{
		presentIn(full), presentIn(bare), presentIn(&planShapes{}), presentIn(&planShapes{Zero: 1}),
		{list: fieldsPresent(full)}, {list: fieldsPresent(bare)}, {list: nil}, {list: []string{""}},
	}
	for i, a := range forms {
		for j, b := range forms {
			samePaths := slices.Equal(a.paths(), b.paths()) && (a.plan == nil) == (b.plan == nil)
			if sameKey := key(a) == key(b); sameKey != samePaths {
				t.Errorf("forms %d and %d: same key %v, same paths %v\n %q\n %q", i, j, sameKey, samePaths, key(a), key(b))
			}
		}
	}
}

// TestCacheKeysOnFieldsPresent: records that differ only in which fields
// they carry are decided apart, since the obligations follow the fields.
func TestCacheKeysOnFieldsPresent(t *testing.T) {
	dir := writeProvince(t, map[string]string{"sichuan.rego": provincePolicy})
	cached, uncached := newEngine(t, dir, DefaultCacheSize), newEngine(t, dir, -1)
	full := transfer51to44()
	noPhone := transfer51to44()
	noPhone.Worker.Phone = ""
	noTraining := transfer51to44()
	noTraining.Training = nil
	ags := []contracts.Agreement{agreement51to44()}
	for _, side := range []Side{Export, Import} {
		for i, rec := range []*contracts.Transfer{full, noPhone, noTraining, full} {
			req := Request{Side: side, Record: rec, Agreements: ags, Time: march15}
			if d := decideBoth(t, cached, uncached, req, fmt.Sprintf("%s, record %d", side, i)); !d.Allow {
				t.Fatalf("%s, record %d: denied %v", side, i, d.Reasons)
			}
		}
	}
	if hits, misses, _ := cached.CacheStats(); hits != 2 || misses != 6 {
		t.Errorf("%d hits, %d misses; want the full record's second decisions from the cache alone", hits, misses)
	}
}
