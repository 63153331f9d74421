package delivery

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/laborlink/laborlink/gateway/store"
)

// A peer may answer a batch in full and yet break the protocol for some of
// its envelopes: a receipt whose status is not its result's, for other
// content than was sent, for another envelope, not signed as the others
// are; an unknown status; no receipt at all. Such an answer is no proof of
// delivery for those envelopes, but the others' answers, each proven on
// its own, still count: retrying the batch whole would only hear the same
// answer, and one envelope a peer mishandles would hold up its whole
// queue. The envelopes whose answers broke the protocol are suspects, as
// those refused alone are (see refusedAlone): out of batches, sent alone
// after them. One whose answer breaks the protocol again, once the peer
// has answered other envelopes since the last time, is buried: a peer that
// garbles one answer once does not lose it an envelope. An answer that
// breaks the protocol for every envelope of a batch passes the batch over,
// as one the peer refuses throughout (see passOver).

// BrokenAnswerError is a Sender's error for an answer to a batch whose
// answers for some envelopes break the protocol, while the answers for the
// others hold: Outcomes are the others', which the worker records as a
// batch's, and Broken names the envelopes left without an answer, which
// stay queued (see broken). An answer that cannot be trusted for any
// envelope (its receipts' chain, or the signature over their batch root,
// does not verify) is an error of another type, and the batch is retried
// whole.
type BrokenAnswerError struct {
	// Peer is the province that answered.
	Peer     string
	Outcomes []Outcome
	// Broken is never empty.
	Broken []BrokenAnswer
}

// BrokenAnswer is an envelope whose answer broke the protocol, and how.
type BrokenAnswer struct {
	EnvelopeID string
	Err        error
}

func (e *BrokenAnswerError) Error() string {
	first := e.Broken[0]
	if len(e.Broken) == 1 {
		return fmt.Sprintf("peer %s broke the protocol answering envelope %s: %v", e.Peer, first.EnvelopeID, first.Err)
	}
	return fmt.Sprintf("peer %s broke the protocol answering %d envelopes, the first %s: %v", e.Peer, len(e.Broken), first.EnvelopeID, first.Err)
}

// Unwrap returns each envelope's error.
func (e *BrokenAnswerError) Unwrap() []error {
	errs := make([]error, len(e.Broken))
	for i, b := range e.Broken {
		errs[i] = b.Err
	}
	return errs
}

// broken is the attempt at batch when the peer's answer e broke the
// protocol for some of its envelopes; answered and held are post's counts
// for the others, before is w.answers as it stood when batch was sent on
// trip t.
//
// An envelope named is buried when it is a suspect already, or was in a
// batch the peer answered none of (see passOver), and the peer has
// answered other envelopes since it became one (or was last tried): it
// failed twice, the peer taking others all the while. Otherwise it becomes
// a suspect (or stays one), with the answers as they stood before this
// answer, so that the others' answers in it count as evidence the next
// time. An envelope named in an answer with nothing else in it that holds,
// and suspected of nothing yet, becomes no suspect: the peer may be
// answering everything so, and suspecting a whole batch would cost a
// request per envelope once it is mended. Its batch is passed over
// instead, at no cost per envelope.
func (w *worker) broken(batch []store.Queued, e *BrokenAnswerError, answered, held int, before uint64, t *trip) attempt {
	a := attempt{answered: answered, held: held}
	var kept []string
	w.suspectMu.Lock()
	for _, b := range e.Broken {
		i := slices.IndexFunc(batch, func(q store.Queued) bool { return q.EnvelopeID == b.EnvelopeID })
		if i < 0 {
			continue
		}
		s, suspected := w.suspects[b.EnvelopeID]
		switch {
		case suspected && before > s.answers, w.struckBefore(b.EnvelopeID, before, t):
			// Forgotten before it is buried, as in refusedAlone.
			delete(w.suspects, b.EnvelopeID)
			a.dead = append(a.dead, store.DeadLetter{EnvelopeID: b.EnvelopeID, Status: store.StatusBrokenAnswer, Reason: scrub("answer breaks the protocol: " + b.Err.Error())})
			a.blamed = true
		case suspected:
			// Nothing answered since it was last tried: it stays a
			// suspect, as it stood.
		case answered > 0 && len(w.suspects) < w.m.cfg.BatchSize:
			if w.suspects == nil {
				w.suspects = make(map[string]suspect)
			}
			w.suspects[b.EnvelopeID] = newSuspect(batch[i], before)
			kept = append(kept, b.EnvelopeID)
		}
	}
	w.suspectMu.Unlock()
	if len(kept) > 0 {
		w.m.log.Warn("the peer's answer for envelopes broke the protocol; they are sent alone after the others, and buried if it breaks again", "peer", w.peer, "envelopes", strings.Join(kept, ","), "err", mask(e.Error()))
	}
	if answered == 0 && !a.blamed {
		a.err, a.garbled = fmt.Errorf("deliver %d envelopes to %s: %w", len(batch), w.peer, e), true
	}
	return a
}

// brokenAnswer reads err as a BrokenAnswerError naming an envelope of
// batch.
func brokenAnswer(err error, batch []store.Queued) (*BrokenAnswerError, bool) {
	var e *BrokenAnswerError
	if !errors.As(err, &e) || len(e.Broken) == 0 {
		return nil, false
	}
	for _, b := range e.Broken {
		if slices.ContainsFunc(batch, func(q store.Queued) bool { return q.EnvelopeID == b.EnvelopeID }) {
			return e, true
		}
	}
	return nil, false
}
