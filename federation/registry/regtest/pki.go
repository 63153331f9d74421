// Package regtest builds real registries for tests: a federation PKI in a
// temporary directory, signed commands, and raft clusters over mutual TLS on
// loopback. Tests of the registry and of the commands that drive it share it.
package regtest

import (
	"bytes"
	"encoding/pem"
	"net"
	"os"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// Domain is the federation domain of test PKIs.
const Domain = "laborlink.test"

// PKI is a whole federation PKI in a temporary directory, with what
// registries need of it on top of pkitest's.
type PKI struct {
	*pkitest.PKI
}

// NewPKI creates a root and a CA for each province.
func NewPKI(t testing.TB, provinces ...string) *PKI {
	t.Helper()
	return &PKI{pkitest.New(t, Domain, provinces...)}
}

// Signer issues a leaf and returns its signer.
func (p *PKI) Signer(t testing.TB, province string, kind pki.Kind, name string) *pki.Signer {
	t.Helper()
	return pkitest.Signer(t, p.Issue(t, province, kind, name))
}

// Member describes a province of the PKI as a registry member.
func (p *PKI) Member(t testing.TB, province string) registry.MemberSpec {
	t.Helper()
	ca, err := p.Fed.CA(province)
	if err != nil {
		t.Fatal(err)
	}
	return MemberWith(province, ca)
}

// MemberWith describes province as a registry member whose CA is ca.
func MemberWith(province string, ca *pki.CA) registry.MemberSpec {
	return registry.MemberSpec{Province: province, Name: pki.ProvinceName(province),
		CACerts: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})}
}

// NewCA makes province another CA, with a new key, signed by the
// federation root: what a province makes to rotate its CA, or to come back
// after it was expelled. The province's CA in Fed stays as it was.
func (p *PKI) NewCA(t testing.TB, province string) *pki.CA {
	t.Helper()
	dir := t.TempDir()
	csr, err := pki.NewProvinceCSR(dir, province, pki.CSROptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Fed.Root.SignProvince(csr, pki.SignProvinceOptions{Province: province, OutDir: dir}); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.OpenCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// IssueFrom issues a leaf of kind for name from ca, a CA NewCA made; node
// certificates are valid for 127.0.0.1, as PKI.Issue makes them.
func IssueFrom(t testing.TB, ca *pki.CA, kind pki.Kind, name string) *pki.Leaf {
	t.Helper()
	req := pki.IssueRequest{Kind: kind, Name: name, OutDir: t.TempDir()}
	if kind == pki.KindNode {
		req.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	leaf, err := ca.Issue(req)
	if err != nil {
		t.Fatalf("issue %s %s from %s: %v", kind, name, ca.Cert.Subject.CommonName, err)
	}
	return leaf
}

// Reissue puts leaf in place of a node's certificate and key files,
// certFile and keyFile, as an operator reissuing the node's certificate
// does, and waits until kp, the node's key pair loaded from those files,
// presents leaf.
func Reissue(t testing.TB, kp *pki.KeyPair, certFile, keyFile string, leaf *pki.Leaf) {
	t.Helper()
	for from, to := range map[string]string{leaf.CertFile: certFile, leaf.KeyFile: keyFile} {
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	pkitest.Eventually(t, 15*time.Second, "the node to load its reissued certificate "+leaf.Cert.Subject.CommonName, func() bool {
		c, err := kp.Certificate()
		return err == nil && bytes.Equal(c.Certificate[0], leaf.Cert.Raw)
	})
}

// Genesis is the genesis of a registry whose members are the given provinces.
func (p *PKI) Genesis(t testing.TB, voters []registry.NodeSpec, members ...string) registry.Genesis {
	t.Helper()
	g := registry.Genesis{Domain: Domain, Roots: p.RootPEM(), Voters: voters}
	for _, m := range members {
		g.Members = append(g.Members, p.Member(t, m))
	}
	return g
}

// Signed builds and signs a command.
func Signed(t testing.TB, s *pki.Signer, op registry.Op, body any, now time.Time) *registry.Envelope {
	t.Helper()
	env, err := registry.NewEnvelope(op, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Sign(s, now); err != nil {
		t.Fatal(err)
	}
	return env
}

// Agreement returns a valid agreement between a division of origin and one
// of destination, covering transfers for employment service and
// confirmations, valid over the given days.
func Agreement(id, origin, dest string, from, until contracts.Date) contracts.Agreement {
	return contracts.Agreement{
		Schema:      contracts.SchemaAgreement,
		ID:          id,
		Version:     1,
		Title:       "劳务协作协议 " + id,
		Origin:      contracts.Party{Division: origin, Name: "输出地人力资源和社会保障局"},
		Destination: contracts.Party{Division: dest, Name: "输入地人力资源和社会保障局"},
		ValidFrom:   from,
		ValidUntil:  until,
		Scope: []contracts.ScopeRule{
			{RecordType: contracts.RecordTransfer, Purposes: []contracts.Purpose{contracts.PurposeEmploymentService, contracts.PurposeStatistics},
				Fields: []string{"worker"}},
			{RecordType: contracts.RecordConfirmation, Purposes: []contracts.Purpose{contracts.PurposeEmploymentConfirmation},
				Fields: []string{"employed", "since"}},
		},
	}
}
