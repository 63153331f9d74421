package contracts_test

import (
	"crypto"
	"fmt"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/laborlink/laborlink/contracts"
)

// signedReceipts returns n receipts signed together, each decoded from its
// own encoding as an origin reads them from an answer, so that no two share
// the bytes of a root, signature or path.
func signedReceipts(tb testing.TB, signer crypto.Signer, n int) []*contracts.Receipt {
	tb.Helper()
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	rs := make([]*contracts.Receipt, n)
	for i := range rs {
		env := &contracts.Envelope{ID: ulid.Make().String(), PayloadDigest: fmt.Sprintf("sha256:%064x", i)}
		rs[i] = contracts.NewReceipt(env, contracts.ReceiptStored, "", now)
	}
	if err := contracts.SignReceipts(rs, signer, "laborlink://node/44/p44"); err != nil {
		tb.Fatal(err)
	}
	for i, r := range rs {
		raw, err := r.AppendJSON(nil)
		if err != nil {
			tb.Fatal(err)
		}
		if rs[i], err = contracts.DecodeReceipt(raw); err != nil {
			tb.Fatal(err)
		}
	}
	return rs
}

// TestVerifyReceiptsAsEachAlone holds VerifyReceipts to verifying each
// receipt alone with VerifyWith: the same first error, or none, for whole
// batches, several, and answers whose trees are incomplete, out of order
// or tampered with; and one signature check per tree.
func TestVerifyReceiptsAsEachAlone(t *testing.T) {
	key := keys(t)[0].priv
	other := keys(t)[0].priv
	alone := func() *contracts.Receipt {
		r := signedReceipts(t, key, 1)[0]
		if err := r.Sign(key, r.Receiver); err != nil {
			t.Fatal(err)
		}
		return r
	}
	cases := []struct {
		name   string
		answer func() []*contracts.Receipt
		checks int // signature checks made, when all verify
	}{
		{"a batch of 100", func() []*contracts.Receipt { return signedReceipts(t, key, 100) }, 1},
		{"a batch of 1", func() []*contracts.Receipt { return signedReceipts(t, key, 1) }, 1},
		{"two batches", func() []*contracts.Receipt {
			return append(signedReceipts(t, key, 60), signedReceipts(t, key, 7)...)
		}, 2},
		{"signed alone between batches", func() []*contracts.Receipt {
			return append(append(signedReceipts(t, key, 5), alone()), signedReceipts(t, key, 3)...)
		}, 2},
		{"a leaf missing", func() []*contracts.Receipt {
			rs := signedReceipts(t, key, 10)
			return append(rs[:3], rs[4:]...)
		}, 1},
		{"two leaves swapped", func() []*contracts.Receipt {
			rs := signedReceipts(t, key, 10)
			rs[2], rs[7] = rs[7], rs[2]
			return rs
		}, 1},
		{"a path entry changed", func() []*contracts.Receipt {
			rs := signedReceipts(t, key, 100)
			rs[37].Batch.Path[2][5] ^= 1
			return rs
		}, 0},
		{"a path entry short", func() []*contracts.Receipt {
			rs := signedReceipts(t, key, 100)
			rs[64].Batch.Path[0] = rs[64].Batch.Path[0][:31]
			return rs
		}, 0},
		{"a path cut short", func() []*contracts.Receipt {
			rs := signedReceipts(t, key, 100)
			rs[99].Batch.Path = rs[99].Batch.Path[:len(rs[99].Batch.Path)-1]
			return rs
		}, 0},
		{"a path made longer", func() []*contracts.Receipt {
			rs := signedReceipts(t, key, 8)
			rs[3].Batch.Path = append(rs[3].Batch.Path, rs[3].Batch.Path[0])
			return rs
		}, 0},
		{"a receipt changed", func() []*contracts.Receipt {
			rs := signedReceipts(t, key, 100)
			rs[50].Status = contracts.ReceiptDuplicate
			return rs
		}, 0},
		{"every root changed alike", func() []*contracts.Receipt {
			rs := signedReceipts(t, key, 16)
			for _, r := range rs {
				r.Batch.Root[0] ^= 1
			}
			return rs
		}, 0},
		{"a receipt that cannot be hashed", func() []*contracts.Receipt {
			rs := signedReceipts(t, key, 10)
			rs[7].ReceivedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			return rs
		}, 0},
		{"a receipt changed before one that cannot be hashed", func() []*contracts.Receipt {
			rs := signedReceipts(t, key, 10)
			rs[2].Status = contracts.ReceiptDuplicate
			rs[7].ReceivedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			return rs
		}, 0},
		{"signed by another key", func() []*contracts.Receipt { return signedReceipts(t, other, 20) }, 0},
		{"one signature changed", func() []*contracts.Receipt {
			rs := signedReceipts(t, key, 20)
			rs[11].Batch.Signature = signedReceipts(t, key, 20)[11].Batch.Signature
			return rs
		}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := c.answer()
			var want error
			alone := contracts.NewRootVerifier(key.Public())
			for _, r := range rs {
				if want = r.VerifyWith(alone); want != nil {
					break
				}
			}
			roots := contracts.NewRootVerifier(key.Public())
			got := contracts.VerifyReceipts(rs, roots)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("VerifyReceipts: %v; each alone: %v", got, want)
			}
			if want == nil && roots.Checks() != c.checks {
				t.Errorf("%d signature checks, want %d", roots.Checks(), c.checks)
			}
			if c.checks > 0 && want != nil {
				t.Errorf("the answer should verify: %v", want)
			}
		})
	}
}

// BenchmarkVerifyReceipts100 verifies the receipts of an answer to a batch
// of 100, as an origin does for every batch it delivers; Alone100 is each
// receipt verified alone, with the root's signature checked once.
func BenchmarkVerifyReceipts100(b *testing.B) {
	key := keys(b)[0].priv
	rs := signedReceipts(b, key, 100)
	b.ReportAllocs()
	for b.Loop() {
		if err := contracts.VerifyReceipts(rs, contracts.NewRootVerifier(key.Public())); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyReceiptsAlone100(b *testing.B) {
	key := keys(b)[0].priv
	rs := signedReceipts(b, key, 100)
	b.ReportAllocs()
	for b.Loop() {
		roots := contracts.NewRootVerifier(key.Public())
		for _, r := range rs {
			if err := r.VerifyWith(roots); err != nil {
				b.Fatal(err)
			}
		}
	}
}
