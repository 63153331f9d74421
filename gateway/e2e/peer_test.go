package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/pki"
)

// agreementVersion is the version of every agreement devfed agrees: each
// is proposed and approved once.
const agreementVersion = 1

// peerCaller calls a node's peer API over mutual TLS as whoever holds a
// node certificate and its key: another province's node, or someone who
// has its key.
type peerCaller struct {
	t    *testing.T
	http *http.Client
	url  string
}

// peerCaller presents the certificate in certFile (leaf then province CA)
// with keyFile to the node of province to, accepted only as that
// province's node. Each caller has its own connections, so a certificate
// is presented afresh in a handshake of its own.
func (f *federation) peerCaller(certFile, keyFile, to string) *peerCaller {
	f.t.Helper()
	return &peerCaller{t: f.t, http: f.mtlsClient(certFile, keyFile, to), url: f.URL(to) + peer.Path}
}

// nodeCaller is province's own node calling to's peer API.
func (f *federation) nodeCaller(province, to string) *peerCaller {
	f.t.Helper()
	cfg := f.config(province)
	return f.peerCaller(cfg.TLS.Cert, cfg.TLS.Key, to)
}

// peerAnswer is what the peer API answered one request.
type peerAnswer struct {
	status int
	// refusal is the error the whole request was refused with.
	refusal string
	results []peer.Result
}

// post sends body to the peer API; an error is a request that got no
// answer at all, such as a refused handshake.
func (c *peerCaller) post(body []byte) (peerAnswer, error) {
	c.t.Helper()
	resp, err := c.http.Post(c.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return peerAnswer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return peerAnswer{}, err
	}
	a := peerAnswer{status: resp.StatusCode}
	if resp.StatusCode != http.StatusOK {
		var eb struct {
			Error string `json:"error"`
		}
		json.Unmarshal(data, &eb)
		a.refusal = eb.Error
		if a.refusal == "" {
			a.refusal = strings.TrimSpace(string(data))
		}
		return a, nil
	}
	var dr peer.DeliverResponse
	if err := json.Unmarshal(data, &dr); err != nil {
		c.t.Fatalf("the peer API answered 200 with %q: %v", data, err)
	}
	a.results = dr.Results
	return a, nil
}

// deliverBody is a peer API request of envelopes signed by chain's leaf.
func deliverBody(t *testing.T, chain []*x509.Certificate, envelopes ...json.RawMessage) []byte {
	t.Helper()
	req := peer.DeliverRequest{Envelopes: envelopes}
	for _, c := range chain {
		req.Chain = append(req.Chain, c.Raw)
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sealRecord makes rec an envelope signed by signer as signerURI; a nil signer
// leaves it unsigned.
func sealRecord(t *testing.T, rec contracts.Record, signer *pki.Signer, signerURI string) (json.RawMessage, *contracts.Envelope) {
	t.Helper()
	env, err := contracts.NewEnvelope(rec, agreementVersion, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if signer != nil {
		if err := env.Sign(signer, signerURI); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return raw, env
}

// inboxEnvelopeIDs are the envelope ids of province's inbox, in inbox order.
func (f *federation) inboxEnvelopeIDs(province string) []string {
	f.t.Helper()
	var ids []string
	for _, it := range f.inboxAfter(province, 0) {
		ids = append(ids, it.EnvelopeID)
	}
	return ids
}

// TestAForgedOriginIsRejected: 44's node, over real mutual TLS with its
// own certificate, delivers to 33 envelopes that claim to come from 51,
// under 51's agreement with 33. 33 rejects each for its origin and stores
// none; the very same record sealed by 51 and sent by 51 is stored, so
// what was refused is the origin alone.
func TestAForgedOriginIsRejected(t *testing.T) {
	f := start(t, nil)
	g := f.gens["33"]
	forger := f.nodeSigner("44")
	as51 := f.Nodes["51"].Identity().URI()
	from44 := f.nodeCaller("44", "33")
	for _, tc := range []struct {
		name, signerURI string
	}{
		{"signed by 44 as itself", forger.Identity().URI()},
		{"signed by 44 as 51's node", as51},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, env := sealRecord(t, g.Transfer(), forger, tc.signerURI)
			if env.Origin != "51" {
				t.Fatalf("the forged envelope claims origin %s; want 51", env.Origin)
			}
			a, err := from44.post(deliverBody(t, forger.Chain(), raw))
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if a.status != http.StatusOK || len(a.results) != 1 {
				t.Fatalf("answer %d %q with %d results; want 200 with a result for the envelope", a.status, a.refusal, len(a.results))
			}
			r := a.results[0]
			if r.EnvelopeID != env.ID || r.Status != peer.StatusRejected || !slices.Contains(r.Reasons, exchange.ReasonOriginMismatch) {
				t.Errorf("result %+v; want %s rejected for %s", r, env.ID, exchange.ReasonOriginMismatch)
			}
			if len(r.Receipt) != 0 {
				t.Errorf("a rejected envelope got a receipt: %s", r.Receipt)
			}
		})
	}
	if ids := f.inboxEnvelopeIDs("33"); len(ids) != 0 {
		t.Fatalf("33 stored forged envelopes: %v", ids)
	}

	// The control: sealed and sent by 51 itself, the same kind of record
	// is stored, so the refusals above were for the origin.
	own := f.nodeSigner("51")
	raw, env := sealRecord(t, g.Transfer(), own, as51)
	a, err := f.nodeCaller("51", "33").post(deliverBody(t, own.Chain(), raw))
	if err != nil || a.status != http.StatusOK || len(a.results) != 1 || a.results[0].Status != peer.StatusStored {
		t.Fatalf("51's own envelope: %+v, %v; want it stored", a, err)
	}
	if ids := f.inboxEnvelopeIDs("33"); !slices.Equal(ids, []string{env.ID}) {
		t.Fatalf("33's inbox holds %v; want only 51's envelope %s", ids, env.ID)
	}
}

// TestThePeerAPIRefusesWhatIsNotASignedEnvelope: 51's node, with its own
// certificate, sends 33 envelopes that are not signed, a body that is not
// JSON and an envelope that is not one. Each gets an answer that says what was wrong, and 33's inbox
// stays empty.
func TestThePeerAPIRefusesWhatIsNotASignedEnvelope(t *testing.T) {
	f := start(t, nil)
	g := f.gens["33"]
	signer := f.nodeSigner("51")
	chain := signer.Chain()
	from51 := f.nodeCaller("51", "33")
	namedUnsigned := func() []byte {
		_, env := sealRecord(t, g.Transfer(), nil, "")
		env.Signer = signer.Identity().URI()
		raw, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		return deliverBody(t, chain, raw)
	}
	for _, tc := range []struct {
		name string
		body func() []byte
		// status is the answer's; for 200, reason is the envelope's
		// rejection, otherwise refusal is in the error.
		status          int
		reason, refusal string
	}{
		{"an envelope neither signed nor naming a signer", func() []byte {
			raw, _ := sealRecord(t, g.Transfer(), nil, "")
			return deliverBody(t, chain, raw)
		}, http.StatusOK, exchange.ReasonSignerMismatch, ""},
		{"an envelope naming 51's node but not signed", namedUnsigned, http.StatusOK, exchange.ReasonBadSignature, ""},
		{"an envelope that is not one", func() []byte {
			return deliverBody(t, chain, json.RawMessage(`{"id":5}`))
		}, http.StatusOK, exchange.ReasonMalformed, ""},
		{"a body that is not JSON", func() []byte {
			return deliverBody(t, chain, json.RawMessage(`{}`))[:40]
		}, http.StatusBadRequest, "", "bad batch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := from51.post(tc.body())
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if a.status != tc.status {
				t.Fatalf("answer %d %q; want %d", a.status, a.refusal, tc.status)
			}
			if tc.status != http.StatusOK {
				if !strings.Contains(a.refusal, tc.refusal) {
					t.Errorf("refused with %q; want it to say %q", a.refusal, tc.refusal)
				}
				return
			}
			if len(a.results) != 1 {
				t.Fatalf("%d results for one envelope", len(a.results))
			}
			if r := a.results[0]; r.Status != peer.StatusRejected || !slices.Contains(r.Reasons, tc.reason) || len(r.Receipt) != 0 {
				t.Errorf("result %+v; want rejected for %s, without a receipt", r, tc.reason)
			}
		})
	}
	if ids := f.inboxEnvelopeIDs("33"); len(ids) != 0 {
		t.Fatalf("33 stored %v", ids)
	}
}

// issueNode issues province's CA a second node certificate, name, as
// `laborlink pki issue --kind node` does, into a directory of the test's.
func (f *federation) issueNode(province, name string) pki.Leaf {
	f.t.Helper()
	ca, err := pki.OpenCA(f.CADir(province))
	if err != nil {
		f.t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.IssueRequest{Kind: pki.KindNode, Name: name, Province: province, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, OutDir: f.t.TempDir()})
	if err != nil {
		f.t.Fatal(err)
	}
	return *leaf
}

// revoke records cert's revocation in the registry as its province's
// admin, as `laborlink registry revoke` does.
func (f *federation) revoke(cert *x509.Certificate, province string) {
	f.t.Helper()
	cl, err := f.RegistryClient(province)
	if err != nil {
		f.t.Fatal(err)
	}
	body := registry.RevokeBody{Serial: cert.SerialNumber.Text(16), Province: province, Reason: "keyCompromise"}
	if _, err := cl.Submit(context.Background(), registry.OpCertRevoke, body); err != nil {
		f.t.Fatalf("revoke %s: %v", body.Serial, err)
	}
}

// TestARevokedNodeCertificateIsRefused: 44 issues its node a second
// certificate, which 51's peer API takes, both in the handshake and as the
// chain of envelopes. Once 44's admin revokes it in the registry and 51's
// replica knows, 51 refuses it in either place and stores nothing more.
func TestARevokedNodeCertificateIsRefused(t *testing.T) {
	f := start(t, nil)
	g := f.gens["44"]
	var transfers []*contracts.Transfer
	for range 2 {
		tr := g.Transfer()
		f.sendDelivered("51", tr)
		transfers = append(transfers, tr)
	}
	second := f.issueNode("44", "gw-2")
	signer, err := pki.LoadSigner(second.CertFile, second.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	// confirm is 44's confirmation of transfer i, signed with the second
	// certificate and sent by 44's node.
	confirm := func(i int) (peerAnswer, string) {
		raw, env := sealRecord(t, g.Confirmation(transfers[i]), signer, signer.Identity().URI())
		a, err := f.nodeCaller("44", "51").post(deliverBody(t, signer.Chain(), raw))
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		return a, env.ID
	}
	// handshake presents the second certificate itself, with a batch of no
	// envelope: a node it takes answers that the batch is empty.
	handshake := func() (peerAnswer, error) {
		return f.peerCaller(second.CertFile, second.KeyFile, "51").post(deliverBody(t, signer.Chain()))
	}

	a, err := handshake()
	if err != nil || a.status != http.StatusBadRequest || !strings.Contains(a.refusal, "0 envelopes") {
		t.Fatalf("the second certificate before its revocation: %+v, %v; want the handshake taken and the empty batch refused", a, err)
	}
	a, stored := confirm(0)
	if a.status != http.StatusOK || len(a.results) != 1 || a.results[0].Status != peer.StatusStored {
		t.Fatalf("a confirmation signed with the second certificate before its revocation: %+v; want it stored", a)
	}

	f.revoke(second.Cert, "44")
	gatewaytest.Eventually(t, "51 to know of the revocation", func() bool { return f.Nodes["51"].Registry().IsRevoked(second.Cert) })

	t.Run("in the handshake", func(t *testing.T) {
		// In TLS 1.3 the client has sent its request by the time 51 refuses
		// its certificate, so the refusal reaches it as the alert ("bad
		// certificate") or as the connection closing under its write
		// (broken pipe, reset), as the timing falls. That it is the
		// certificate 51 refuses, not 51 being unreachable, is shown by the
		// same request over 44's node certificate, answered as before.
		a, err := handshake()
		if err == nil && a.status != http.StatusUnauthorized && a.status != http.StatusForbidden {
			t.Fatalf("answer %d %q; want the handshake refused, or the request 401 or 403", a.status, a.refusal)
		}
		control, err := f.nodeCaller("44", "51").post(deliverBody(t, signer.Chain()))
		if err != nil || control.status != http.StatusBadRequest || !strings.Contains(control.refusal, "0 envelopes") {
			t.Fatalf("the same request over 44's node certificate: %+v, %v; want it taken and the empty batch refused", control, err)
		}
	})
	t.Run("as the envelopes' chain", func(t *testing.T) {
		a, id := confirm(1)
		if a.status != http.StatusForbidden || !strings.Contains(a.refusal, "signing chain refused") {
			t.Fatalf("answer %d %q %+v; want 403 refusing envelope %s for its signing chain", a.status, a.refusal, a.results, id)
		}
	})
	if ids := f.inboxEnvelopeIDs("51"); !slices.Equal(ids, []string{stored}) {
		t.Fatalf("51's inbox holds %v; want only %s, stored before the revocation", ids, stored)
	}
}

// TestAPeerBodyBeyondTheLimitIsAnswered413: a body one byte over
// peer.MaxBody is refused as too large, with 413 and a message that names
// the limit, and nothing of it is stored.
func TestAPeerBodyBeyondTheLimitIsAnswered413(t *testing.T) {
	f := start(t, nil)
	signer := f.nodeSigner("51")
	raw, _ := sealRecord(t, f.gens["33"].Transfer(), signer, signer.Identity().URI())
	b := deliverBody(t, signer.Chain(), raw)
	body := append(b[:len(b)-1:len(b)-1], bytes.Repeat([]byte(" "), peer.MaxBody+1-len(b))...)
	body = append(body, '}')
	a, err := f.nodeCaller("51", "33").post(body)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if limit := fmt.Sprintf("the limit is %d", peer.MaxBody); a.status != http.StatusRequestEntityTooLarge || !strings.Contains(a.refusal, limit) {
		t.Errorf("answer %d %q; want 413 naming the limit", a.status, a.refusal)
	}
	if ids := f.inboxEnvelopeIDs("33"); len(ids) != 0 {
		t.Fatalf("33 stored %v", ids)
	}
}

// TestAChainOfAnotherNodeIsAnswered403: 51's node delivers to 33 envelopes
// under 44's signing chain. 33 refuses the batch, as it must; the refusal
// is the caller's fault, so it is a 403, which the origin's breaker does
// not count against a peer that is up, not a 500.
func TestAChainOfAnotherNodeIsAnswered403(t *testing.T) {
	f := start(t, nil)
	other := f.nodeSigner("44")
	raw, _ := sealRecord(t, f.gens["33"].Transfer(), other, other.Identity().URI())
	a, err := f.nodeCaller("51", "33").post(deliverBody(t, other.Chain(), raw))
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	if a.status != http.StatusForbidden || !strings.Contains(a.refusal, "may not be delivered by") {
		t.Errorf("answer %d %q; want 403 saying whose envelopes may not be delivered by whom", a.status, a.refusal)
	}
	if ids := f.inboxEnvelopeIDs("33"); len(ids) != 0 {
		t.Fatalf("33 stored %v", ids)
	}
}
