package node

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/webhook"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestWebhookTrustsItsCAAndPresentsTheNodesCertificate: the node verifies
// the business system against webhook.ca, pushing to a system whose
// certificate that CA signed and refusing one that another CA signed
// (retrying, skipping nothing); and it presents its own node certificate,
// which a system that requires a client certificate verifies against the
// federation root and reads this province's node from.
func TestWebhookTrustsItsCAAndPresentsTheNodesCertificate(t *testing.T) {
	fed := pkitest.New(t, "laborlink.test", "51")
	sys := newBusinessSystem(t, fed)
	dir := t.TempDir()
	systemCA, otherCA := filepath.Join(dir, "system-ca.pem"), filepath.Join(dir, "other-ca.pem")
	if err := os.WriteFile(systemCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sys.srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(otherCA, fed.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("a system another CA signed is refused", func(t *testing.T) {
		n := pushingNode(t, fed, WebhookConfig{URL: sys.srv.URL, CA: otherCA})
		var st webhook.State
		pkitest.Eventually(t, 10*time.Second, "the push to fail twice", func() bool {
			var err error
			st, err = n.webhook.State()
			return err == nil && st.Failures >= 2
		})
		if !strings.Contains(st.LastError, "certificate") || st.Pushed != 0 || st.Pending != 4 || st.Skipped != 0 {
			t.Errorf("state %+v, want a certificate error, nothing pushed or skipped and all 4 items pending", st)
		}
		if got := sys.items(); len(got) != 0 {
			t.Errorf("the system received %v over a connection the node should have refused", got)
		}
	})

	t.Run("a system webhook.ca signed gets the items and the node's certificate", func(t *testing.T) {
		n := pushingNode(t, fed, WebhookConfig{URL: sys.srv.URL, CA: systemCA})
		var st webhook.State
		pkitest.Eventually(t, 10*time.Second, "the push to take the whole inbox or fail twice", func() bool {
			var err error
			st, err = n.webhook.State()
			return err == nil && (st.Pushed == 4 || st.Failures >= 2)
		})
		if st.Pending != 0 || st.Failures != 0 {
			t.Fatalf("state %+v, want the whole inbox pushed without a failure", st)
		}
		want := pki.Identity{Domain: "laborlink.test", Province: "51", Kind: pki.KindNode, Name: "gw-1"}
		for _, it := range sys.items() {
			if it.client != want {
				t.Errorf("item %s came from %v, want the node %v", it.envelopeID, it.client, want)
			}
		}
		if got := len(sys.items()); got != 4 {
			t.Errorf("the system received %d items, want 4", got)
		}
	})
}

// businessSystem is a province's business system on HTTPS (httptest's own
// certificate), which requires a client certificate the federation root
// verifies and records each item with the identity of the client that
// pushed it.
type businessSystem struct {
	srv      *httptest.Server
	mu       sync.Mutex
	received []receivedItem
}

type receivedItem struct {
	envelopeID string
	client     pki.Identity
}

func newBusinessSystem(t *testing.T, fed *pkitest.PKI) *businessSystem {
	b := &businessSystem{}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(b.receive))
	b.srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: fed.Fed.Roots()}
	b.srv.StartTLS()
	t.Cleanup(b.srv.Close)
	return b
}

func (b *businessSystem) receive(w http.ResponseWriter, r *http.Request) {
	client, err := pki.IdentityFromCert(r.TLS.PeerCertificates[0])
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	var batch webhook.Batch
	if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, it := range batch.Items {
		b.received = append(b.received, receivedItem{it.EnvelopeID, client})
	}
}

func (b *businessSystem) items() []receivedItem {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]receivedItem(nil), b.received...)
}
