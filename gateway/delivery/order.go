package delivery

import (
	"slices"

	"github.com/laborlink/laborlink/gateway/store"
)

// The updates of a referral case go to the peer in the order this node
// made them (accepted, investigating, resolved), each checked against the
// case as the one before left it: the peer takes one only after the one
// before it, and refuses for good one that overtakes it. The outbox takes
// an update into a batch only behind the update before it, or once that
// one left the queue (store.Queued.After); a request carries them in that
// order, and the peer defers the later one when it defers the earlier
// (earlier_update_deferred). What the worker does with a batch after
// taking it must keep that order too: a batch the peer refuses whole is
// sent again in parts, and suspects go alone after it, so an update whose
// update before it the peer deferred or refused in an earlier part, or in
// an earlier trip, is not sent in a later part but stays queued.

// inOrder is batch without the referral updates whose update before them
// the peer has not taken (see waiting), or this call left out, and that
// is not ahead of them in batch: batch itself when there are none, which
// costs a batch of other records a look at each.
func (w *worker) inOrder(batch []store.Queued) []store.Queued {
	var kept []store.Queued // nil while every envelope so far is kept
	for i, q := range batch {
		ahead := batch[:i]
		if kept != nil {
			ahead = kept
		}
		keep := q.After == "" ||
			slices.ContainsFunc(ahead, func(a store.Queued) bool { return a.EnvelopeID == q.After }) ||
			!w.waiting(q.After) && !(kept != nil && leftOut(batch[:i], q.After))
		switch {
		case !keep && kept == nil:
			kept = append(make([]store.Queued, 0, len(batch)-1), ahead...)
		case keep && kept != nil:
			kept = append(kept, q)
		}
	}
	if kept == nil {
		return batch
	}
	return kept
}

// waiting reports whether the peer has not taken envelope id, which the
// worker holds apart: deferred, or refused alone (a suspect).
func (w *worker) waiting(id string) bool {
	if w.deferred(id) {
		return true
	}
	w.suspectMu.Lock()
	defer w.suspectMu.Unlock()
	_, suspected := w.suspects[id]
	return suspected
}

// deferred reports whether the worker holds envelope id as the peer
// deferred it.
func (w *worker) deferred(id string) bool {
	w.deferMu.Lock()
	defer w.deferMu.Unlock()
	_, held := w.deferrals[id]
	return held
}

// leftOut reports whether envelope id is among before, the envelopes of
// the batch before the one inOrder looks at, when it is not among those
// kept: then inOrder left it out, and what follows it waits too.
func leftOut(before []store.Queued, id string) bool {
	return slices.ContainsFunc(before, func(a store.Queued) bool { return a.EnvelopeID == id })
}
