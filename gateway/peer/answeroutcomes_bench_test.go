package peer

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
)

// BenchmarkAnswerOutcomes checks a node's answer to a batch of 100, as
// the client does once the body is read: the receipts' chain, each
// result and its receipt, and the receipts' signature together.
func BenchmarkAnswerOutcomes(b *testing.B) {
	p := gatewaytest.NewPKI(b, "51", "44")
	signer := p.Signer(p.Issue("44", pki.KindNode, "gw-1"))
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	rs := make([]*contracts.Receipt, 100)
	for i := range rs {
		env := &contracts.Envelope{ID: ulid.Make().String(), PayloadDigest: fmt.Sprintf("sha256:%064x", i)}
		rs[i] = contracts.NewReceipt(env, contracts.ReceiptStored, "", now)
	}
	if err := contracts.SignReceipts(rs, signer, signer.Identity().URI()); err != nil {
		b.Fatal(err)
	}
	resp := DeliverResponse{Results: []Result{}}
	for _, c := range signer.Chain() {
		resp.Chain = append(resp.Chain, c.Raw)
	}
	for _, r := range rs {
		raw, err := r.AppendJSON(nil)
		if err != nil {
			b.Fatal(err)
		}
		resp.Results = append(resp.Results, Result{EnvelopeID: r.EnvelopeID, Status: StatusStored, Receipt: raw})
	}
	body := resp.appendJSON(nil)
	sent := sentFor(b, resp)
	leaf := p.Issue("51", pki.KindNode, "gw-1")
	c := NewClient(p.Verifier(), func() [][]byte { return [][]byte{leaf.Cert.Raw} }, directory{"44": "https://127.0.0.1:1"}, func(string) (*http.Client, error) { return http.DefaultClient, nil }, BreakerSettings{})
	r, err := c.remote("44")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		a, err := decodeAnswer(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.outcomes(r, "44", a, sent); err != nil {
			b.Fatal(err)
		}
	}
}
