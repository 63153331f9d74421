package exchange

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/pki"
)

// TestReceiptsGoWithTheChainThatSignedThem: a destination whose
// certificate rotates while it handles a delivery answers with the chain
// of the key that signed the receipts, not the newer one it holds by the
// time the answer is written. The origin verifies every receipt under the
// chain its answer comes with, and a chain read apart from the signing
// would fail the whole answer.
func TestReceiptsGoWithTheChainThatSignedThem(t *testing.T) {
	f := newFederationWith(t, auditOwnFile, 0, "51", "44")
	n := f.nodes["44"]
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "node.pem"), filepath.Join(dir, "node-key.pem")
	install := func(l *pki.Leaf) {
		t.Helper()
		for src, dst := range map[string]string{l.CertFile: certFile, l.KeyFile: keyFile} {
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			// Written beside and renamed over, as an operator rotates.
			if err := os.WriteFile(dst+".new", data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(dst+".new", dst); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(n.leaf)
	keys, err := pki.LoadKeyPair(certFile, keyFile, pki.WithReloadInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	// 44's certificate rotates once its received entries are written,
	// after its receipts are signed and before its answer is.
	var once sync.Once
	rotated := f.pki.Issue("44", pki.KindNode, "gw-1")
	n.stop()
	f.wrapAudit = func(a Auditor) Auditor {
		return onReceived{Auditor: a, do: func() { once.Do(func() { install(rotated) }) }}
	}
	n = f.start("44")
	f.nodes["44"] = n
	f.wrapAudit = nil
	n.x.d.Keys = keys
	f.agreement("51", "44")

	sender := f.nodes["51"]
	g := f.generator("51", "44", 61)
	raws := []json.RawMessage{f.rawSignedBy("51", g.Transfer()), f.rawSignedBy("51", g.Transfer())}
	ctx := auth.WithIdentity(context.Background(), sender.leaf.Identity)
	var chain [][]byte
	for _, c := range sender.x.d.Signer.Chain() {
		chain = append(chain, c.Raw)
	}
	resp, err := peer.MakeDeliverEndpoint(n.x)(ctx, peer.DeliverRequest{Chain: chain, Envelopes: raws})
	if err != nil {
		t.Fatal(err)
	}
	answer := resp.(peer.DeliverResponse)
	if len(answer.Chain) == 0 {
		t.Fatal("the answer carries no chain")
	}
	leaf, err := x509.ParseCertificate(answer.Chain[0])
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range answer.Results {
		if res.Status != peer.StatusStored {
			t.Fatalf("result %d: %+v, want stored", i, res)
		}
		rc, err := contracts.DecodeReceipt(res.Receipt)
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.Verify(leaf.PublicKey); err != nil {
			t.Errorf("receipt %d does not verify under the chain its answer carries (serial %x): %v", i, leaf.SerialNumber, err)
		}
	}
}

// onReceived is an Auditor that calls do as each received entry is
// appended.
type onReceived struct {
	Auditor
	do func()
}

func (o onReceived) Append(ctx context.Context, e audit.Entry) (int64, error) {
	if e.Kind == audit.KindReceived {
		o.do()
	}
	return o.Auditor.Append(ctx, e)
}
