package peer

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/laborlink/laborlink/contracts"
)

// BenchmarkDecodeDeliverResponse reads an answer to a batch of 100: a
// result and a batch-signed receipt per envelope, as an origin node does
// for every batch it delivers.
func BenchmarkDecodeDeliverResponse(b *testing.B) {
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	rs := make([]*contracts.Receipt, 100)
	for i := range rs {
		env := &contracts.Envelope{ID: ulid.Make().String(), PayloadDigest: fmt.Sprintf("sha256:%064x", i)}
		rs[i] = contracts.NewReceipt(env, contracts.ReceiptStored, "", now)
	}
	if err := contracts.SignReceipts(rs, testKey(b), "laborlink://node/44/p44"); err != nil {
		b.Fatal(err)
	}
	resp := DeliverResponse{Chain: [][]byte{make([]byte, 600), make([]byte, 500)}}
	for _, r := range rs {
		raw, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		resp.Results = append(resp.Results, Result{EnvelopeID: r.EnvelopeID, Status: StatusStored, Receipt: raw})
	}
	body := resp.appendJSON(nil)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeDeliverResponseBody(body); err != nil {
			b.Fatal(err)
		}
	}
}
