package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// registry builds an agreement index of n agreements spread over every
// province pair, one of them the Sichuan -> Guangdong agreement the benchmark
// records travel under.
func registry(n int) *AgreementIndex {
	provinces := contracts.Provinces()
	var pairs [][2]string
	for i, a := range provinces {
		for _, b := range provinces[i+1:] {
			pairs = append(pairs, [2]string{a, b})
		}
	}
	x := NewAgreementIndex(agreement51to44())
	for i := 1; i < n; i++ {
		p := pairs[i%len(pairs)]
		a := agreement51to44()
		a.ID = fmt.Sprintf("AG-%s-%s-%05d", p[0], p[1], i)
		a.Origin.Division, a.Destination.Division = p[0]+"0000", p[1]+"0000"
		x.Put(a)
	}
	return x
}

// decideOnce is what a node does per record at one end: find the candidate
// agreements in the registry, then decide.
func decideOnce(b *testing.B, e *Engine, reg AgreementSource, side Side, rec contracts.Record) *Decision {
	ctx := context.Background()
	ags, err := Candidates(ctx, reg, rec.Head())
	if err != nil {
		b.Fatal(err)
	}
	d, err := e.Decide(ctx, Request{Side: side, Record: rec, Agreements: ags, Peer: "spiffe://p51.laborlink.test/system/hr"})
	if err != nil {
		b.Fatal(err)
	}
	if !d.Allow {
		b.Fatalf("denied: %v", d.Reasons)
	}
	return d
}

// reportMedian adds the median of the per-operation times as "p50-ns/op".
func reportMedian(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns/op")
}

// BenchmarkDecide is one export decision with the shipped bundle, for
// registries of 100 and 10,000 agreements, from the cache ("hit") and
// evaluated by OPA ("miss", cache off).
func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		reg := registry(n)
		for _, mode := range []struct {
			name  string
			cache int
		}{{"hit", DefaultCacheSize}, {"miss", -1}} {
			b.Run(fmt.Sprintf("agreements=%d/%s", n, mode.name), func(b *testing.B) {
				e := newEngine(b, "", mode.cache)
				rec := transfer51to44()
				decideOnce(b, e, reg, Export, rec)
				times := make([]time.Duration, 0, b.N)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					start := time.Now()
					decideOnce(b, e, reg, Export, rec)
					times = append(times, time.Since(start))
				}
				b.StopTimer()
				reportMedian(b, times)
			})
		}
	}
}

// BenchmarkExportImport is a full pair with 10,000 agreements: the origin's
// export decision and obligations, then at the destination the decoding of
// what arrived, the import decision and its obligations.
func BenchmarkExportImport(b *testing.B) {
	reg := registry(10_000)
	for _, mode := range []struct {
		name  string
		cache int
	}{{"hit", DefaultCacheSize}, {"miss", -1}} {
		b.Run(mode.name, func(b *testing.B) {
			origin := newEngine(b, "", mode.cache)
			dest := newEngine(b, "", mode.cache)
			rec := transfer51to44()
			doc, err := json.Marshal(rec)
			if err != nil {
				b.Fatal(err)
			}
			pair := func() {
				d := decideOnce(b, origin, reg, Export, rec)
				sent, err := Apply(doc, d.Obligations)
				if err != nil {
					b.Fatal(err)
				}
				arrived, err := contracts.Decode(sent)
				if err != nil {
					b.Fatal(err)
				}
				d = decideOnce(b, dest, reg, Import, arrived)
				if _, err := Apply(sent, d.Obligations); err != nil {
					b.Fatal(err)
				}
			}
			pair()
			times := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				pair()
				times = append(times, time.Since(start))
			}
			b.StopTimer()
			reportMedian(b, times)
		})
	}
}
