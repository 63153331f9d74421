package policy

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
)

// TestSealMatchesApplyCanonical seals synthetic records of every type with
// random export obligations over their field paths, and holds the payload
// (which NewEnvelopeEdited writes while it encodes the record, following
// the decision's edits) to what ApplyCanonical makes of the record's
// canonical form: the same bytes, or the same error.
func TestSealMatchesApplyCanonical(t *testing.T) {
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	now := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
	var sealed, refused int
	for range 500 {
		tr, ref := g.Transfer(), g.Referral()
		for _, rec := range []contracts.Record{tr, g.Confirmation(tr), ref, g.ReferralUpdate(ref)} {
			paths := contracts.FieldPaths(rec.Type())
			obl := randomObligations(rng, paths)
			if rng.IntN(4) == 0 {
				emptyObject(obl, paths[rng.IntN(len(paths))], paths)
			}
			dec := decisionWith(obl)
			canon, err := contracts.Canonical(rec)
			if err != nil {
				t.Fatal(err)
			}
			want, werr := dec.ApplyCanonical(canon)
			env, err := contracts.NewEnvelopeEdited(rec, 1, now, dec)
			switch {
			case werr != nil:
				if err == nil || !strings.HasSuffix(err.Error(), werr.Error()) {
					t.Fatalf("%s with %v: sealed with error %v, ApplyCanonical's is %v", canon, obl, err, werr)
				}
				refused++
			case err != nil || !bytes.Equal(env.Payload, want):
				t.Fatalf("%s with %v:\n  sealed %s, %v\n  wanted %s", canon, obl, payloadOf(env), err, want)
			default:
				sealed++
			}
		}
	}
	if sealed == 0 || refused == 0 {
		t.Fatalf("%d sealed and %d refused: the draws miss a case", sealed, refused)
	}
}

// emptyObject drops every member directly below path p, so that an object
// there goes too.
func emptyObject(obl map[string]Obligation, p string, paths []string) {
	for _, q := range paths {
		if rest, ok := strings.CutPrefix(q, p+"."); ok && !strings.Contains(rest, ".") {
			obl[q] = Obligation{Action: ActionDrop}
		}
	}
}

// payloadOf is env's payload, or nothing when there is no envelope.
func payloadOf(env *contracts.Envelope) []byte {
	if env == nil {
		return nil
	}
	return env.Payload
}

// twoPasses is a decision that gives the encoder no edits, so that a record
// is encoded and then edited by ApplyCanonical, as before NewEnvelopeEdited
// carried out edits itself.
type twoPasses struct{ *Decision }

func (twoPasses) CanonicalEdits() map[string]*contracts.Edits { return nil }

// BenchmarkSealDecision seals a transfer under a typical export's
// obligations (those of BenchmarkApply): edited while it is encoded
// (one-pass), and encoded then edited (two-pass).
func BenchmarkSealDecision(b *testing.B) {
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 7})
	if err != nil {
		b.Fatal(err)
	}
	tr := g.Transfer()
	dec := decisionWith(map[string]Obligation{
		"labor_brand":                 {Action: ActionDrop},
		"worker.id_number":            {Action: ActionMask, Pattern: "id_number"},
		"worker.phone":                {Action: ActionMask, Pattern: "phone"},
		"training.certificate.number": {Action: ActionDrop},
	})
	now := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
	for _, bc := range []struct {
		name string
		edit contracts.PayloadEditor
	}{{"one-pass", dec}, {"two-pass", twoPasses{dec}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := contracts.NewEnvelopeEdited(tr, 1, now, bc.edit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
