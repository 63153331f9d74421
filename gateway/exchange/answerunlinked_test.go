package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestAnAnswerNotLinkedIsSentAgain: an answer stored, whose link to the
// record it answers could not be made (the store failed in between), is
// answered deferred answer_unlinked, without a receipt, not "stored" or
// "duplicate", which would stop its origin from sending it again, and
// leave the record without its answer for good. Sent again after the
// node restarted, it is a duplicate, linked then. 51's store fails as the
// received entry of an envelope of the request is appended, after the
// commit that stored it (the audit log in its own file): for a referral
// update that commit stored, and for a confirmation stored before its
// transfer was sent, delivered again beside a referral.
func TestAnAnswerNotLinkedIsSentAgain(t *testing.T) {
	for _, tc := range []struct {
		name string
		// answer makes the answer 44 sends to 51, and returns the
		// envelope id of the record at 51 it answers; first is what is
		// delivered with it, the first time.
		answer func(t *testing.T, f *federation, g *synth.Generator) (env json.RawMessage, first []json.RawMessage, answers string)
	}{
		{"referral update", func(t *testing.T, f *federation, g *synth.Generator) (json.RawMessage, []json.RawMessage, string) {
			r := f.referCases(g, 1)[0]
			origin, id := f.nodes["51"], f.submittedID("51", r)
			gatewaytest.Eventually(t, "51's referral delivered", func() bool {
				st, err := origin.store.Status(id)
				return err == nil && st.State == store.StateDelivered
			})
			u := g.ReferralUpdate(r)
			u.From, u.To, u.Status = "44", "51", contracts.CaseAccepted
			return f.rawSignedBy("44", u), nil, id
		}},
		{"confirmation sent again", func(t *testing.T, f *federation, g *synth.Generator) (json.RawMessage, []json.RawMessage, string) {
			tr := g.Transfer()
			env := f.rawSignedBy("44", g.Confirmation(tr))
			// Stored, and listed on no transfer: none was sent yet.
			if got, err := f.deliver("44", "51", env); err != nil || got[0].Status != peer.StatusStored {
				t.Fatalf("the confirmation before its transfer: %+v, %v", got, err)
			}
			res := f.submit("51", tr)
			if res[0].Outcome != OutcomeAccepted {
				t.Fatalf("the transfer: %+v", res[0])
			}
			// A fresh envelope beside it, whose received entry fails the
			// store before the confirmation is linked.
			return env, []json.RawMessage{f.rawSignedBy("44", referralFrom(g, "44"))}, res[0].EnvelopeID
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A clock finer than the receipts' milliseconds, always.
			clock := func() time.Time { return time.Now().Truncate(time.Millisecond).Add(time.Millisecond / 3) }
			f := newFederationClock(t, auditOwnFile, 0, clock, "51", "44")
			f.agreement("51", "44")
			failer := &failsStoreOnReceived{t: t}
			origin := f.restartAudited("51", func(a Auditor) Auditor {
				failer.Auditor = a
				return failer
			})
			failer.store = origin.store
			g := f.generator("51", "44", 41)
			env, first, answers := tc.answer(t, f, g)

			failer.armed.Store(true)
			got, err := f.deliver("44", "51", append(first, env)...)
			if err != nil {
				t.Fatal(err)
			}
			if origin.store.Failed() == nil {
				t.Fatal("51's store did not fail as the request was stored")
			}
			for _, res := range got[:len(first)] {
				if res.Status != peer.StatusStored {
					t.Errorf("an envelope stored before the store failed: %+v, want %s", res, peer.StatusStored)
				}
			}
			res := got[len(first)]
			if res.Status != peer.StatusDeferred || !slices.Equal(res.Reasons, []string{ReasonAnswerUnlinked}) || res.Receipt != nil {
				t.Fatalf("the answer not linked: %s %v, receipt of %d bytes; want %s [%s] and no receipt", res.Status, res.Reasons, len(res.Receipt), peer.StatusDeferred, ReasonAnswerUnlinked)
			}

			origin = f.restart("51")
			again, err := f.deliver("44", "51", env)
			if err != nil || again[0].Status != peer.StatusDuplicate || len(again[0].Receipt) == 0 {
				t.Fatalf("the answer sent again after the restart: %+v, %v; want %s with a receipt", again, err, peer.StatusDuplicate)
			}
			st, err := origin.store.Status(answers)
			if err != nil {
				t.Fatal(err)
			}
			var id struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(env, &id); err != nil {
				t.Fatal(err)
			}
			at := slices.IndexFunc(st.Answers, func(a store.Answer) bool { return a.EnvelopeID == id.ID })
			if at < 0 {
				t.Fatalf("the record answered lists %+v; want answer %s", st.Answers, id.ID)
			}
			// Linked by the redelivery, dated by the first arrival, exactly
			// as the inbox keeps it (the receipt says it to the millisecond).
			in := origin.inbox(t)
			k := slices.IndexFunc(in, func(m store.Incoming) bool { return m.EnvelopeID == id.ID })
			if k < 0 {
				t.Fatalf("answer %s is not in 51's inbox", id.ID)
			}
			if got, want := st.Answers[at].ReceivedAt, in[k].ReceivedAt; !got.Equal(want) {
				t.Errorf("the answer linked by its redelivery is dated %v; want its first arrival, %v", got, want)
			}
		})
	}
}

// failsStoreOnReceived is an audit log in its own file which, once armed,
// fails store (by a write that panics, a fault of the node's software) as
// the first received entry is appended: after the store's commit of the
// received envelopes, before what the request does next.
type failsStoreOnReceived struct {
	Auditor
	t     *testing.T
	store *store.Store
	armed atomic.Bool
}

func (l *failsStoreOnReceived) Append(ctx context.Context, e audit.Entry) (int64, error) {
	if e.Kind == audit.KindReceived && l.armed.CompareAndSwap(true, false) {
		err := l.store.Update(func(*bolt.Tx) error { panic("failsStoreOnReceived: the store fails") })
		if !errors.Is(err, store.ErrFailed) {
			l.t.Errorf("the write that panics: %v; want the store failed", err)
		}
	}
	return l.Auditor.Append(ctx, e)
}
