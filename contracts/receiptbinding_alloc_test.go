//go:build !race

// The race detector's instrumentation allocates where the plain build
// does not: allocation counts are the plain build's.

package contracts_test

import (
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// TestBindingAReceiptAllocatesNothingMore: a destination makes a bound
// receipt per record in one allocation, as an unbound one, and an origin
// checks a receipt's envelope digest without allocating.
func TestBindingAReceiptAllocatesNothingMore(t *testing.T) {
	env := sealed(t, generator(t))
	d, err := env.SigningDigest()
	if err != nil {
		t.Fatal(err)
	}
	var r *contracts.Receipt
	if n := testing.AllocsPerRun(100, func() {
		r = contracts.NewBoundReceipt(env, d, contracts.ReceiptStored, "", testNow)
	}); n > 1 {
		t.Errorf("NewBoundReceipt: %.0f allocations, want 1", n)
	}
	ok := false
	if n := testing.AllocsPerRun(100, func() { ok = r.MatchesDigest(d) }); n > 0 || !ok {
		t.Errorf("MatchesDigest: %.0f allocations, matches %v; want none, true", n, ok)
	}
}
