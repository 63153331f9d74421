package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
)

// TestNodeRereadsCRLFiles: a CRL republished with a new revocation is
// honoured without a restart, and a broken file does not lift it.
func TestNodeRereadsCRLFiles(t *testing.T) {
	defer func(d time.Duration) { crlCheckInterval = d }(crlCheckInterval)
	crlCheckInterval = 20 * time.Millisecond
	p := gatewaytest.NewPKI(t, "51")
	ca, err := p.Fed.CA("51")
	if err != nil {
		t.Fatal(err)
	}
	crl, err := pki.WriteCRL(ca.Dir, 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	n := singleNodeWith(t, p, func(c *Config) { c.TLS.CRLs = []string{crl} })
	victim := p.Issue("51", pki.KindSystem, "hr")
	hc := p.Client(victim, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	status := func() (int, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+n.Addr()+"/api/v1/status", nil)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), nil
	}
	if code, body, err := status(); err != nil || code != http.StatusOK {
		t.Fatalf("before the revocation: %d %s %v", code, body, err)
	}

	if _, err := pki.Revoke(ca.Dir, victim.Cert.SerialNumber, pki.RevokeOptions{Reason: "keyCompromise"}); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Eventually(t, "the node to refuse the revoked certificate", func() bool { return n.revoked.Revoked(victim.Cert) })
	// On the connection made before the revocation, the next request is
	// refused; a new connection does not get past the handshake.
	if code, body, err := status(); err != nil || code != http.StatusForbidden || !strings.Contains(body, "certificate revoked") {
		t.Fatalf("on the open connection after the revocation: %d %s %v", code, body, err)
	}
	hc.CloseIdleConnections()
	if _, _, err := status(); err == nil {
		t.Fatal("a revoked certificate still makes a connection to the local API")
	}

	if err := os.WriteFile(crl, []byte("not a CRL"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * crlCheckInterval)
	if !n.revoked.Revoked(victim.Cert) {
		t.Error("a broken CRL file lifted the revocation")
	}
}

// fakeMembers is a registry's member list.
type fakeMembers struct {
	initialized bool
	members     []string
}

func (f fakeMembers) Initialized() bool { return f.initialized }
func (f fakeMembers) IsMember(p string) bool {
	return slices.Contains(f.members, p)
}

// TestRefuseNonMembers: a node of a province the registry does not list is
// refused by name; members pass, and so does everyone while the replica
// holds no federation yet.
func TestRefuseNonMembers(t *testing.T) {
	p := gatewaytest.NewPKI(t, "44", "33")
	from := map[string]*tls.ConnectionState{
		"44": {PeerCertificates: []*x509.Certificate{p.Issue("44", pki.KindNode, "gw-1").Cert}},
		"33": {PeerCertificates: []*x509.Certificate{p.Issue("33", pki.KindNode, "gw-1").Cert}},
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, tc := range []struct {
		name    string
		members membership
		peer    string
		want    int
	}{
		{"member", fakeMembers{true, []string{"44", "51"}}, "44", http.StatusNoContent},
		{"removed", fakeMembers{true, []string{"44", "51"}}, "33", http.StatusForbidden},
		{"replica not initialized", fakeMembers{false, nil}, "33", http.StatusNoContent},
		{"no registry", nil, "33", http.StatusNoContent},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/peer/v1/envelopes", nil)
		r.TLS = from[tc.peer]
		refuseNonMembers(func() membership { return tc.members }, ok).ServeHTTP(rec, r)
		if rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, rec.Code, tc.want)
		}
		if tc.want == http.StatusForbidden && !strings.Contains(rec.Body.String(), "province 33 is not a member of the federation") {
			t.Errorf("%s: body %s does not name the province", tc.name, rec.Body)
		}
	}
}
