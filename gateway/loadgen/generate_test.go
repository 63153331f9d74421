package loadgen

import (
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// The bench seeds a run with the clock: its records' ids must still be
// ids, which may not hold a run of 11 or more digits.
func TestGenerateClockSeededIDsAreValid(t *testing.T) {
	o := Options{Records: 3, Batch: 3, Concurrency: 1, Origin: "51", Destination: "44", Seed: uint64(time.Now().UnixNano())}
	reqs, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range reqs[0] {
		if _, err := contracts.Parse(doc, time.Now()); err != nil {
			t.Fatalf("generated record invalid: %v", err)
		}
	}
}
