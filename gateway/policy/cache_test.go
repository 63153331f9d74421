package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
)

// synthRecords generates a pool of realistic records of every type for the
// Sichuan -> Guangdong corridor.
func synthRecords(t testing.TB, n int) []contracts.Record {
	t.Helper()
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	types := []contracts.RecordType{contracts.RecordTransfer, contracts.RecordConfirmation, contracts.RecordReferral, contracts.RecordReferralUpdate}
	recs := make([]contracts.Record, 0, n)
	for i := range n {
		v, err := g.Record(types[i%len(types)])
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, v.(contracts.Record))
	}
	return recs
}

// fieldsPresent lists the paths presentIn finds in rec, sorted, as a
// Request's Fields holds them.
func fieldsPresent(rec any) []string { return presentIn(rec).paths() }

// TestFieldsPresentMatchesJSON pins fieldsPresent to encoding/json: the paths
// are exactly the leaves of the record's JSON, arrays counting as leaves.
func TestFieldsPresentMatchesJSON(t *testing.T) {
	for i, rec := range append(synthRecords(t, 80), transfer51to44(), confirmation44to51(), referral("44", "51"), referralUpdate("44", "51")) {
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		var want []string
		jsonLeaves(doc, "", &want)
		slices.Sort(want)
		if got := fieldsPresent(rec); !slices.Equal(got, want) {
			t.Fatalf("record %d (%s): fieldsPresent\n got %v\nwant %v", i, rec.Type(), got, want)
		}
	}
}

func jsonLeaves(v any, prefix string, out *[]string) {
	m, ok := v.(map[string]any)
	if !ok {
		*out = append(*out, prefix)
		return
	}
	for k, x := range m {
		jsonLeaves(x, join(prefix, k), out)
	}
}

// TestCacheAgreesWithEvaluation is the cache's property test: over randomized
// requests (records, sides, purposes, agreement states, quotas, days, peers),
// a caching engine answers exactly what an engine evaluating every request
// answers, while actually serving most of them from its cache.
func TestCacheAgreesWithEvaluation(t *testing.T) {
	dir := writeProvince(t, map[string]string{"sichuan.rego": provincePolicy})
	cached, uncached := newEngine(t, dir, 512), newEngine(t, dir, -1)
	recs := synthRecords(t, 40)
	variants := agreementVariants()
	purposes := []contracts.Purpose{contracts.PurposeEmploymentService, contracts.PurposeEmploymentConfirmation,
		contracts.PurposeRightsProtection, contracts.PurposeTrainingSubsidy, contracts.PurposeStatistics}
	days := []time.Time{march15, march15.AddDate(0, 0, 1), time.Date(2029, 1, 1, 9, 0, 0, 0, chinaStandardTime)}
	peers := []string{"spiffe://p44.laborlink.test/node/gw-1", "spiffe://p99.laborlink.test/node/gw-1"}
	quotas := []int{0, 5, 99_999, 100_000, 400_000}
	// Divisions inside and outside the variants' parties: Sichuan and its
	// Nanchong prefecture (5113) and Yingshan county, Guangdong and its
	// Shenzhen prefecture (4403) and Futian district, another province.
	divisions := []string{"511321", "511302", "510104", "440305", "440304", "440106", "330102"}
	rng := rand.New(rand.NewPCG(1, 2))
	pool := make([]Request, 600)
	for i := range pool {
		rec := recs[rng.IntN(len(recs))]
		if rng.IntN(4) == 0 { // change the purpose on a copy: headers are shared
			rec = withPurpose(t, rec, purposes[rng.IntN(len(purposes))])
		}
		if rng.IntN(3) == 0 { // move the worker or employer: inside and outside the parties
			rec = withDivisions(t, rec, divisions[rng.IntN(len(divisions))], divisions[rng.IntN(len(divisions))])
		}
		if rng.IntN(3) == 0 { // leave out optional fields, which obligations follow
			rec = withoutOptional(t, rec)
		}
		ags := variants[rng.IntN(len(variants))]
		used := map[QuotaKey]int{}
		for _, a := range ags {
			used[QuotaKey{a.ID, contracts.QuotaYear}] = quotas[rng.IntN(len(quotas))]
		}
		pool[i] = Request{
			Side:       []Side{Export, Import}[rng.IntN(2)],
			Record:     rec,
			Agreements: ags,
			QuotaUsed:  used,
			Peer:       peers[rng.IntN(len(peers))],
			Time:       days[rng.IntN(len(days))],
		}
	}
	allowed := 0
	for i := range 3000 {
		// Requests repeat, as record shapes do in real traffic; 600 of them
		// against a cache of 512 also exercises eviction.
		req := pool[rng.IntN(len(pool))]
		if decideBoth(t, cached, uncached, req, fmt.Sprintf("request %d", i)).Allow {
			allowed++
		}
	}
	hits, misses, size := cached.CacheStats()
	t.Logf("%d allowed; cache: %d hits, %d misses, %d held", allowed, hits, misses, size)
	if hits < misses || size > 512 || allowed == 0 || allowed == 3000 {
		t.Errorf("the test did not exercise the cache: %d hits, %d misses, %d held, %d allowed", hits, misses, size, allowed)
	}
}

// agreementVariants are candidate lists for the synthetic corridor: usable,
// suspended, expired, county-level, narrowed, quota-limited, absent.
func agreementVariants() [][]contracts.Agreement {
	g, _ := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 7})
	base := *g.Agreement()
	base.Status = contracts.AgreementActive
	base.Quotas = []contracts.Quota{{RecordType: contracts.RecordTransfer, Period: contracts.QuotaYear, Max: 100_000}}
	vary := func(f func(a *contracts.Agreement)) []contracts.Agreement {
		a := base
		a.Scope = slices.Clone(base.Scope)
		f(&a)
		return []contracts.Agreement{a}
	}
	return [][]contracts.Agreement{
		{base},
		{base},
		vary(func(a *contracts.Agreement) { a.Status = contracts.AgreementSuspended }),
		vary(func(a *contracts.Agreement) { a.Version, a.ValidUntil = 2, day("2026-03-15") }),
		vary(func(a *contracts.Agreement) { a.Version, a.Origin.Division = 3, "511300" }),
		vary(func(a *contracts.Agreement) { a.Version, a.Destination.Division = 5, "440300" }),
		vary(func(a *contracts.Agreement) {
			a.Version, a.Origin.Division, a.Destination.Division = 6, "511321", "440305"
		}),
		vary(func(a *contracts.Agreement) {
			a.Version = 4
			a.Scope[0].Fields = []string{"worker.name", "placement"}
			a.Scope[0].Clear = nil
		}),
		nil,
	}
}

// withPurpose copies a record through JSON and changes its purpose.
func withPurpose(t *testing.T, rec contracts.Record, p contracts.Purpose) contracts.Record {
	t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := contracts.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	cp.Head().Purpose = p
	return cp
}

// withDivisions copies a transfer or referral through JSON and moves its
// worker's household and its employer (placement) to other divisions; other
// records carry no division and come back as they are.
func withDivisions(t *testing.T, rec contracts.Record, worker, employer string) contracts.Record {
	t.Helper()
	return copyEdited(t, rec, func(cp contracts.Record) {
		switch r := cp.(type) {
		case *contracts.Transfer:
			r.Worker.HouseholdDivision, r.Placement.Division = worker, employer
		case *contracts.Referral:
			r.Worker.HouseholdDivision, r.Employer.Division = worker, employer
		}
	})
}

// withoutOptional copies a record through JSON without the optional
// fields the obligations act on: a transfer's phone, training and labour
// brand, a referral's notes and worker's phone; others come back as they are.
func withoutOptional(t *testing.T, rec contracts.Record) contracts.Record {
	t.Helper()
	return copyEdited(t, rec, func(cp contracts.Record) {
		switch r := cp.(type) {
		case *contracts.Transfer:
			r.Worker.Phone, r.Training, r.LaborBrand = "", nil, ""
		case *contracts.Referral:
			r.Worker.Phone, r.Notes = "", ""
		}
	})
}

// copyEdited copies a transfer or referral through JSON and edits the copy;
// other records come back as they are.
func copyEdited(t *testing.T, rec contracts.Record, edit func(contracts.Record)) contracts.Record {
	t.Helper()
	switch rec.(type) {
	case *contracts.Transfer, *contracts.Referral:
	default:
		return rec
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := contracts.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	edit(cp)
	return cp
}

// decideBoth asks a cached and an uncached engine for the same decision,
// fails the test (naming the request as what) unless they decide alike,
// and returns the decision.
func decideBoth(t *testing.T, cached, uncached *Engine, req Request, what string) *Decision {
	t.Helper()
	got, err := cached.Decide(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want, err := uncached.Decide(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !sameDecision(got, want) {
		t.Fatalf("%s: cached decision differs\n got %+v\nwant %+v", what, got, want)
	}
	return got
}

// TestCacheSharesDecisionsAcrossCounties: records that differ only in
// counties inside the agreement's parties share one cached decision, while a
// county outside a prefecture-level party gets its own (its denial names it).
func TestCacheSharesDecisionsAcrossCounties(t *testing.T) {
	dir := writeProvince(t, map[string]string{"sichuan.rego": provincePolicy})
	cached, uncached := newEngine(t, dir, DefaultCacheSize), newEngine(t, dir, -1)
	province := agreement51to44()
	prefecture := agreement51to44()
	prefecture.Origin.Division = "511300"
	decide := func(ag contracts.Agreement, worker, employer string) *Decision {
		t.Helper()
		req := Request{Side: Export, Record: withDivisions(t, transfer51to44(), worker, employer), Agreements: []contracts.Agreement{ag}, Time: march15}
		return decideBoth(t, cached, uncached, req, fmt.Sprintf("worker %s, employer %s, origin party %s", worker, employer, ag.Origin.Division))
	}
	for _, w := range []string{"511321", "511302", "510104", "513401"} {
		for _, e := range []string{"440305", "440106", "445302"} {
			if d := decide(province, w, e); !d.Allow {
				t.Fatalf("worker %s, employer %s: denied %v", w, e, d.Reasons)
			}
		}
	}
	if hits, misses, _ := cached.CacheStats(); misses != 1 || hits != 11 {
		t.Errorf("12 counties inside the parties: %d hits, %d misses; want one evaluation", hits, misses)
	}
	in, out1, out2 := decide(prefecture, "511321", "440305"), decide(prefecture, "510104", "440305"), decide(prefecture, "513401", "440305")
	if !in.Allow || out1.Allow || out2.Allow || reflect.DeepEqual(out1.Reasons, out2.Reasons) {
		t.Errorf("prefecture-level party: inside %v, outside %v / %v", in.Reasons, out1.Reasons, out2.Reasons)
	}
}

// TestCacheInvalidatedByRevision: a new province revision starts with an
// empty cache, so a decision cached under the old policy is never served.
func TestCacheInvalidatedByRevision(t *testing.T) {
	ctx := context.Background()
	dir := writeProvince(t, map[string]string{"sichuan.rego": "package laborlink.province\n"})
	e := newEngine(t, dir, DefaultCacheSize)
	req := Request{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{agreement51to44()}}
	for range 2 {
		if d, err := e.Decide(ctx, req); err != nil || !d.Allow {
			t.Fatalf("before the change: %v %v", d, err)
		}
	}
	if hits, _, _ := e.CacheStats(); hits != 1 {
		t.Fatalf("want the second decision from the cache, got %d hits", hits)
	}
	old := e.Revisions()
	writeFile(t, dir, "sichuan.rego", "package laborlink.province\n\ndeny contains \"closed\" if input.side == \"export\"\n")
	if changed, err := e.ReloadProvince(ctx); err != nil || !changed {
		t.Fatalf("reload: changed %v, err %v", changed, err)
	}
	d, err := e.Decide(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow || d.Revisions.Province == old.Province || d.Revisions.Bundle != old.Bundle {
		t.Fatalf("after the change: allow %v, revisions %v (before %v)", d.Allow, d.Revisions, old)
	}
	if changed, err := e.ReloadProvince(ctx); err != nil || changed {
		t.Fatalf("a reload without changes swapped: %v %v", changed, err)
	}
}

// TestReloadKeepsPolicyOnError: a province file that does not compile leaves
// the policy in force and says where the problem is.
func TestReloadKeepsPolicyOnError(t *testing.T) {
	ctx := context.Background()
	dir := writeProvince(t, map[string]string{"sichuan.rego": "package laborlink.province\n"})
	e := newEngine(t, dir, DefaultCacheSize)
	before := e.Revisions()
	tests := map[string]string{
		"syntax":        "package laborlink.province\n\ndeny contains x if {\n",
		"wrong package": "package laborlink.federation\n\ndecision := {\"allow\": true}\n",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			writeFile(t, dir, "sichuan.rego", src)
			_, err := e.ReloadProvince(ctx)
			if err == nil || !strings.Contains(err.Error(), "sichuan.rego") {
				t.Fatalf("want an error naming sichuan.rego, got %v", err)
			}
			if e.Revisions() != before {
				t.Errorf("revisions changed to %v", e.Revisions())
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := writeAtomically(dir, name, src); err != nil {
		t.Fatal(err)
	}
}

func TestDayInChina(t *testing.T) {
	for _, s := range []string{
		"2026-11-27T15:59:59Z", "2026-11-27T16:00:00Z", "2026-11-27T16:00:01+08:00", "1969-12-31T15:59:59Z",
		"1969-12-31T16:00:00Z", "1960-01-01T00:00:00Z", "2026-03-01T00:00:00-05:00",
		"1969-12-30T16:00:00Z", "1969-12-30T15:59:59Z", "1969-12-29T16:00:00Z",
	} {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		// Twice: the second answer comes from the remembered day.
		for range 2 {
			if got, want := dayInChina(at), at.In(chinaStandardTime).Format(time.DateOnly); got != want {
				t.Errorf("dayInChina(%s) = %s, want %s", s, got, want)
			}
		}
	}
}

// sameDecision compares what decisions say; their edits, made from the
// obligations (and holding functions), are left out.
func sameDecision(a, b *Decision) bool {
	x, y := *a, *b
	x.edits, y.edits = nil, nil
	return reflect.DeepEqual(x, y)
}

// TestFingerprintMemoFollowsTerms: the remembered fingerprint of an
// agreement is the one fingerprint computes, for the same agreement again,
// for the same terms in other arrays, and for other terms under the same id
// and version, which the memo must not take for the terms it saw first.
func TestFingerprintMemoFollowsTerms(t *testing.T) {
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	base := *g.Agreement()
	base.Quotas = []contracts.Quota{{RecordType: contracts.RecordTransfer, Period: contracts.QuotaYear, Max: 100_000}}
	cloned := func(a contracts.Agreement) contracts.Agreement {
		a.Scope = slices.Clone(a.Scope)
		for i := range a.Scope {
			a.Scope[i].Fields = slices.Clone(a.Scope[i].Fields)
		}
		a.Quotas = slices.Clone(a.Quotas)
		return a
	}
	tests := []struct {
		name string
		edit func(a *contracts.Agreement)
		same bool // terms equal to base's
	}{
		{"the same agreement", func(*contracts.Agreement) {}, true},
		{"the same terms in other arrays", func(a *contracts.Agreement) { *a = cloned(*a) }, true},
		{"a status and approvals", func(a *contracts.Agreement) { a.Status, a.Approvals = contracts.AgreementSuspended, nil }, true},
		{"a field fewer", func(a *contracts.Agreement) {
			*a = cloned(*a)
			a.Scope[0].Fields = a.Scope[0].Fields[:len(a.Scope[0].Fields)-1]
		}, false},
		{"a scope rule fewer", func(a *contracts.Agreement) { a.Scope = a.Scope[:len(a.Scope)-1] }, false},
		{"another quota", func(a *contracts.Agreement) {
			*a = cloned(*a)
			a.Quotas[0].Max++
		}, false},
		{"another title", func(a *contracts.Agreement) { a.Title += "（修订）" }, false},
		{"another end", func(a *contracts.Agreement) { a.ValidUntil.Day-- }, false},
		{"another origin", func(a *contracts.Agreement) { a.Origin.Division = "511300" }, false},
	}
	memo := &fingerprintMemo{m: make(map[terms]uint64)}
	want := fingerprint(&base)
	if got := memo.of(&base); got != want {
		t.Fatalf("memo.of = %x, fingerprint = %x", got, want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := base
			tt.edit(&a)
			for range 2 { // computed, then remembered
				got := memo.of(&a)
				if got != fingerprint(&a) {
					t.Fatalf("memo.of = %x, fingerprint = %x", got, fingerprint(&a))
				}
				if (got == want) != tt.same {
					t.Fatalf("fingerprint %x, base's %x: same terms = %v, want %v", got, want, got == want, tt.same)
				}
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		a := base
		for i := range maxFingerprints + 1 {
			a.Title = strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/182)
			memo.of(&a)
		}
		if n := len(memo.m); n > maxFingerprints {
			t.Fatalf("memo holds %d fingerprints, more than %d", n, maxFingerprints)
		}
	})
}
