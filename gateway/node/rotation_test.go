package node

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestRotatedAwayCAIsRefused: province 51 rotates its CA. While the
// registry lists both, a system of each CA works, and the old CA cannot be
// delisted while the node presents a certificate it issued. Once the node
// is reissued from the new CA and the member entry lists the new CA alone,
// the old CA's system is refused by name on the next request of its open
// connection and at the handshake of a new one, though the root still
// vouches for the old CA, and the new CA's system goes on.
func TestRotatedAwayCAIsRefused(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51")
	n := singleNodeWith(t, p)
	old, err := p.Fed.CA("51")
	if err != nil {
		t.Fatal(err)
	}
	rotated := (&regtest.PKI{PKI: &pkitest.PKI{Fed: p.Fed, Domain: gatewaytest.Domain}}).NewCA(t, "51")
	admin := p.Signer(p.Issue("51", pki.KindAdmin, "zhang"))
	policy := pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}}
	oldLeaf := p.Issue("51", pki.KindSystem, "hr")
	oldClient := p.Client(oldLeaf, policy)
	newClient := p.Client(regtest.IssueFrom(t, rotated, pki.KindSystem, "hr"), policy)
	status := func(hc *http.Client) (int, string, error) { return askStatus(n, hc) }
	submit := func(cas ...*pki.CA) error {
		m := registry.MemberSpec{Province: "51", Name: pki.ProvinceName("51")}
		for _, ca := range cas {
			m.CACerts = append(m.CACerts, regtest.MemberWith("51", ca).CACerts...)
		}
		_, err := n.registry.Submit(context.Background(), regtest.Signed(t, admin, registry.OpMemberAdd, m, time.Now()))
		return err
	}
	list := func(cas ...*pki.CA) {
		t.Helper()
		if err := submit(cas...); err != nil {
			t.Fatalf("member.add 51: %v", err)
		}
	}

	list(old, rotated)
	// The node, the registry's one voter, still presents the old CA's
	// certificate: delisting that CA now would cut the registry off.
	if err := submit(rotated); err == nil || !strings.Contains(err.Error(), "p51/node/gw-1") {
		t.Fatalf("delisting the CA the voter presents: %v; want a refusal naming p51/node/gw-1", err)
	}
	// The rotation's middle step: reissue the node's certificate from the
	// new CA, in place of its files; the node reloads it.
	regtest.Reissue(t, n.tls.KeyPair, n.cfg.TLS.Cert, n.cfg.TLS.Key, regtest.IssueFrom(t, rotated, pki.KindNode, "gw-1"))
	gatewaytest.Eventually(t, "the node to list the new CA", func() bool { return n.registry.Store().ListsCA("51", rotated.Cert) })
	for name, hc := range map[string]*http.Client{"old": oldClient, "new": newClient} {
		if code, body, err := status(hc); err != nil || code != http.StatusOK {
			t.Fatalf("a system of the %s CA while both are listed: %d %s %v", name, code, body, err)
		}
	}

	list(rotated)
	gatewaytest.Eventually(t, "the node to drop the old CA", func() bool { return !n.registry.Store().ListsCA("51", old.Cert) })
	want := `certificate of p51/system/hr issued by CA "` + old.Cert.Subject.CommonName + `" (serial ` + old.Cert.SerialNumber.Text(16) +
		`), which the registry does not list for province 51: it was rotated away or never admitted`
	code, body, err := status(oldClient)
	var refusal struct{ Error string }
	if err != nil || code != http.StatusForbidden || json.Unmarshal([]byte(body), &refusal) != nil || refusal.Error != want {
		t.Fatalf("the old CA's system on its open connection: %d %s %v; want 403: %s", code, body, err, want)
	}
	oldClient.CloseIdleConnections()
	if _, _, err := status(oldClient); err == nil {
		t.Fatal("a certificate of the rotated-away CA still makes a connection")
	}
	// What the node's handshake said, for its log.
	if _, err := n.tls.Verifier.Verify([]*x509.Certificate{oldLeaf.Cert, old.Cert}, x509.ExtKeyUsageClientAuth); !errors.Is(err, pki.ErrUnlistedCA) || err.Error() != want {
		t.Errorf("the node's verifier on the old CA's system: %v, want %s", err, want)
	}
	if code, body, err := status(newClient); err != nil || code != http.StatusOK {
		t.Fatalf("a system of the new CA after the rotation: %d %s %v", code, body, err)
	}
}
