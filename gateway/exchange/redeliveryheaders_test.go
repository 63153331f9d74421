package exchange

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// TestARedeliveryOfAnotherHeaderIsRefused: 44 holds a transfer from 33
// (envelope E). In a later request, 33 sends under E's id an envelope of
// E's payload that is not E: another agreement version. It is refused as
// reusing E's id, with no receipt and its refusal audited, as it is when
// both come in one request, rather than answered "duplicate" with a
// receipt bound to headers 44 never stored. (From a review: a redelivery
// was recognised by id and payload alone, and the "duplicate" receipt,
// bound to the envelope as it came, let 33 prove 44 took another
// agreement version.) E sealed again under the name 33's node goes by
// now, in a batch, is E: a duplicate, with a receipt bound to it as it
// came. E's inbox item keeps the digest of E's header, so retention
// pruning it changes none of this. (From a review: once pruned, the item
// told nothing of E's headers, and 44 answered another agreement version
// "duplicate".) Only where 44 holds neither E nor that digest (an item an
// earlier release stored, then pruned) can it not tell them apart, and it
// answers both "duplicate", as it did before.
func TestARedeliveryOfAnotherHeaderIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		withheld  bool // E's inbox item keeps E with its payload withheld (the import masked the phone)
		prune     bool // E's inbox item, before the redelivery comes
		earlier   bool // E's inbox item as a release before header digests stored it
		meanwhile bool // E delivered between the redelivery's lookup and its commit
	}{
		{name: "stored before"},
		{name: "stored with its payload withheld", withheld: true},
		{name: "stored meanwhile by another request", meanwhile: true},
		{name: "stored and pruned", prune: true},
		{name: "stored by an earlier release", earlier: true},
		{name: "stored by an earlier release and pruned", earlier: true, prune: true},
	} {
		for _, again := range []struct {
			name  string
			other bool // another agreement version
			seal  bool // E sealed again under a new name, else E as it came
		}{
			{name: "another agreement version", other: true},
			{name: "sealed again under a new name", seal: true},
			{name: "as it came"},
		} {
			t.Run(tc.name+"/"+again.name, func(t *testing.T) {
				f := newFederation(t, "33", "44")
				f.agreement("33", "44", func(a *contracts.Agreement) {
					if tc.withheld {
						for i := range a.Scope {
							a.Scope[i].Clear = nil // the phone is masked, on export and on import
						}
					}
				})
				dest := f.nodes["44"]
				tr := f.generator("33", "44", 61).Transfer()
				if tc.withheld {
					tr.Worker.Phone = "13812345678"
				}
				// Signed by 33 directly: its export obligations not applied.
				first := f.signedBy("33", tr)
				raw := marshalEnvelope(t, first)

				// The redelivery, and who delivers it.
				env := *first
				by := f.nodes["33"].x.d.Signer
				if again.other {
					env.AgreementVersion++
					f.sign("33", &env)
				} else if again.seal {
					by = f.pki.Signer(f.pki.Issue("33", pki.KindNode, "gw-2"))
					if err := contracts.SignBatch([]*contracts.Envelope{&env}, by, by.Identity().URI()); err != nil {
						t.Fatal(err)
					}
				}
				redeliver := func() peer.Result {
					t.Helper()
					ctx := peer.WithReceiptBinding(context.Background())
					resp, err := dest.x.Receive(ctx, by.Identity(), by.Chain(), []json.RawMessage{marshalEnvelope(t, &env)}, nil)
					if err != nil {
						t.Fatal(err)
					}
					return resp.Results[0]
				}

				var r peer.Result
				if tc.meanwhile {
					// check looks up agreements after the stored envelopes
					// were looked up, before the commit.
					dest.x.d.Agreements = &hookedAgreements{AgreementSource: dest.agreements, hook: func() {
						if res, err := f.deliver("33", "44", raw); err != nil || res[0].Status != peer.StatusStored {
							t.Errorf("33's transfer: %+v, %v", res, err)
						}
					}}
					r = redeliver()
				} else {
					if res, err := f.deliver("33", "44", raw); err != nil || res[0].Status != peer.StatusStored {
						t.Fatalf("33's transfer: %+v, %v", res, err)
					}
					if tc.withheld {
						var kept struct {
							Payload json.RawMessage `json:"payload"`
						}
						if err := json.Unmarshal(dest.inbox(t)[0].Envelope, &kept); err != nil || string(kept.Payload) != "null" {
							t.Fatalf("44 keeps the transfer with payload %s, %v; want it withheld", kept.Payload, err)
						}
					}
					if tc.earlier {
						withoutHeaderDigests(t, dest.store)
					}
					if tc.prune {
						if n, err := dest.store.PruneInbox(context.Background(), time.Now().Add(time.Hour), math.MaxUint64); err != nil || n != 1 {
							t.Fatalf("PruneInbox = %d, %v; want the transfer pruned", n, err)
						}
					}
					r = redeliver()
				}

				refused := again.other && !(tc.earlier && tc.prune)
				if refused {
					if r.Status != peer.StatusRejected || !slices.Equal(r.Reasons, []string{ReasonEnvelopeIDReused}) || r.Receipt != nil {
						t.Errorf("the envelope of another agreement version: %s %v (receipt %s), want %s [%s] and no receipt", r.Status, r.Reasons, r.Receipt, peer.StatusRejected, ReasonEnvelopeIDReused)
					}
				} else {
					if r.Status != peer.StatusDuplicate {
						t.Fatalf("the redelivery: %s %v, want %s", r.Status, r.Reasons, peer.StatusDuplicate)
					}
					rc, err := contracts.DecodeReceipt(r.Receipt)
					if err != nil {
						t.Fatal(err)
					}
					d, err := env.SigningDigest()
					if err != nil {
						t.Fatal(err)
					}
					if err := rc.Verify(dest.leaf.Cert.PublicKey); err != nil || rc.EnvelopeDigest != contracts.FormatDigest(d) {
						t.Errorf("the duplicate's receipt binds %q (%v), want the envelope as it came again, %s", rc.EnvelopeDigest, err, contracts.FormatDigest(d))
					}
				}
				received, refusals := dest.receivedAndRefused(t, first.ID)
				if wantRefusals := map[bool]int{true: 1}[refused]; refusals != wantRefusals || received != 1 {
					t.Errorf("audited %d refusals and %d received envelopes under %s, want %d and 1", refusals, received, first.ID, wantRefusals)
				}
				inbox := dest.inbox(t)
				if len(inbox) != 1 || inbox[0].EnvelopeID != first.ID {
					t.Fatalf("inbox holds %+v, want the transfer alone", inbox)
				}
				if rc, err := contracts.DecodeReceipt(inbox[0].Receipt); err != nil || !rc.Matches(first) {
					t.Errorf("the receipt stored with %s is %s, %v; want the transfer's", first.ID, inbox[0].Receipt, err)
				}
			})
		}
	}
}

// withoutHeaderDigests writes s's inbox items again as a release before
// header digests stored them, without one.
func withoutHeaderDigests(t *testing.T, s *store.Store) {
	t.Helper()
	digest := regexp.MustCompile(`,"header_digest":"[^"]*"`)
	err := s.DB().Update(func(tx *bolt.Tx) error {
		inbox := tx.Bucket([]byte("inbox"))
		var keys, values [][]byte // a bucket is not written while ForEach reads it
		err := inbox.ForEach(func(k, v []byte) error {
			if !digest.Match(v) {
				return fmt.Errorf("inbox item %x keeps no header digest", k)
			}
			keys, values = append(keys, bytes.Clone(k)), append(values, digest.ReplaceAll(v, nil))
			return nil
		})
		for i, k := range keys {
			if err == nil {
				err = inbox.Put(k, values[i])
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSameAsStoredHoldsEveryHeader: an envelope under a stored id and
// payload is the envelope stored, as its inbox item keeps it (its header
// digest, or for an item of an earlier release the envelope, whole or with
// its payload withheld), when it differs from it in nothing but its
// signer, signature and batch proof, which sealing it again changes; a
// difference in any other header makes it another envelope, refused as
// reusing the id. The header digest, which pruning keeps, is compared
// alone: the envelope beside it is not read. An item of an earlier release
// that no longer keeps the envelope (pruned) leaves the payload alone to
// tell, and one whose envelope or header digest this node cannot read
// defers it, as an unreadable receipt does.
func TestSameAsStoredHoldsEveryHeader(t *testing.T) {
	f := newFederation(t, "33", "44")
	env := f.signedBy("33", f.generator("33", "44", 67).Transfer())
	rc := contracts.NewReceipt(env, contracts.ReceiptStored, "", f.now)
	key := f.nodes["44"].x.d.Signer
	if err := rc.Sign(key, key.Identity().URI()); err != nil {
		t.Fatal(err)
	}
	receipt, err := rc.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	withheld, err := withoutPayload(env)
	if err != nil {
		t.Fatal(err)
	}
	whole := marshalEnvelope(t, env)
	header, err := env.HeaderDigest()
	if err != nil {
		t.Fatal(err)
	}
	renamed := f.pki.Signer(f.pki.Issue("33", pki.KindNode, "gw-2"))
	tests := []struct {
		name   string
		stored json.RawMessage // as the inbox item keeps it, nil once pruned
		header []byte          // the header digest the inbox item keeps, nil for one of an earlier release
		change func(e *contracts.Envelope)
		want   error
	}{
		{name: "as stored", stored: whole},
		{name: "sealed again under a new name, in a batch", stored: whole, change: func(e *contracts.Envelope) {
			if err := contracts.SignBatch([]*contracts.Envelope{e}, renamed, renamed.Identity().URI()); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "as stored with its payload withheld", stored: withheld},
		{name: "another type", stored: whole, change: func(e *contracts.Envelope) { e.Type = contracts.RecordConfirmation }, want: errIDReused},
		{name: "another schema", stored: whole, change: func(e *contracts.Envelope) { e.Schema += "x" }, want: errIDReused},
		{name: "another origin", stored: whole, change: func(e *contracts.Envelope) { e.Origin = "51" }, want: errIDReused},
		{name: "another destination", stored: whole, change: func(e *contracts.Envelope) { e.Destination = "51" }, want: errIDReused},
		{name: "another agreement", stored: whole, change: func(e *contracts.Envelope) { e.AgreementID += "x" }, want: errIDReused},
		{name: "another agreement version", stored: whole, change: func(e *contracts.Envelope) { e.AgreementVersion++ }, want: errIDReused},
		{name: "another purpose", stored: whole, change: func(e *contracts.Envelope) { e.Purpose += "x" }, want: errIDReused},
		{name: "created at another time", stored: whole, change: func(e *contracts.Envelope) { e.Created = e.Created.Add(time.Millisecond) }, want: errIDReused},
		{name: "another agreement version, stored with its payload withheld", stored: withheld, change: func(e *contracts.Envelope) { e.AgreementVersion++ }, want: errIDReused},
		{name: "another agreement version, its item pruned", change: func(e *contracts.Envelope) { e.AgreementVersion++ }},
		{name: "stored unreadable", stored: json.RawMessage(`{"agreement_version":"1"}`), want: errStoredEnvelope},
		{name: "as stored, by its header digest", header: header[:]},
		{name: "sealed again under a new name, in a batch, by its header digest", header: header[:], change: func(e *contracts.Envelope) {
			if err := contracts.SignBatch([]*contracts.Envelope{e}, renamed, renamed.Identity().URI()); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "another agreement version, by its header digest", header: header[:], change: func(e *contracts.Envelope) { e.AgreementVersion++ }, want: errIDReused},
		{name: "another purpose, by its header digest", header: header[:], change: func(e *contracts.Envelope) { e.Purpose += "x" }, want: errIDReused},
		{name: "created at another time, by its header digest", header: header[:], change: func(e *contracts.Envelope) { e.Created = e.Created.Add(time.Millisecond) }, want: errIDReused},
		{name: "by its header digest, the envelope beside it not read", stored: json.RawMessage(`{"agreement_version":"1"}`), header: header[:]},
		{name: "a header digest that is not one", header: header[:16], want: errStoredEnvelope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := *env
			if tt.change != nil {
				tt.change(&e)
				if e.Batch == nil {
					f.sign("33", &e)
				}
			}
			d, err := e.SigningDigest()
			if err != nil {
				t.Fatal(err)
			}
			_, err = sameAsStored(&e, d, store.Arrival{Receipt: receipt, Envelope: tt.stored, HeaderDigest: tt.header})
			if !errors.Is(err, tt.want) {
				t.Errorf("sameAsStored = %v, want %v", err, tt.want)
			}
			if tt.want == errStoredEnvelope {
				if r := f.nodes["44"].x.notRedelivered(e.ID, err); r.Status != peer.StatusDeferred || !slices.Equal(r.Reasons, []string{"envelope_unreadable"}) {
					t.Errorf("answered %s %v, want %s [envelope_unreadable]", r.Status, r.Reasons, peer.StatusDeferred)
				}
			}
		})
	}
}
