package pki

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

// rotatedCA makes province a second CA with a new key, signed by the
// federation's root: what the province makes to rotate its CA.
func rotatedCA(t *testing.T, f *Federation, province string) *CA {
	t.Helper()
	dir := t.TempDir()
	csr, err := NewProvinceCSR(dir, province, CSROptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Root.SignProvince(csr, SignProvinceOptions{Province: province, OutDir: dir}); err != nil {
		t.Fatal(err)
	}
	ca, err := OpenCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// TestVerifierRefusesUnlistedCAs: during a rotation both CAs are listed and
// both vouch for their leaves; once the old one is no longer listed, its
// leaf is refused by name, also through the chain Verify remembered (as a
// node checks a connection made before, at its next request), while the
// new CA's leaf passes. The callback is asked about the CA that issued the leaf.
func TestVerifierRefusesUnlistedCAs(t *testing.T) {
	f := newFederation(t, "51")
	old := f.CAs["51"]
	rotated := rotatedCA(t, f, "51")
	oldLeaf, err := old.Issue(IssueRequest{Kind: KindNode, Name: "gw-1"})
	if err != nil {
		t.Fatal(err)
	}
	newLeaf, err := rotated.Issue(IssueRequest{Kind: KindNode, Name: "gw-2"})
	if err != nil {
		t.Fatal(err)
	}
	oldChain := []*x509.Certificate{oldLeaf.Cert, old.Cert}
	newChain := []*x509.Certificate{newLeaf.Cert, rotated.Cert}
	listed := map[string]bool{string(old.Cert.Raw): true, string(rotated.Cert.Raw): true}
	var asked []string
	v := &Verifier{Roots: f.Roots(), ListedCA: func(p string, ca *x509.Certificate) bool {
		asked = append(asked, p+" "+ca.SerialNumber.Text(16))
		return listed[string(ca.Raw)]
	}}
	for _, chain := range [][]*x509.Certificate{oldChain, newChain} {
		if _, err := v.Verify(chain, x509.ExtKeyUsageClientAuth); err != nil {
			t.Fatalf("both CAs listed: %v", err)
		}
	}
	if want := "51 " + old.Cert.SerialNumber.Text(16); len(asked) == 0 || asked[0] != want {
		t.Errorf("ListedCA was asked %v, want %q first", asked, want)
	}

	delete(listed, string(old.Cert.Raw))
	want := `certificate of p51/node/gw-1 issued by CA "` + old.Cert.Subject.CommonName + `" (serial ` + old.Cert.SerialNumber.Text(16) +
		`), which the registry does not list for province 51: it was rotated away or never admitted`
	_, err = v.Verify(oldChain, x509.ExtKeyUsageClientAuth)
	if !errors.Is(err, ErrUnlistedCA) || err.Error() != want {
		t.Errorf("old CA's leaf after the rotation: %v\nwant ErrUnlistedCA: %s", err, want)
	}
	if _, err := v.Verify(newChain, x509.ExtKeyUsageClientAuth); err != nil {
		t.Errorf("new CA's leaf after the rotation: %v", err)
	}
}

// TestListedCAChecks: a nil ListedCA checks nothing, as a nil Member does;
// a province that is no member is refused as such before its CA is asked
// about; what does not verify at all is refused as such first.
func TestListedCAChecks(t *testing.T) {
	f := newFederation(t, "51", "33")
	leaf := issue(t, f, "33", IssueRequest{Kind: KindSystem, Name: "hr"})
	chain := []*x509.Certificate{leaf.Cert, f.CAs["33"].Cert}
	never := func(string, *x509.Certificate) bool { return false }
	for _, tc := range []struct {
		name string
		v    *Verifier
		want error
	}{
		{"no callback", &Verifier{Roots: f.Roots()}, nil},
		{"not listed", &Verifier{Roots: f.Roots(), ListedCA: never}, ErrUnlistedCA},
		{"not a member", &Verifier{Roots: f.Roots(), Member: func(string) bool { return false }, ListedCA: never}, ErrNotMember},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Verify(chain, x509.ExtKeyUsageClientAuth)
			if !errors.Is(err, tc.want) {
				t.Errorf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
	v := &Verifier{Roots: f.Roots(), ListedCA: func(string, *x509.Certificate) bool { return true }}
	if _, err := v.Verify(chain[:1], x509.ExtKeyUsageClientAuth); !errors.Is(err, ErrUnknownAuthority) {
		t.Errorf("Verify of a leaf without its CA: %v, want ErrUnknownAuthority", err)
	}
	if _, err := v.Verify(nil, x509.ExtKeyUsageClientAuth); !errors.Is(err, ErrNoCertificate) || !strings.Contains(err.Error(), "no certificate") {
		t.Errorf("Verify of nothing: %v, want ErrNoCertificate", err)
	}
}
