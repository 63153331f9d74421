package pki

import (
	"crypto/x509"
	"testing"
)

// TestCertMemo: a memo derives a value once per parsed certificate, tells
// certificates apart by pointer (the same bytes parsed anew are derived
// again), and remembers at most maxRemembered of them.
func TestCertMemo(t *testing.T) {
	f := newFederation(t, "51")
	leaf := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	var m CertMemo[string]
	calls := 0
	serial := func(c *x509.Certificate) string {
		calls++
		return c.SerialNumber.Text(16)
	}
	for range 3 {
		if got, want := m.Get(leaf.Cert, serial), leaf.Cert.SerialNumber.Text(16); got != want {
			t.Fatalf("Get = %q, want %q", got, want)
		}
	}
	if calls != 1 {
		t.Errorf("derived %d times for one certificate, want once", calls)
	}
	m.Get(parsedAgain(t, leaf.Cert), serial)
	if calls != 2 {
		t.Errorf("derived %d times for two parsed certificates, want twice", calls)
	}
	for range maxRemembered {
		m.Get(parsedAgain(t, leaf.Cert), serial)
	}
	if n := len(m.m); n == 0 || n > maxRemembered {
		t.Errorf("remembers %d certificates, want 1 to %d", n, maxRemembered)
	}
}
