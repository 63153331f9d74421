package peer

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
)

var auditT0 = time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC)

// auditLog is province 44's real audit log, holding flows with 51 and 33
// and entries that name no pair.
func auditLog(t *testing.T) *audit.Log {
	t.Helper()
	skey, _, err := audit.GenerateKey("fed.test/p44/gw-1")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.OpenFile(filepath.Join(t.TempDir(), "audit.db"), audit.Config{Origin: "fed.test/p44/gw-1", Signer: signer, SignInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	flow := func(i int, kind audit.Kind, origin, dest audit.Province) audit.Entry {
		return audit.Entry{Time: auditT0.Add(time.Duration(i) * time.Hour), Kind: kind, EnvelopeID: "env-" + string(rune('a'+i)),
			RecordType: "transfer", Origin: origin, Destination: dest, Decision: audit.Allow}
	}
	for i, e := range []audit.Entry{
		flow(0, audit.KindReceived, "51", "44"),
		flow(1, audit.KindSent, "44", "33"),
		flow(2, audit.KindSent, "44", "51"),
		flow(3, audit.KindReceived, "33", "44"),
		{Time: auditT0.Add(4 * time.Hour), Kind: audit.KindReceipt, EnvelopeID: "rcpt-c", RefersTo: "env-c", Destination: "51"},
		{Time: auditT0.Add(5 * time.Hour), Kind: audit.KindCertificate, Detail: audit.DetailRotated, Origin: "44", Serial: "0a1b"},
		flow(6, audit.KindReceived, "51", "44"),
	} {
		if _, err := l.Append(context.Background(), e); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	return l
}

// TestAuditEntriesOnlyBetweenTheTwoProvinces: a node of 51 reads 44's
// entries of flows between 51 and 44, in both directions and within the
// window asked for, and nothing about 33 or without a pair.
func TestAuditEntriesOnlyBetweenTheTwoProvinces(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51", "44", "33")
	srv := p.Serve(p.Issue("44", pki.KindNode, "gw-1"), pki.PeerPolicy{}, NewAuditHandler("44", auditLog(t)))
	f := &fixture{p: p, srv: srv.URL}
	c := f.client(t, directory{"44": srv.URL}, BreakerSettings{})
	ctx := context.Background()

	tests := []struct {
		name     string
		from, to time.Time
		want     []string
	}{
		{"whole log", time.Time{}, time.Time{}, []string{"env-a", "env-c", "env-g"}},
		{"window", auditT0.Add(time.Hour), auditT0.Add(6 * time.Hour), []string{"env-c"}},
		{"from only", auditT0.Add(3 * time.Hour), time.Time{}, []string{"env-g"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := c.AuditEntries(ctx, "44", tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.EnvelopeID)
				if e.Origin == "33" || e.Destination == "33" || e.Origin == "" || e.Destination == "" {
					t.Errorf("entry %d is not a flow between 51 and 44: %+v", e.Index, e)
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("entries %v, want %v", got, tt.want)
			}
		})
	}

	// A node of 33 asking the same node sees only its own flows.
	leaf33 := p.Issue("33", pki.KindNode, "gw-1")
	c33 := NewClient(p.Verifier(), func() [][]byte { return [][]byte{leaf33.Cert.Raw} }, directory{"44": srv.URL}, func(province string) (*http.Client, error) {
		return p.Client(leaf33, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province}), nil
	}, BreakerSettings{})
	es, err := c33.AuditEntries(ctx, "44", time.Time{}, time.Time{})
	if err != nil || len(es) != 2 || es[0].EnvelopeID != "env-b" || es[1].EnvelopeID != "env-d" {
		t.Errorf("a node of 33 read %+v, %v; want env-b and env-d", es, err)
	}
}

func TestAuditEntriesRefusesOtherCertificatesAndBadTimes(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51", "44")
	srv := p.Serve(p.Issue("44", pki.KindNode, "gw-1"), pki.PeerPolicy{}, NewAuditHandler("44", auditLog(t)))
	get := func(leaf *pki.Leaf, query string) (int, string) {
		t.Helper()
		resp, err := p.Client(leaf, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}}).Get(srv.URL + AuditPath + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, kind := range []pki.Kind{pki.KindAuditor, pki.KindOperator, pki.KindSystem, pki.KindAdmin} {
		for _, province := range []string{"51", "44"} {
			if code, body := get(p.Issue(province, kind, "x"), ""); code != http.StatusForbidden {
				t.Errorf("%s of %s: %d %s, want 403", kind, province, code, body)
			}
		}
	}
	node := p.Issue("51", pki.KindNode, "gw-1")
	for query, want := range map[string]string{
		"?from=yesterday":                   "from must be an RFC 3339 time",
		"?to=2026-03-15":                    "to must be an RFC 3339 time",
		"?from=2026-03-15T08:00:00%2B08:00": "",
	} {
		code, body := get(node, query)
		if want == "" {
			if code != http.StatusOK {
				t.Errorf("%s: %d %s, want 200", query, code, body)
			}
			continue
		}
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s, want 400 naming %q", query, code, body, want)
		}
	}
}

// TestAuditEntriesChecksTheServer: the client accepts the entries of a node
// of the province it asked for only.
func TestAuditEntriesChecksTheServer(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51", "44", "33")
	impostor := p.Serve(p.Issue("33", pki.KindNode, "gw-1"), pki.PeerPolicy{}, NewAuditHandler("33", auditLog(t)))
	f := &fixture{p: p}
	c := f.client(t, directory{"44": impostor.URL}, BreakerSettings{})
	if _, err := c.AuditEntries(context.Background(), "44", time.Time{}, time.Time{}); err == nil {
		t.Fatal("entries from a node of 33 were taken for 44's")
	}
	if _, err := c.AuditEntries(context.Background(), "32", time.Time{}, time.Time{}); err == nil || !strings.Contains(err.Error(), "32") {
		t.Errorf("unknown peer: %v, want an error naming 32", err)
	}
}
