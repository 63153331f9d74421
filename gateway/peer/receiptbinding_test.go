package peer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// TestServerReadsTheReceiptBindingHeader: the server tells its Receiver
// that the origin asked for bound receipts only when the request's header
// lists envelope_digest; a request without it is an origin of an earlier
// release.
func TestServerReadsTheReceiptBindingHeader(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{"envelope_digest"}, true},
		{[]string{"something_later, envelope_digest"}, true},
		{[]string{"something_later", " envelope_digest "}, true},
		{[]string{"something_later"}, false},
		{[]string{"envelope_digests"}, false},
	} {
		r := httptest.NewRequest("POST", Path, nil)
		for _, v := range tc.values {
			r.Header.Add(ReceiptBindingHeader, v)
		}
		if got := ReceiptBinding(receiptBinding(context.Background(), r)); got != tc.want {
			t.Errorf("%s: %q: binding %v, want %v", ReceiptBindingHeader, tc.values, got, tc.want)
		}
	}
}

// TestClientAsksForBoundReceipts: this release's client says with every
// delivery that it reads receipts bound to the whole envelope, and the
// destination's Receiver hears it.
func TestClientAsksForBoundReceipts(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, directory{"44": f.srv}, BreakerSettings{})
	if _, err := c.Send(context.Background(), "44", batch("a")); err != nil {
		t.Fatal(err)
	}
	f.recv.mu.Lock()
	defer f.recv.mu.Unlock()
	if len(f.recv.binding) != 1 || !f.recv.binding[0] {
		t.Errorf("the receiver heard binding %v, want [true]", f.recv.binding)
	}
}

// boundCase is an envelope sent, and how the destination binds its
// receipt.
type boundCase struct {
	name  string
	q     store.Queued
	proof *contracts.BatchProof
	// bind is the envelope digest the receipt carries: none (a destination
	// of an earlier release), the envelope's own, or another envelope's of
	// the same id and payload.
	bind string
	// refused says the receipt must not be taken for the envelope's.
	refused bool
}

// TestOriginHoldsBoundReceiptsToTheEnvelopeSent: a receipt without an
// envelope digest (a destination of an earlier release) proves delivery
// as it did; one bound to the envelope sent does too, whether it was
// signed alone (its digest computed from the envelope) or with its batch
// (its digest queued with it); one bound to another envelope of the same
// id and payload (another agreement version) is no proof for the one
// sent, and the answer is refused for that envelope alone.
func TestOriginHoldsBoundReceiptsToTheEnvelopeSent(t *testing.T) {
	f := newFixture(t)
	origin := f.p.Signer(f.p.Issue("51", pki.KindNode, "gw-1"))
	uri := origin.Identity().URI()
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// otherDigest is the signing digest of env with another agreement
	// version: the same id and payload.
	otherDigest := func(env *contracts.Envelope) string {
		other := *env
		other.AgreementVersion++
		d, err := other.SigningDigest()
		if err != nil {
			t.Fatal(err)
		}
		return contracts.FormatDigest(d)
	}
	alone := func(name string, bind func(env *contracts.Envelope, d [32]byte) string, refused bool) boundCase {
		env, err := contracts.NewEnvelope(g.Transfer(), 1, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Sign(origin, uri); err != nil {
			t.Fatal(err)
		}
		d, err := env.SigningDigest()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := env.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		return boundCase{name: name, q: store.Queued{EnvelopeID: env.ID, Envelope: raw}, bind: bind(env, d), refused: refused}
	}
	inBatch := func(name string, bind func(env *contracts.Envelope, d [32]byte) string, refused bool) boundCase {
		env, err := contracts.NewEnvelope(g.Transfer(), 1, now)
		if err != nil {
			t.Fatal(err)
		}
		env.Signer = uri
		d, err := env.SigningDigest()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := env.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		proofs, err := contracts.SignDigests([][32]byte{d}, origin)
		if err != nil {
			t.Fatal(err)
		}
		return boundCase{name: name, q: store.Queued{EnvelopeID: env.ID, Envelope: raw, SigningDigest: d[:]}, proof: proofs[0], bind: bind(env, d), refused: refused}
	}
	none := func(*contracts.Envelope, [32]byte) string { return "" }
	own := func(_ *contracts.Envelope, d [32]byte) string { return contracts.FormatDigest(d) }
	another := func(env *contracts.Envelope, _ [32]byte) string { return otherDigest(env) }
	cases := []boundCase{
		alone("signed alone, unbound", none, false),
		alone("signed alone, bound to it", own, false),
		alone("signed alone, bound to another", another, true),
		inBatch("signed in its batch, unbound", none, false),
		inBatch("signed in its batch, bound to it", own, false),
		inBatch("signed in its batch, bound to another", another, true),
	}
	c := f.client(t, directory{"44": f.srv}, BreakerSettings{})
	chain := [][]byte{origin.Chain()[0].Raw}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.recv.mu.Lock()
			f.recv.bound = map[string]string{tc.q.EnvelopeID: tc.bind}
			f.recv.mu.Unlock()
			// A plain envelope before it, which is answered whatever
			// becomes of this one.
			b := append(batch("a"), tc.q)
			out, err := c.SendWithProofs(context.Background(), "44", b, []*contracts.BatchProof{nil, tc.proof}, chain)
			if !tc.refused {
				if err != nil || len(out) != 2 || out[1].EnvelopeID != tc.q.EnvelopeID || out[1].Rejected || len(out[1].Receipt) == 0 {
					t.Fatalf("outcomes %+v, %v; want %s delivered with its receipt", out, err, tc.q.EnvelopeID)
				}
				return
			}
			var broken *delivery.BrokenAnswerError
			if !errors.As(err, &broken) || len(broken.Broken) != 1 || broken.Broken[0].EnvelopeID != tc.q.EnvelopeID || len(broken.Outcomes) != 1 {
				t.Fatalf("outcomes %+v, %v; want the answer refused for %s alone", out, err, tc.q.EnvelopeID)
			}
			if !strings.Contains(err.Error(), "another envelope under its id and payload") {
				t.Errorf("err = %v; want it to say the receipt is for another envelope", err)
			}
		})
	}
}

// TestOpenAPIDescribesTheReceiptBindingHeader: api/openapi.yaml describes,
// on the deliver route, the header with which an origin asks for bound
// receipts and the value it asks with, and envelope_digest in the
// receipts: an operator or a peer of another implementation reads there
// what a node sends and answers.
func TestOpenAPIDescribesTheReceiptBindingHeader(t *testing.T) {
	data, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Description string `yaml:"description"`
			Parameters  []struct {
				Name        string `yaml:"name"`
				In          string `yaml:"in"`
				Description string `yaml:"description"`
			} `yaml:"parameters"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	op := doc.Paths[Path]["post"]
	found := false
	for _, p := range op.Parameters {
		if p.In == "header" && http.CanonicalHeaderKey(p.Name) == ReceiptBindingHeader {
			found = true
			if !strings.Contains(p.Description, ReceiptBindingEnvelope) {
				t.Errorf("POST %s: header %s is described without its value %s: %q", Path, p.Name, ReceiptBindingEnvelope, p.Description)
			}
		}
	}
	if !found {
		t.Errorf("POST %s: api/openapi.yaml describes no header parameter %s", Path, ReceiptBindingHeader)
	}
	if !strings.Contains(op.Description, "envelope_digest") {
		t.Errorf("POST %s: api/openapi.yaml does not say what envelope_digest in a receipt is", Path)
	}
}
