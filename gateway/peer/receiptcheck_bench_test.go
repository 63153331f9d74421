package peer

import (
	"net/http"
	"testing"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
)

// BenchmarkReceiptCheck checks the chain of a peer's answer, as the
// client does once per answer before its receipts.
func BenchmarkReceiptCheck(b *testing.B) {
	p := gatewaytest.NewPKI(b, "51", "44")
	leaf := p.Issue("51", pki.KindNode, "gw-1")
	var chain [][]byte
	for _, c := range p.Signer(p.Issue("44", pki.KindNode, "gw-1")).Chain() {
		chain = append(chain, c.Raw)
	}
	c := NewClient(p.Verifier(), func() [][]byte { return [][]byte{leaf.Cert.Raw} }, directory{"44": "https://127.0.0.1:1"}, func(string) (*http.Client, error) { return http.DefaultClient, nil }, BreakerSettings{})
	r, err := c.remote("44")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.receiptCheck(r, "44", chain); err != nil {
			b.Fatal(err)
		}
	}
}
