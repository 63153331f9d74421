package registry

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// benchProvinces are the province codes agreements are spread over.
var benchProvinces = []string{"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
	"42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "66"}

// fillStore installs n approved agreements between random province pairs at
// province, prefecture and county level, as apply would leave them, without
// signing 3n commands.
func fillStore(n int) *Store {
	s := NewStore()
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	from, until := DayOf(now.AddDate(0, -1, 0)), DayOf(now.AddDate(1, 0, 0))
	div := func(p string) string {
		switch rng.IntN(3) {
		case 0:
			return p + "0000"
		case 1:
			return fmt.Sprintf("%s%02d00", p, 1+rng.IntN(20))
		}
		return fmt.Sprintf("%s%02d%02d", p, 1+rng.IntN(20), 1+rng.IntN(30))
	}
	for i := range n {
		o := benchProvinces[rng.IntN(len(benchProvinces))]
		d := benchProvinces[rng.IntN(len(benchProvinces))]
		for d == o {
			d = benchProvinces[rng.IntN(len(benchProvinces))]
		}
		a := contracts.Agreement{ID: fmt.Sprintf("AG-%s-%s-%05d", o, d, i), Version: 1, Origin: contracts.Party{Division: div(o)},
			Destination: contracts.Party{Division: div(d)}, ValidFrom: from, ValidUntil: until, Status: contracts.AgreementApproved,
			Scope: []contracts.ScopeRule{
				{RecordType: contracts.RecordTransfer, Purposes: []contracts.Purpose{contracts.PurposeEmploymentService, contracts.PurposeStatistics}},
				{RecordType: contracts.RecordConfirmation, Purposes: []contracts.Purpose{contracts.PurposeEmploymentConfirmation}},
			}}
		s.st.Agreements[a.ID] = &AgreementRecord{ID: a.ID, Versions: []*Version{{Agreement: a}}}
	}
	s.publish()
	return s
}

// BenchmarkCovers is the policy layer's question for every record: which
// agreements cover (origin, destination, type, purpose) now. It should not
// depend on the number of agreements.
func BenchmarkCovers(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("agreements=%d", n), func(b *testing.B) {
			s := fillStore(n)
			now := time.Now()
			var buf []Match
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				buf = s.Index().AppendCovers(buf[:0], "511321", "440305", contracts.RecordTransfer, contracts.PurposeEmploymentService, now)
			}
			_ = buf
		})
	}
}

func TestFillStoreCovers(t *testing.T) {
	s := fillStore(10000)
	n := 0
	for _, o := range benchProvinces {
		for _, d := range benchProvinces {
			n += len(s.Covers(o+"0101", d+"0101", contracts.RecordTransfer, contracts.PurposeStatistics, time.Now()))
		}
	}
	if n == 0 {
		t.Fatal("the benchmark's store covers nothing")
	}
}
