package node

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestWebhookPresentsTheRotatedCertificate: the node's certificate is
// rotated, then the old one revoked, while its push holds a connection
// to the business system made with the old one. A system that checks the
// client's certificate with every request, as a node does, refuses every
// push on that connection; the next item must still reach it, over a
// connection that presents the new certificate.
func TestWebhookPresentsTheRotatedCertificate(t *testing.T) {
	fed := pkitest.New(t, "laborlink.test", "51")
	var mu sync.Mutex
	revoked := map[string]bool{}
	var pushedBy []*big.Int // serial of the client certificate of each push taken
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serial := r.TLS.PeerCertificates[0].SerialNumber
		mu.Lock()
		defer mu.Unlock()
		if revoked[serial.Text(16)] {
			http.Error(w, "certificate revoked", http.StatusForbidden)
			return
		}
		pushedBy = append(pushedBy, serial)
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: fed.Fed.Roots()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "system-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}

	n := pushingNode(t, fed, WebhookConfig{URL: srv.URL, CA: ca})
	pushed := func(want uint64) func() bool {
		return func() bool {
			st, err := n.webhook.State()
			return err == nil && st.Pushed == want
		}
	}
	pkitest.Eventually(t, 10*time.Second, "the first items pushed", pushed(4))
	old, err := n.tls.KeyPair.Certificate()
	if err != nil {
		t.Fatal(err)
	}

	leaf := fed.Issue(t, "51", pki.KindNode, "gw-1")
	regtest.Reissue(t, n.tls.KeyPair, n.cfg.TLS.Cert, n.cfg.TLS.Key, leaf)
	mu.Lock()
	revoked[old.Leaf.SerialNumber.Text(16)] = true
	mu.Unlock()
	item := store.Incoming{EnvelopeID: "01E999", From: "44", Type: "transfer", Envelope: []byte(`{}`), Record: []byte(`{}`), Receipt: []byte(`{}`)}
	if _, err := n.store.Receive(context.Background(), []store.Incoming{item}); err != nil {
		t.Fatal(err)
	}
	pkitest.Eventually(t, 15*time.Second, "the item received after the rotation pushed", pushed(5))
	mu.Lock()
	defer mu.Unlock()
	if last := pushedBy[len(pushedBy)-1]; last.Cmp(leaf.Cert.SerialNumber) != 0 {
		t.Errorf("the push after the rotation presented serial %s, want the new %s", last.Text(16), leaf.Cert.SerialNumber.Text(16))
	}
}
