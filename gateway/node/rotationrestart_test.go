package node

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestRotationWhileStoppedIsAudited: the operator guide's usual rotation on
// a host is "mv the new files into place"; done while the node is stopped
// (or in the second before a crash), the node starts presenting a new
// certificate. The auditor guide promises a `certificate` entry with detail
// `rotated` for every rotation of the node's own certificate, so the
// restarted node must write one for the serial it now presents, and one
// restarted with the same certificate none.
func TestRotationWhileStoppedIsAudited(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rotate bool
	}{
		{"rotated while stopped", true},
		{"same certificate", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, p := singleNode(t)
			cfg := n.cfg
			first := n.certSerial()
			// A node that has run for a pass has marked the certificate it
			// started with.
			pkitest.Eventually(t, 15*time.Second, "first certificate marked", func() bool {
				m, err := n.store.Mark(markCertSerial)
				return err == nil && m == first
			})
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			want := first
			if tc.rotate {
				ca, _ := p.Fed.CA("51")
				leaf, err := ca.Issue(pki.IssueRequest{Kind: pki.KindNode, Name: "gw-1", OutDir: filepath.Dir(cfg.TLS.Cert), Force: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
				if err != nil {
					t.Fatal(err)
				}
				want = leaf.Cert.SerialNumber.Text(16)
			}

			n2, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer n2.Close()
			if got := n2.certSerial(); got != want {
				t.Fatalf("restarted node presents %s, want %s", got, want)
			}
			// A pass of its own, serialized with the node's: once it
			// returns, the certificate presented has been compared.
			if err := n2.auditCertRotation(context.Background()); err != nil {
				t.Fatal(err)
			}
			var rotated []string
			for _, e := range certificateEntries(t, n2) {
				if e.Detail == audit.DetailRotated {
					rotated = append(rotated, e.Serial)
				}
			}
			switch {
			case tc.rotate && (len(rotated) != 1 || rotated[0] != want):
				t.Fatalf("the node restarted with rotated certificate %s and audited rotations %v", want, rotated)
			case !tc.rotate && len(rotated) != 0:
				t.Fatalf("the node restarted with its certificate unchanged and audited rotations %v", rotated)
			}
			if m, err := n2.store.Mark(markCertSerial); err != nil || m != want {
				t.Fatalf("certificate marked %q (%v), want %s", m, err, want)
			}
		})
	}
}

// TestFirstCertificateIsNoRotation: the certificate a node first starts
// with is marked as the one to compare later ones with, with no entry: it
// replaced none.
func TestFirstCertificateIsNoRotation(t *testing.T) {
	n, _ := singleNode(t)
	if err := n.auditCertRotation(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m, err := n.store.Mark(markCertSerial); err != nil || m != n.certSerial() {
		t.Fatalf("certificate marked %q (%v), want %s", m, err, n.certSerial())
	}
	if es := certificateEntries(t, n); len(es) != 0 {
		t.Fatalf("first start audited %+v", es)
	}
}

func certificateEntries(t *testing.T, n *Node) []audit.Entry {
	t.Helper()
	es, err := n.audit.Query(context.Background(), audit.Filter{Kind: audit.KindCertificate})
	if err != nil {
		t.Fatal(err)
	}
	return es
}
