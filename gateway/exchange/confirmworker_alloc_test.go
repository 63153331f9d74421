//go:build !race

// The race detector's instrumentation allocates where the plain build
// does not: allocation counts are the plain build's.

package exchange

import (
	"path/filepath"
	"testing"

	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestKeepingATransfersWorkerAllocatesLittle: export keeps a transfer's
// worker for every transfer it accepts, sent in clear (two digests) or
// masked (one), in one allocation for what is kept and its digests, one
// for the contract's first day, and, masked, the one policy's mask makes;
// the marks of the usual positions are not made again.
func TestKeepingATransfersWorkerAllocatesLittle(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := workerTransfer(t, "44030519850607857X")
	masked := &policy.Decision{Obligations: map[string]policy.Obligation{"worker.id_number": {Action: policy.ActionMask, Pattern: "id_number"}}}
	tests := []struct {
		name string
		dec  *policy.Decision
		most float64
	}{
		{"in clear", &policy.Decision{}, 2},
		{"masked", masked, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w *store.SentWorker
			allocs := testing.AllocsPerRun(100, func() {
				if w, err = sentWorker(tr, tt.dec, s.WorkerDigest); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > tt.most {
				t.Errorf("keeping a transfer's worker %s: %.0f allocations, want at most %.0f", tt.name, allocs, tt.most)
			}
			if len(w.Digest) == 0 || w.Shown == "" {
				t.Errorf("kept %+v, want the marks and a digest", w)
			}
		})
	}
}
