package peer

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/sony/gobreaker/v2"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// receiver stores what it is given, answering signed receipts, rejects
// envelopes whose body says "deny", and fails whole batches while broken is
// set; "forged" gets a receipt signed by another key.
type receiver struct {
	mu      sync.Mutex
	broken  bool
	refuses bool // answers every batch 400, as for a bad batch
	// together signs the receipts of an answer together, as a node does
	// (contracts.SignReceipts); "tampered" then gets a receipt whose batch
	// path was changed after signing.
	together bool
	from     []pki.Identity
	leaves   []*x509.Certificate // of the chains batches came with
	envs     []json.RawMessage   // every envelope received, as it came
	signer   *pki.Signer         // the destination node's key
	forger   *pki.Signer         // a key of the same province, not the one whose chain is sent
	// bound holds, by envelope id, the envelope digest to bind that
	// envelope's receipt to (contracts.Receipt.EnvelopeDigest); the others
	// are bound to none, as a destination of an earlier release answers.
	bound map[string]string
	// binding says, for each batch, whether its origin asked for bound
	// receipts (ReceiptBinding).
	binding []bool
}

// chain is the chain of r's signer, as answers carry it; r.mu is held.
func (r *receiver) chain() [][]byte {
	var chain [][]byte
	for _, c := range r.signer.Chain() {
		chain = append(chain, c.Raw)
	}
	return chain
}

// receipt is a receipt for envelope id, whose payload has digest, saying
// status, signed by s.
func (r *receiver) receipt(id, digest string, status contracts.ReceiptStatus, s *pki.Signer) json.RawMessage {
	rc := &contracts.Receipt{EnvelopeID: id, EnvelopeDigest: r.bound[id], PayloadDigest: digest, Status: status, ReceivedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := rc.Sign(s, r.signer.Identity().URI()); err != nil {
		panic(err)
	}
	b, _ := json.Marshal(rc)
	return b
}

func (r *receiver) Receive(ctx context.Context, from pki.Identity, chain []*x509.Certificate, envs []json.RawMessage, _ []contracts.DecodedEnvelope) (DeliverResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.binding = append(r.binding, ReceiptBinding(ctx))
	if r.broken {
		return DeliverResponse{}, errors.New("disk full")
	}
	if r.refuses {
		return DeliverResponse{}, fmt.Errorf("%w: envelope 0 is not JSON", ErrBadBatch)
	}
	if len(chain) == 0 {
		return DeliverResponse{}, errors.New("no chain")
	}
	r.leaves = append(r.leaves, chain[0])
	r.envs = append(r.envs, envs...)
	r.from = append(r.from, from)
	out := make([]Result, len(envs))
	for i, e := range envs {
		var head struct {
			ID, Body string
			Digest   string `json:"payload_digest"`
		}
		json.Unmarshal(e, &head)
		out[i] = Result{EnvelopeID: head.ID, Status: StatusStored, Receipt: r.receipt(head.ID, head.Digest, contracts.ReceiptStored, r.signer)}
		switch head.Body {
		case "forged":
			out[i].Receipt = r.receipt(head.ID, head.Digest, contracts.ReceiptStored, r.forger)
		case "stored, signed rejected":
			out[i].Receipt = r.receipt(head.ID, head.Digest, contracts.ReceiptRejected, r.signer)
		case "duplicate, signed stored":
			out[i].Status = StatusDuplicate
		case "rejected, signed stored":
			out[i].Status = StatusRejected
		case "rejected, signed rejected":
			out[i] = Result{EnvelopeID: head.ID, Status: StatusRejected, Reasons: []string{"import.no_agreement"}, Receipt: r.receipt(head.ID, head.Digest, contracts.ReceiptRejected, r.signer)}
		case "other content":
			out[i].Receipt = r.receipt(head.ID, contracts.PayloadDigest([]byte(`{"other":true}`)), contracts.ReceiptStored, r.signer)
		case "deny":
			out[i] = Result{EnvelopeID: head.ID, Status: StatusRejected, Reasons: []string{"import.no_agreement"}}
		case "defer":
			out[i] = Result{EnvelopeID: head.ID, Status: StatusDeferred, Reasons: []string{"case_unknown"}}
		case "unreadable":
			out[i] = Result{Status: StatusRejected, Reasons: []string{"malformed_envelope"}}
		case "odd":
			out[i] = Result{EnvelopeID: head.ID, Status: "maybe"}
		}
	}
	if r.together {
		if err := r.signTogether(out, envs); err != nil {
			return DeliverResponse{}, err
		}
	}
	return DeliverResponse{Results: out, Chain: r.chain()}, nil
}

// signTogether signs the receipts of out again, together.
func (r *receiver) signTogether(out []Result, envs []json.RawMessage) error {
	var rs []*contracts.Receipt
	var at []int
	for i, res := range out {
		if len(res.Receipt) == 0 {
			continue
		}
		rc, err := contracts.DecodeReceipt(res.Receipt)
		if err != nil {
			return err
		}
		rs, at = append(rs, rc), append(at, i)
	}
	if len(rs) == 0 {
		return nil
	}
	if err := contracts.SignReceipts(rs, r.signer, r.signer.Identity().URI()); err != nil {
		return err
	}
	for k, rc := range rs {
		if strings.Contains(string(envs[at[k]]), `"tampered"`) && len(rc.Batch.Path) > 0 {
			rc.Batch.Path[0] = append([]byte(nil), rc.Batch.Path[0]...)
			rc.Batch.Path[0][0] ^= 1
		}
		b, err := json.Marshal(rc)
		if err != nil {
			return err
		}
		out[at[k]].Receipt = b
	}
	return nil
}

type directory map[string]string

func (d directory) PeerURL(p string) (string, error) {
	u, ok := d[p]
	if !ok {
		return "", fmt.Errorf("no node for province %s", p)
	}
	return u, nil
}

func batch(bodies ...string) []store.Queued {
	out := make([]store.Queued, len(bodies))
	for i, b := range bodies {
		id := ulid.Make().String()
		body, _ := json.Marshal(b)
		out[i] = store.Queued{EnvelopeID: id, Envelope: []byte(fmt.Sprintf(`{"id":%q,"body":%s,"payload_digest":%q}`, id, body, contracts.PayloadDigest(body)))}
	}
	return out
}

type fixture struct {
	p    *gatewaytest.PKI
	recv *receiver
	srv  string
}

func newFixture(t *testing.T) *fixture {
	p := gatewaytest.NewPKI(t, "51", "44", "33")
	leaf := p.Issue("44", pki.KindNode, "gw-1")
	recv := &receiver{signer: p.Signer(leaf), forger: p.Signer(p.Issue("44", pki.KindNode, "gw-2"))}
	srv := p.Serve(leaf, pki.PeerPolicy{}, NewHandler(recv))
	return &fixture{p: p, recv: recv, srv: srv.URL}
}

// client is a p51 node's client, reaching "44" at the fixture's server.
func (f *fixture) client(t *testing.T, dir directory, s BreakerSettings) *Client {
	leaf := f.p.Issue("51", pki.KindNode, "gw-1")
	return NewClient(f.p.Verifier(), func() [][]byte { return [][]byte{leaf.Cert.Raw} }, dir, func(province string) (*http.Client, error) {
		return f.p.Client(leaf, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province}), nil
	}, s)
}

func TestDeliverOverMutualTLS(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, directory{"44": f.srv}, BreakerSettings{})
	out, err := c.Send(context.Background(), "44", batch("a", "deny", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || out[0].Rejected || !out[1].Rejected || out[1].Reasons[0] != "import.no_agreement" || len(out[2].Receipt) == 0 {
		t.Errorf("outcomes = %+v", out)
	}
	if got := f.recv.from[0]; got.Province != "51" || got.Kind != pki.KindNode {
		t.Errorf("receiver saw the caller as %v", got)
	}
	if st := c.BreakerState()["44"]; st != gobreaker.StateClosed {
		t.Errorf("breaker after a rejection = %s, want closed: rejections are not faults", st)
	}
}

func TestOddAnswers(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, directory{"44": f.srv}, BreakerSettings{})
	b := batch("a", "unreadable")
	out, err := c.Send(context.Background(), "44", b)
	if err != nil || !out[1].Rejected || out[1].EnvelopeID != b[1].EnvelopeID {
		t.Errorf("an envelope the destination could not read: %+v, %v; want it rejected by position", out, err)
	}
	if _, err := c.Send(context.Background(), "44", batch("odd")); err == nil || !strings.Contains(err.Error(), "unknown status") {
		t.Errorf("unknown status: err = %v, want a batch error", err)
	}
	// A receipt that does not verify against the destination's chain does
	// not count as delivered.
	if _, err := c.Send(context.Background(), "44", batch("a", "forged")); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("forged receipt: err = %v, want a batch error naming the signature", err)
	}
}

// TestReceiptsMustSayWhatTheResultSays: a receipt whose status is not its
// result's, or that is for other content than was sent, proves nothing
// the result says; the answer is refused for that envelope alone, as one
// for another envelope is (a delivery.BrokenAnswerError naming it), and
// only the others' outcomes count as delivered. A rejection with a
// receipt that says so is kept with it.
func TestReceiptsMustSayWhatTheResultSays(t *testing.T) {
	f := newFixture(t)
	for _, together := range []bool{false, true} {
		f.recv.mu.Lock()
		f.recv.together = together
		f.recv.mu.Unlock()
		c := f.client(t, directory{"44": f.srv}, BreakerSettings{})
		for _, tc := range []struct {
			body string
			want []string // in the error; none: no error
		}{
			{"stored, signed rejected", []string{"answered stored", "receipt saying rejected"}},
			{"duplicate, signed stored", []string{"answered duplicate", "receipt saying stored"}},
			{"rejected, signed stored", []string{"answered rejected", "receipt saying stored"}},
			{"other content", []string{"receipt for", "is for payload", "not the sha256:"}},
			{"rejected, signed rejected", nil},
		} {
			t.Run(fmt.Sprintf("%s, signed together %v", tc.body, together), func(t *testing.T) {
				b := batch("a", tc.body, "b")
				out, err := c.Send(context.Background(), "44", b)
				if len(tc.want) == 0 {
					if err != nil || len(out) != 3 || !out[1].Rejected || len(out[1].Receipt) == 0 || out[0].Rejected || out[2].Rejected {
						t.Fatalf("outcomes %+v, %v; want the rejection with its receipt, the others delivered", out, err)
					}
					return
				}
				var broken *delivery.BrokenAnswerError
				if !errors.As(err, &broken) {
					t.Fatalf("outcomes %+v, %v; want the answer refused for %s alone", out, err, b[1].EnvelopeID)
				}
				if len(broken.Broken) != 1 || broken.Broken[0].EnvelopeID != b[1].EnvelopeID || len(broken.Outcomes) != 2 ||
					broken.Outcomes[0].EnvelopeID != b[0].EnvelopeID || broken.Outcomes[1].EnvelopeID != b[2].EnvelopeID {
					t.Fatalf("broken %+v, outcomes %+v; want %s broken and the other two answered", broken.Broken, broken.Outcomes, b[1].EnvelopeID)
				}
				for _, w := range append(tc.want, b[1].EnvelopeID) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v; want it to contain %q", err, w)
					}
				}
			})
		}
	}
}

func TestServerOfTheWrongProvinceIsRefused(t *testing.T) {
	f := newFixture(t)
	// The directory claims the p44 server is province 33's node.
	c := f.client(t, directory{"33": f.srv}, BreakerSettings{})
	_, err := c.Send(context.Background(), "33", batch("a"))
	if err == nil || !strings.Contains(err.Error(), "expected province 33") {
		t.Fatalf("err = %v, want a refusal naming the expected province", err)
	}
}

func TestNonNodeCallerIsForbidden(t *testing.T) {
	f := newFixture(t)
	sys := f.p.Issue("51", pki.KindSystem, "hr")
	hc := f.p.Client(sys, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: "44"})
	resp, err := hc.Post(f.srv+Path, "application/json", strings.NewReader(`{"chain":[],"envelopes":[{}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status = %d, want 403", resp.StatusCode)
	}
}

func TestMalformedBatches(t *testing.T) {
	f := newFixture(t)
	node := f.p.Issue("51", pki.KindNode, "gw-1")
	hc := f.p.Client(node, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: "44"})
	for _, body := range []string{`{`, `{"envelopes":[]}`, `{"envelopes":[{}],"extra":1}`, `{"envelopes":[{}]}`, `{"chain":["AAAA"],"envelopes":[{}]}`} {
		resp, err := hc.Post(f.srv+Path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var eb errorBody
		json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(eb.Error, "bad batch") {
			t.Errorf("%s: status %d, error %q; want 400 naming the bad batch", body, resp.StatusCode, eb.Error)
		}
	}
}

func TestBreakerOpensOnServerFaultsAndRecovers(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var transitions []string
	c := f.client(t, directory{"44": f.srv}, BreakerSettings{Failures: 3, Open: 50 * time.Millisecond,
		OnStateChange: func(peer string, from, to gobreaker.State) {
			mu.Lock()
			transitions = append(transitions, to.String())
			mu.Unlock()
		}})
	f.recv.mu.Lock()
	f.recv.broken = true
	f.recv.mu.Unlock()
	for range 3 {
		var answer *AnswerError
		if _, err := c.Send(context.Background(), "44", batch("a")); !errors.As(err, &answer) || answer.Status != http.StatusInternalServerError {
			t.Fatalf("err = %v, want the server's fault, answered 500", err)
		}
	}
	if _, err := c.Send(context.Background(), "44", batch("a")); !errors.Is(err, gobreaker.ErrOpenState) {
		t.Fatalf("fourth send: err = %v, want the open breaker", err)
	}
	f.recv.mu.Lock()
	f.recv.broken = false
	f.recv.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Send(context.Background(), "44", batch("a"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("breaker never let a probe through: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(transitions, ","); got != "open,half-open,closed" {
		t.Errorf("breaker transitions = %s", got)
	}
}

// TestBreakerIgnoresRefusals: a peer that answers 400 is up; however often
// it refuses, the breaker stays closed and each send hears the refusal.
func TestBreakerIgnoresRefusals(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, directory{"44": f.srv}, BreakerSettings{Failures: 2, Open: time.Minute})
	f.recv.mu.Lock()
	f.recv.refuses = true
	f.recv.mu.Unlock()
	for i := range 5 {
		_, err := c.Send(context.Background(), "44", batch("a"))
		var answer *AnswerError
		if !errors.As(err, &answer) || answer.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "envelope 0 is not JSON") {
			t.Fatalf("send %d: err = %v, want the peer's 400", i, err)
		}
	}
	if st := c.BreakerState()["44"]; st != gobreaker.StateClosed {
		t.Errorf("breaker after five refusals = %s, want closed", st)
	}
}

// TestBreakerIgnoresDeferrals: a peer that defers envelopes has answered;
// however many batches it defers, the breaker stays closed and the
// deferrals reach the delivery worker as outcomes, not errors.
func TestBreakerIgnoresDeferrals(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, directory{"44": f.srv}, BreakerSettings{Failures: 2, Open: time.Minute})
	for i := range 5 {
		out, err := c.Send(context.Background(), "44", batch("defer"))
		if err != nil || len(out) != 1 || !out[0].Deferred || len(out[0].Reasons) != 1 || out[0].Reasons[0] != "case_unknown" {
			t.Fatalf("send %d: %+v, %v; want the envelope deferred", i, out, err)
		}
	}
	if st := c.BreakerState()["44"]; st != gobreaker.StateClosed {
		t.Errorf("breaker after five deferred batches = %s, want closed", st)
	}
}

func TestAnswerErrorRefused(t *testing.T) {
	for status, want := range map[int]bool{400: true, 401: true, 403: true, 413: true, 408: false, 429: false, 500: false, 502: false, 503: false} {
		if got := (&AnswerError{Status: status}).Refused(); got != want {
			t.Errorf("status %d: refused %v, want %v", status, got, want)
		}
	}
}

func TestUnsignedEnvelopesAreNotSent(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, directory{"44": f.srv}, BreakerSettings{})
	b := batch("a")
	b[0].SigningDigest = make([]byte, 32)
	if _, err := c.Send(context.Background(), "44", b); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("err = %v, want a refusal to send an unsigned envelope", err)
	}
	if len(f.recv.from) != 0 {
		t.Error("the peer received the batch")
	}
}

// TestReceiptsSignedTogether: the receipts of an answer signed together,
// as a node signs them, count as delivered, each keeping its proof; one
// whose path does not lead to the signed root fails the batch.
func TestReceiptsSignedTogether(t *testing.T) {
	f := newFixture(t)
	f.recv.together = true
	c := f.client(t, directory{"44": f.srv}, BreakerSettings{})
	out, err := c.Send(context.Background(), "44", batch("a", "deny", "b", "c", "d", "e"))
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if i == 1 {
			continue
		}
		rc, err := contracts.DecodeReceipt(o.Receipt)
		if err != nil || rc.Batch == nil || rc.Batch.Size != 5 {
			t.Fatalf("outcome %d: receipt %s (%v), want one of a batch of 5", i, o.Receipt, err)
		}
		if err := rc.Verify(f.recv.signer.Public()); err != nil {
			t.Errorf("outcome %d: the receipt kept does not verify alone: %v", i, err)
		}
	}
	if _, err := c.Send(context.Background(), "44", batch("a", "b", "tampered", "c")); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("tampered receipt: err = %v, want a batch error naming the signature", err)
	}
}

// TestReceiptChainChanges: a peer whose node answers with a new
// certificate is heard with it; the chain parsed from earlier answers is
// not taken for it.
func TestReceiptChainChanges(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, directory{"44": f.srv}, BreakerSettings{})
	for i, signer := range []*pki.Signer{f.recv.signer, f.recv.forger, f.recv.signer} {
		f.recv.mu.Lock()
		f.recv.signer = signer
		f.recv.mu.Unlock()
		out, err := c.Send(context.Background(), "44", batch("a", "b"))
		if err != nil {
			t.Fatalf("answer %d, signed by %s: %v", i, signer.Identity(), err)
		}
		rc, err := contracts.DecodeReceipt(out[0].Receipt)
		if err != nil || rc.Receiver != signer.Identity().URI() {
			t.Errorf("answer %d: receipt from %v (%v), want %s", i, rc, err, signer.Identity().URI())
		}
	}
}

// TestProofsGoWithTheChainThatSignedThem: a batch signed just before the
// node's certificate rotated goes with the chain of the key that signed it,
// which SendWithProofs is given, not with the client's chain, the new
// certificate's by then: the destination checks the proofs under the
// chain they come with, and would refuse them for good as forged.
func TestProofsGoWithTheChainThatSignedThem(t *testing.T) {
	f := newFixture(t)
	before, after := f.p.Issue("51", pki.KindNode, "gw-1"), f.p.Issue("51", pki.KindNode, "gw-1")
	current := before
	c := NewClient(f.p.Verifier(), func() [][]byte { return [][]byte{current.Cert.Raw} }, directory{"44": f.srv}, func(province string) (*http.Client, error) {
		return f.p.Client(before, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province}), nil
	}, BreakerSettings{})
	b := batch("a", "b")
	digests := make([][32]byte, len(b))
	for i, q := range b {
		digests[i] = sha256.Sum256(q.Envelope)
	}
	proofs, err := contracts.SignDigests(digests, f.p.Signer(before))
	if err != nil {
		t.Fatal(err)
	}
	current = after // the node's certificate rotates between signing and sending
	if _, err := c.SendWithProofs(context.Background(), "44", b, proofs, [][]byte{before.Cert.Raw}); err != nil {
		t.Fatal(err)
	}
	if len(f.recv.leaves) != 1 || len(f.recv.envs) != len(b) {
		t.Fatalf("the receiver got %d batches, %d envelopes; want 1 batch of %d", len(f.recv.leaves), len(f.recv.envs), len(b))
	}
	roots := contracts.NewRootVerifier(f.recv.leaves[0].PublicKey)
	for i, e := range f.recv.envs {
		var got struct {
			Batch *contracts.BatchProof `json:"batch"`
		}
		if err := json.Unmarshal(e, &got); err != nil || got.Batch == nil {
			t.Fatalf("envelope %d came without its proof (%v): %s", i, err, e)
		}
		if err := got.Batch.Includes(digests[i]); err != nil {
			t.Errorf("envelope %d: %v", i, err)
		}
		if err := roots.Verify(got.Batch.Root, got.Batch.Signature); err != nil {
			t.Errorf("envelope %d: its proof does not verify under the chain it came with: %v", i, err)
		}
	}
}
