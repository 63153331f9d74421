package synth

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

var now = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// corridors covers the big real corridors, XPCC (66, absent from the division
// table) at both ends, and every province as an origin at least once.
func corridors() [][2]string {
	pairs := [][2]string{{"51", "44"}, {"41", "33"}, {"34", "31"}, {"43", "44"}, {"52", "32"}, {"66", "11"}, {"50", "66"}}
	ps := contracts.Provinces()
	for i, p := range ps {
		pairs = append(pairs, [2]string{p, ps[(i+7)%len(ps)]})
	}
	return pairs
}

func TestEverythingGeneratedIsValid(t *testing.T) {
	for _, pair := range corridors() {
		t.Run(pair[0]+"-"+pair[1], func(t *testing.T) {
			g, err := New(Config{Origin: pair[0], Destination: pair[1], Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 100; i++ {
				tr := g.Transfer()
				mustValid(t, tr)
				mustValid(t, g.Confirmation(tr))
				r := g.Referral()
				mustValid(t, r)
				mustValid(t, g.ReferralUpdate(r))
				if i%10 == 0 {
					a := g.Agreement()
					if err := a.Validate(); err != nil {
						t.Fatalf("agreement %s: %v", a.ID, err)
					}
				}
			}
		})
	}
}

func mustValid(t *testing.T, rec contracts.Record) {
	t.Helper()
	if err := contracts.ValidateAt(rec, now); err != nil {
		b, _ := json.Marshal(rec)
		t.Fatalf("%s: %v\n%s", rec.Head().ID, err, b)
	}
	// What is generated must also survive the wire: strict decoding of its JSON.
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := contracts.Parse(b, now); err != nil {
		t.Fatalf("%s: decoded: %v", rec.Head().ID, err)
	}
}

func TestSameSeedSameOutput(t *testing.T) {
	gen := func(seed uint64) []byte {
		g, err := New(Config{Origin: "51", Destination: "44", Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for _, typ := range []contracts.RecordType{contracts.RecordTransfer, contracts.RecordConfirmation, contracts.RecordAgreement, contracts.RecordReferral, contracts.RecordReferralUpdate} {
			for range 20 {
				rec, err := g.Record(typ)
				if err != nil {
					t.Fatal(err)
				}
				if err := enc.Encode(rec); err != nil {
					t.Fatal(err)
				}
			}
		}
		return buf.Bytes()
	}
	a, b, c := gen(42), gen(42), gen(43)
	if !bytes.Equal(a, b) {
		t.Error("same seed gave different output")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds gave the same output")
	}
}

func TestGeneratedWorkersComeFromOriginAndWorkInDestination(t *testing.T) {
	g, err := New(Config{Origin: "51", Destination: "44", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[contracts.OrganizerKind]bool{}
	for range 500 {
		tr := g.Transfer()
		if tr.Worker.IDNumber[:2] != "51" || tr.Worker.HouseholdDivision[:2] != "51" {
			t.Fatalf("worker not from 51: %s %s", tr.Worker.IDNumber, tr.Worker.HouseholdDivision)
		}
		if tr.Placement.Division[:2] != "44" || tr.Placement.EmployerCreditCode[2:4] != "44" {
			t.Fatalf("employer not in 44: %s %s", tr.Placement.Division, tr.Placement.EmployerCreditCode)
		}
		kinds[tr.Organizer.Kind] = true
	}
	if len(kinds) != len(organizerKinds) {
		t.Errorf("organizer kinds generated: %v, want all %d", kinds, len(organizerKinds))
	}
}

func TestNewRejectsBadCorridors(t *testing.T) {
	for _, cfg := range []Config{{Origin: "99", Destination: "44"}, {Origin: "51", Destination: "4"}, {Origin: "51", Destination: "51"}, {Origin: "51", Destination: "44", IDBase: -1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v: want error", cfg)
		}
	}
}

// TestIDBaseSeparatesCorridors: two corridors of one origin with the same
// seed share IDs unless their bases differ.
func TestIDBaseSeparatesCorridors(t *testing.T) {
	first := func(dest string, base int) string {
		g, err := New(Config{Origin: "51", Destination: dest, Seed: 2026, IDBase: base})
		if err != nil {
			t.Fatal(err)
		}
		return g.Transfer().ID
	}
	if a, b := first("44", 0), first("33", 0); a != b || a != "TR-51-20260301-000001" {
		t.Errorf("base 0: %s and %s, want both TR-51-20260301-000001", a, b)
	}
	if got := first("33", 100_000); got != "TR-51-20260301-100001" {
		t.Errorf("base 100000: %s, want TR-51-20260301-100001", got)
	}
}

// TestNothingIsDatedAfterToday: every instant generated is on or before
// Today (nodes refuse instants ahead of their clock), whatever the seed;
// a returned event once fell up to four days after it.
func TestNothingIsDatedAfterToday(t *testing.T) {
	endOfToday := time.Date(DefaultToday.Year, DefaultToday.Month, DefaultToday.Day+1, 0, 0, 0, 0, cst)
	for seed := range uint64(60) {
		g, err := New(Config{Origin: "51", Destination: "44", Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		for range 100 {
			tr := g.Transfer()
			if err := contracts.ValidateAt(tr, endOfToday); err != nil {
				t.Fatalf("seed %d: transfer %s invalid at the end of its generator's today: %v", seed, tr.ID, err)
			}
			r := g.Referral()
			if err := contracts.ValidateAt(g.ReferralUpdate(r), endOfToday); err != nil {
				t.Fatalf("seed %d: update of %s invalid at the end of its generator's today: %v", seed, r.ID, err)
			}
		}
	}
}
