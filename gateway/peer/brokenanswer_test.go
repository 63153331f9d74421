package peer

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
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

// mangling is a destination that answers as the fixture's receiver does,
// and then changes its answer with mangle before it is sent.
type mangling struct {
	*receiver
	mangle func(t *testing.T, out []Result) []Result
	t      *testing.T
}

func (m mangling) Receive(ctx context.Context, from pki.Identity, chain []*x509.Certificate, envs []json.RawMessage, decoded []contracts.DecodedEnvelope) (DeliverResponse, error) {
	resp, err := m.receiver.Receive(ctx, from, chain, envs, decoded)
	if err != nil {
		return DeliverResponse{}, err
	}
	resp.Results = m.mangle(m.t, resp.Results)
	return resp, nil
}

// serveMangled serves f's receiver as a node of 44 whose answers mangle
// changes, signing its receipts together, and returns its URL.
func serveMangled(t *testing.T, f *fixture, mangle func(t *testing.T, out []Result) []Result) string {
	t.Helper()
	f.recv.together = true
	return f.p.Serve(f.p.Issue("44", pki.KindNode, "gw-tls"), pki.PeerPolicy{}, NewHandler(mangling{receiver: f.recv, mangle: mangle, t: t})).URL
}

// reencode changes the receipt of res with change and writes it again.
func reencode(t *testing.T, res *Result, change func(r *contracts.Receipt)) {
	t.Helper()
	r, err := contracts.DecodeReceipt(res.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	change(r)
	if res.Receipt, err = json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}

// TestAnAnswerBrokenForOneEnvelopeKeepsTheOthers: when the peer's answer
// breaks the protocol for one envelope of a batch, Send's error is a
// *delivery.BrokenAnswerError that names it and why, and carries the
// other envelopes' outcomes, each with a receipt that verifies alone. The
// breaker counts an answer that holds for the others as the peer's
// success (it is at work, mishandling one envelope that the worker sets
// apart), and one that holds for none as its failure.
func TestAnAnswerBrokenForOneEnvelopeKeepsTheOthers(t *testing.T) {
	tests := []struct {
		body     string
		together bool
		want     string
	}{
		{"stored, signed rejected", false, "with a receipt saying rejected"},
		{"duplicate, signed stored", true, "with a receipt saying stored"},
		{"rejected, signed stored", true, "with a receipt saying stored"},
		{"other content", true, "is for payload"},
		{"other content", false, "is for payload"},
		{"odd", true, "unknown status"},
		{"forged", false, "signature"},
		{"tampered", true, "receipt for"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s, signed together %v", tt.body, tt.together), func(t *testing.T) {
			f := newFixture(t)
			f.recv.together = tt.together
			c := f.client(t, directory{"44": f.srv}, BreakerSettings{Failures: 2, Open: time.Minute})
			b := batch("a", "b", tt.body, "c")
			out, err := c.Send(context.Background(), "44", b)
			var broken *delivery.BrokenAnswerError
			if !errors.As(err, &broken) {
				t.Fatalf("outcomes %+v, err %v; want a BrokenAnswerError", out, err)
			}
			if len(broken.Broken) != 1 || broken.Broken[0].EnvelopeID != b[2].EnvelopeID || !strings.Contains(broken.Broken[0].Err.Error(), tt.want) {
				t.Errorf("broken = %+v; want %s alone, its error saying %q", broken.Broken, b[2].EnvelopeID, tt.want)
			}
			if !strings.Contains(err.Error(), b[2].EnvelopeID) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want it to name %s and say %q", err, b[2].EnvelopeID, tt.want)
			}
			if len(broken.Outcomes) != 3 {
				t.Fatalf("outcomes = %+v; want those of the 3 others", broken.Outcomes)
			}
			for i, o := range broken.Outcomes {
				want := b[[]int{0, 1, 3}[i]].EnvelopeID
				rc, err := contracts.DecodeReceipt(o.Receipt)
				if o.EnvelopeID != want || o.Rejected || o.Deferred || err != nil || rc.EnvelopeID != want || o.PayloadDigest != rc.PayloadDigest {
					t.Fatalf("outcome %d = %+v (%v); want %s stored with its receipt", i, o, err, want)
				}
				if err := rc.Verify(f.recv.signer.Public()); err != nil {
					t.Errorf("outcome %d: its receipt does not verify: %v", i, err)
				}
			}
			for range 3 {
				c.Send(context.Background(), "44", batch(tt.body, "a"))
			}
			if st := c.BreakerState()["44"]; st != gobreaker.StateClosed {
				t.Fatalf("breaker after answers that held for all but one envelope = %s, want closed", st)
			}
			for range 2 {
				_, err := c.Send(context.Background(), "44", batch(tt.body, tt.body))
				if errors.As(err, &broken) && len(broken.Outcomes) > 0 {
					t.Fatalf("both envelopes broken: err %v carries outcomes %+v", err, broken.Outcomes)
				}
			}
			if _, err := c.Send(context.Background(), "44", batch("a")); !errors.Is(err, gobreaker.ErrOpenState) {
				t.Errorf("after two answers broken for every envelope: err = %v, want the breaker open: such an answer is the peer's fault", err)
			}
		})
	}
}

// TestAnAnswerBrokenAsAWholeFailsTheBatch: an answer that cannot be
// trusted for any envelope fails the batch with a plain error, naming no
// envelope to set apart, though a rejection without a receipt is in it:
// the signature over its receipts' root does not verify, it has a result
// too few. An answer whose every receipt breaks the protocol names their
// envelopes, and keeps the rejection.
func TestAnAnswerBrokenAsAWholeFailsTheBatch(t *testing.T) {
	tests := []struct {
		name   string
		mangle func(t *testing.T, out []Result) []Result
		want   string
		broken int // envelopes named; 0: a plain error
	}{
		{"root signature", badRootSignature, "the signature over its batch root does not verify", 0},
		{"a result too few", func(t *testing.T, out []Result) []Result { return out[:len(out)-1] }, "answered 3 results for 4 envelopes", 0},
		{"every receipt for other content", func(t *testing.T, out []Result) []Result {
			for i := range out {
				if len(out[i].Receipt) > 0 {
					reencode(t, &out[i], func(r *contracts.Receipt) { r.PayloadDigest = contracts.PayloadDigest([]byte(`{}`)) })
				}
			}
			return out
		}, "is for payload", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.client(t, directory{"44": serveMangled(t, f, tt.mangle)}, BreakerSettings{})
			b := batch("a", "b", "deny", "c")
			out, err := c.Send(context.Background(), "44", b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("outcomes %+v, err %v; want an error saying %q", out, err, tt.want)
			}
			var broken *delivery.BrokenAnswerError
			switch {
			case tt.broken == 0 && errors.As(err, &broken):
				t.Errorf("err = %v names envelopes to set apart; want the batch failed whole", err)
			case tt.broken > 0 && (!errors.As(err, &broken) || len(broken.Broken) != tt.broken || len(broken.Outcomes) != 4-tt.broken):
				t.Errorf("err = %#v; want %d envelopes named, the others' outcomes kept", err, tt.broken)
			}
		})
	}
}

// TestAReceiptForAnotherEnvelopeIsBrokenForItsOwn: a result for an
// envelope not sent, and a stored result without its receipt, break the
// protocol for the envelope in whose place they came, not for the batch.
func TestAReceiptForAnotherEnvelopeIsBrokenForItsOwn(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, directory{"44": serveMangled(t, f, func(t *testing.T, out []Result) []Result {
		out[1].EnvelopeID = ulid.Make().String()
		out[2].Receipt = nil
		return out
	})}, BreakerSettings{})
	b := batch("a", "b", "c", "d")
	_, err := c.Send(context.Background(), "44", b)
	var broken *delivery.BrokenAnswerError
	if !errors.As(err, &broken) || len(broken.Broken) != 2 || len(broken.Outcomes) != 2 {
		t.Fatalf("err = %v; want envelopes 1 and 2 named, the others' outcomes kept", err)
	}
	for i, want := range []string{"in place of " + b[1].EnvelopeID, "without a receipt"} {
		if got := broken.Broken[i]; got.EnvelopeID != b[i+1].EnvelopeID || !strings.Contains(got.Err.Error(), want) {
			t.Errorf("broken[%d] = %s: %v; want %s, saying %q", i, got.EnvelopeID, got.Err, b[i+1].EnvelopeID, want)
		}
	}
}

// TestDeliveryBuriesAnEnvelopeWhoseReceiptKeepsBreaking runs a delivery
// worker over the client and a real store: the peer answers one envelope
// with a receipt for other content than was sent, every time. The others
// are delivered, the queue drains, and that one ends in the dead letters,
// the reason naming the problem; an answer whose root signature fails
// buries nothing.
func TestDeliveryBuriesAnEnvelopeWhoseReceiptKeepsBreaking(t *testing.T) {
	f := newFixture(t)
	s, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := f.client(t, directory{"44": f.srv}, BreakerSettings{})
	cfg := delivery.DefaultConfig()
	cfg.MinBackoff, cfg.MaxBackoff, cfg.Refusal = time.Millisecond, 10*time.Millisecond, Refusal
	m, err := delivery.NewManager(cfg, s, c, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)

	b := batch("a", "b", "other content", "c", "d")
	enqueueBatch(t, s, b)
	m.Notify("44")
	gatewaytest.Eventually(t, "the outbox to drain", func() bool { return s.Depth()["44"] == 0 })
	dead, err := s.DeadLetters("44")
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].EnvelopeID != b[2].EnvelopeID || dead[0].Status != store.StatusBrokenAnswer ||
		!strings.Contains(dead[0].Reason, "answer breaks the protocol") || !strings.Contains(dead[0].Reason, "is for payload") {
		t.Fatalf("dead letters = %+v; want %s alone, its receipt for other content named", dead, b[2].EnvelopeID)
	}
	for i, q := range b {
		want := store.StateDelivered
		if i == 2 {
			want = store.StateFailed
		}
		if st, err := s.Status(q.EnvelopeID); err != nil || st.State != want {
			t.Errorf("envelope %d: %+v, %v; want %s", i, st, err, want)
		}
	}
}

// TestDeliveryBuriesNothingForAnAnswerBrokenAsAWhole: an answer whose
// receipts' root signature fails is retried whole, and one attempt buries
// nothing and delivers nothing.
func TestDeliveryBuriesNothingForAnAnswerBrokenAsAWhole(t *testing.T) {
	f := newFixture(t)
	srv := serveMangled(t, f, badRootSignature)
	s, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := f.client(t, directory{"44": srv}, BreakerSettings{})
	cfg := delivery.DefaultConfig()
	cfg.MinBackoff, cfg.MaxBackoff, cfg.Refusal = time.Hour, time.Hour, Refusal // one attempt
	m, err := delivery.NewManager(cfg, s, c, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	enqueueBatch(t, s, batch("a", "b", "other content", "c"))
	m.Notify("44")
	gatewaytest.Eventually(t, "the attempt to fail", func() bool {
		st := m.Peers()
		return len(st) == 1 && st[0].Failures > 0
	})
	if st := m.Peers(); !strings.Contains(st[0].LastError, "batch root does not verify") {
		t.Errorf("last error = %q; want the root signature named", st[0].LastError)
	}
	if dead, err := s.DeadLetters("44"); err != nil || len(dead) != 0 {
		t.Errorf("dead letters = %+v, %v; want none", dead, err)
	}
	if d := s.Depth()["44"]; d != 4 {
		t.Errorf("depth = %d, want all 4 queued still", d)
	}
}

// badRootSignature changes the signature over the root of the receipts of
// out, signed together.
func badRootSignature(t *testing.T, out []Result) []Result {
	for i := range out {
		if len(out[i].Receipt) > 0 {
			reencode(t, &out[i], func(r *contracts.Receipt) { r.Batch.Signature[len(r.Batch.Signature)-1] ^= 1 })
		}
	}
	return out
}

// enqueueBatch queues the envelopes of b for 44.
func enqueueBatch(t *testing.T, s *store.Store, b []store.Queued) {
	t.Helper()
	msgs := make([]store.Outgoing, len(b))
	for i, q := range b {
		msgs[i] = store.Outgoing{EnvelopeID: q.EnvelopeID, Ref: "ref-" + q.EnvelopeID, Type: "transfer", Peer: "44", Envelope: q.Envelope}
	}
	if _, err := s.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}
