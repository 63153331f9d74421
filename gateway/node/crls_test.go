package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
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
	logs := &gatewaytest.Buffer{}
	t.Cleanup(func() {
		gatewaytest.NoPersonalData(t, "the node's log", logs.String())
		if t.Failed() {
			t.Logf("node log:\n%s", logs)
		}
	})
	n := singleNodeLogging(t, p, []string{"51"}, slog.New(slog.NewTextHandler(logs, nil)), func(c *Config) { c.TLS.CRLs = []string{crl} })
	victim := p.Issue("51", pki.KindSystem, "hr")
	hc := p.Client(victim, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	status := func() (int, string, error) { return askStatus(n, hc) }
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

	// Once the watcher has tried the broken file and logged that it could not
	// read it, the revocation must still hold.
	failed := func() int { return strings.Count(logs.String(), crlRereadFailed) }
	before := failed()
	if err := os.WriteFile(crl, []byte("not a CRL"), 0o644); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Eventually(t, "the node to log that it could not reread the broken CRL file", func() bool { return failed() > before })
	if !n.revoked.Revoked(victim.Cert) {
		t.Error("a broken CRL file lifted the revocation")
	}
}

// TestCRLRewrittenInPlaceIsReread: a CRL rewritten with the same size and
// mtime (one serial replaced by another of the same length, within the
// file system's timestamp granularity) is still read again, and its
// revocation honoured.
func TestCRLRewrittenInPlaceIsReread(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51")
	ca, err := p.Fed.CA("51")
	if err != nil {
		t.Fatal(err)
	}
	victim := p.Issue("51", pki.KindSystem, "hr")
	readCRL := func(file string, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	before := readCRL(pki.WriteCRL(ca.Dir, 7*24*time.Hour))
	after := readCRL(pki.Revoke(ca.Dir, victim.Cert.SerialNumber, pki.RevokeOptions{Reason: "keyCompromise"}))
	if len(before) > len(after) {
		t.Fatalf("the CRL without the victim (%d bytes) is longer than the one with it (%d)", len(before), len(after))
	}
	// Text after the PEM block is ignored; it makes both files one size.
	before = append(before, strings.Repeat("\n", len(after)-len(before))...)

	file := filepath.Join(t.TempDir(), "crl.pem")
	stamp := time.Now().Truncate(time.Second)
	write := func(data []byte) {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, stamp, stamp); err != nil {
			t.Fatal(err)
		}
	}
	c := newCRLFiles([]string{file}, pki.NewRevocationList())
	write(before)
	if _, err := c.load([]*x509.Certificate{ca.Cert}); err != nil {
		t.Fatal(err)
	}
	write(after)
	if read, err := c.load([]*x509.Certificate{ca.Cert}); err != nil || len(read) != 1 {
		t.Fatalf("load after the rewrite read %v, %v; want the file", read, err)
	}
	if !c.list.Revoked(victim.Cert) {
		t.Error("a CRL rewritten with the same size and mtime was not read again: its revocation is not honoured")
	}
}

// TestRefuseNonMembers: a connection of a province the registry does not
// (or no longer) list is refused by name at its next request; members
// pass, and a request without TLS does not. A node knows no members before its registry is up, nor their CAs,
// and then lets everyone through to the other checks.
func TestRefuseNonMembers(t *testing.T) {
	p := gatewaytest.NewPKI(t, "44", "33")
	chain := func(province string) *tls.ConnectionState {
		ca, err := p.Fed.CA(province)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{p.Issue(province, pki.KindNode, "gw-1").Cert, ca.Cert}}
	}
	from := map[string]*tls.ConnectionState{"44": chain("44"), "33": chain("33")}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	v := &pki.Verifier{Roots: p.Fed.Roots(), Member: func(p string) bool { return p == "44" || p == "51" }}
	recheck := func(chain []*x509.Certificate) error {
		_, err := v.Verify(chain, x509.ExtKeyUsageClientAuth)
		return err
	}
	for peer, want := range map[string]int{"44": http.StatusNoContent, "33": http.StatusForbidden} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/peer/v1/envelopes", nil)
		r.TLS = from[peer]
		refuseLapsed(recheck, ok).ServeHTTP(rec, r)
		if rec.Code != want {
			t.Errorf("peer of %s: %d, want %d", peer, rec.Code, want)
		}
		if want == http.StatusForbidden && !strings.Contains(rec.Body.String(), "province 33 is not a member of the federation") {
			t.Errorf("peer of %s: body %s does not name the province", peer, rec.Body)
		}
		// The registry API's clients read the reason as its message.
		if want == http.StatusForbidden {
			var e registry.Error
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code != registry.EForbidden || !strings.Contains(e.Message, "province 33") {
				t.Errorf("peer of %s: as a registry error %+v, %v; want forbidden with the reason", peer, e, err)
			}
		}
	}
	// A request without TLS has no certificate to check, and no identity.
	rec := httptest.NewRecorder()
	refuseLapsed(recheck, ok).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/peer/v1/envelopes", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("a request without TLS: %d, want %d", rec.Code, http.StatusUnauthorized)
	}
	if !(&revocations{}).isMember("33") {
		t.Error("a node without its registry yet refused a province")
	}
	if ca, _ := p.Fed.CA("33"); !(&revocations{}).listsCA("33", ca.Cert) {
		t.Error("a node without its registry yet refused a province CA")
	}
}

// askStatus asks n's local API for its status through hc, within a few
// seconds, and returns the answer's status and body, or why there was none:
// a refused certificate may be refused at the handshake or by the request.
func askStatus(n *Node, hc *http.Client) (int, string, error) {
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

// TestHandshakeRefusesNonMembers: the federation root vouches for 33's CA,
// but 33 is not a member of this node's federation: its node cannot even
// connect, while a member's system can.
func TestHandshakeRefusesNonMembers(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51", "33")
	n := singleNodeOf(t, p, []string{"51"})
	policy := pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}}
	for _, c := range []struct {
		leaf *pki.Leaf
		ok   bool
	}{
		{p.Issue("51", pki.KindSystem, "hr"), true},
		{p.Issue("33", pki.KindNode, "gw-1"), false},
	} {
		resp, err := p.Client(c.leaf, policy).Get("https://" + n.Addr() + "/api/v1/status")
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want a connection: %v", c.leaf.Identity, err, c.ok)
		}
	}
}

// TestCRLFileProblemsSayWhatIsWrong: a CRL file the node cannot take is
// named with the reason: a truncated file is malformed, which the
// operator fixes by copying it again, not by asking another CA for it.
func TestCRLFileProblemsSayWhatIsWrong(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51", "44")
	crl := func(province string) []byte {
		t.Helper()
		ca, err := p.Fed.CA(province)
		if err != nil {
			t.Fatal(err)
		}
		file, err := pki.WriteCRL(ca.Dir, 7*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	ca51, err := p.Fed.CA("51")
	if err != nil {
		t.Fatal(err)
	}
	own := crl("51")
	for _, c := range []struct {
		name string
		data []byte
		want []string
	}{
		{"truncated", own[:len(own)/2], []string{"malformed CRL"}},
		{"another CA's", crl("44"), []string{"not a CRL signed by this node's province CA", "not signed by"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "crl.pem")
			if err := os.WriteFile(file, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := newCRLFiles([]string{file}, pki.NewRevocationList()).load([]*x509.Certificate{ca51.Cert})
			if err == nil {
				t.Fatal("the file was taken")
			}
			for _, w := range append(c.want, file) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
