package peer

import "testing"

// BenchmarkReadAnswer reads an answer to a batch of 100 as the client
// does: the body, then each result's receipt, checked for its envelope,
// status and payload and this node (receiptCheck.read; the signatures are
// left out).
func BenchmarkReadAnswer(b *testing.B) {
	resp := signedAnswer(b, 100, 0)
	body := resp.appendJSON(nil)
	sent := sentFor(b, resp)
	k := &receiptCheck{peer: "44", receiver: "laborlink://node/44/p44"}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		a, err := decodeAnswer(body)
		if err != nil {
			b.Fatal(err)
		}
		for i, res := range a.Results {
			if _, err := k.read(res, a.receipt(i), sent[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkEncodeDeliverResponse writes a destination's answer to a batch
// of 100.
func BenchmarkEncodeDeliverResponse(b *testing.B) {
	resp := signedAnswer(b, 100, 0)
	b.SetBytes(int64(len(resp.appendJSON(nil))))
	b.ReportAllocs()
	for b.Loop() {
		resp.appendJSON(nil)
	}
}
