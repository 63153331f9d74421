package peer

import (
	"net/http"
	"testing"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
)

// BenchmarkCheckAnswer checks the server of an answer, as the client does
// once per batch: "identity only" reads the certificate as the client did
// before revocations were checked on open connections, "verified" verifies
// the connection's chain again against a revocation list.
func BenchmarkCheckAnswer(b *testing.B) {
	p := gatewaytest.NewPKI(b, "51", "44")
	srvLeaf := p.Issue("44", pki.KindNode, "gw-1")
	srv := p.Serve(srvLeaf, pki.PeerPolicy{}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	resp, err := p.Client(p.Issue("51", pki.KindNode, "gw-1"), pki.PeerPolicy{}).Get(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	v := p.Verifier()
	revoked := pki.NewRevocationList()
	revoked.Add(p.Issue("44", pki.KindNode, "gw-2").Cert)
	v.Revocation = revoked
	for _, bc := range []struct {
		name string
		s    server
	}{
		{"identity only", server{province: "44"}},
		{"verified", server{province: "44", verifier: v}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.s.checkAnswer(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
