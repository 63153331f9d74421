package delivery

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/laborlink/laborlink/gateway/store"
)

// A peer that defers an envelope has answered: it is healthy, and what it
// took with it is done. The envelope is held out of batches until its own
// backoff ends (exponential in how many times in a row the peer deferred
// it), so that one waiting on the peer (an update whose referral has not
// arrived, a case it cannot read yet) neither slows the rest of the queue
// nor is sent again with every batch. Like suspects, held envelopes live
// in memory only (a restart sends them at once) and are at most a batch:
// a peer deferring more may be deferring everything (its registry down),
// and the worker backs off as a whole instead of sending the whole queue
// around them.
//
// A peer may also keep deferring an envelope it will never decide on (an
// answer to a referral that ended there as a discarded dead letter):
// deferred for longer than Config.MaxDeferral, it is buried, so that
// operators see it and requeue or discard it (see overdue). When the peer first deferred it is kept in
// the outbox, written once per envelope, so that a restart does not start
// the bound again.

// deferral is an envelope the peer deferred: held out of batches until
// until, after times deferrals in a row, the first of them at since.
type deferral struct {
	until time.Time
	since time.Time
	times int
}

// hold holds the envelopes the peer has just deferred, first deferred at
// since, each until its own backoff ends, and returns how many it could
// not hold: those beyond a batch.
func (w *worker) hold(ids []string, since []time.Time) (unheld int) {
	if len(ids) == 0 {
		return 0
	}
	now := w.m.cfg.Now()
	w.deferMu.Lock()
	defer w.deferMu.Unlock()
	if w.deferrals == nil {
		w.deferrals = make(map[string]deferral)
	}
	for i, id := range ids {
		d, ok := w.deferrals[id]
		if !ok && len(w.deferrals) >= w.m.cfg.BatchSize {
			unheld++
			continue
		}
		d.since = since[i]
		d.times++
		d.until = now.Add(backoff(w.m.cfg, d.times))
		w.deferrals[id] = d
	}
	return unheld
}

// overdue finds out when the peer first deferred each envelope it has
// just deferred, recording it in the outbox for those it had not deferred
// before, and returns the dead letters of those it has kept deferring for
// longer than Config.MaxDeferral, and the others with when each was first
// deferred. The time is read from the worker's holds when they have it,
// so that an envelope deferred again costs the outbox nothing.
func (w *worker) overdue(deferred []Outcome) (dead []store.DeadLetter, waiting []string, since []time.Time, err error) {
	now := w.m.cfg.Now()
	since = make([]time.Time, len(deferred))
	var unknown []string
	w.deferMu.Lock()
	for i, o := range deferred {
		if since[i] = w.deferrals[o.EnvelopeID].since; since[i].IsZero() {
			unknown = append(unknown, o.EnvelopeID)
		}
	}
	w.deferMu.Unlock()
	if len(unknown) > 0 {
		read, err := w.m.outbox.MarkDeferred(context.WithoutCancel(w.m.ctx), w.peer, unknown, now)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("record the deferrals of %d envelopes by %s: %w", len(unknown), w.peer, err)
		}
		j := 0
		for i := range since {
			if since[i].IsZero() {
				since[i] = read[j]
				j++
			}
		}
	}
	kept := since[:0]
	for i, o := range deferred {
		first := since[i]
		if first.IsZero() {
			first = now // no longer queued: nothing to bury
		}
		if over := now.Sub(first); over > w.m.cfg.MaxDeferral {
			dead = append(dead, store.DeadLetter{EnvelopeID: o.EnvelopeID, Status: store.StatusDeferredTooLong, Reason: deferredTooLong(o.Reasons, first, over, w.m.cfg.MaxDeferral)})
			continue
		}
		waiting, kept = append(waiting, o.EnvelopeID), append(kept, first)
	}
	return dead, waiting, kept, nil
}

// deferredTooLong is the reason of a dead letter the peer kept deferring
// since first, for over, past bound, its latest deferral for reasons:
// scrubbed as any reason the peer gives.
func deferredTooLong(reasons []string, first time.Time, over, bound time.Duration) string {
	why := "no reason given"
	if len(reasons) > 0 {
		why = strings.Join(reasons, ", ")
	}
	return scrub(fmt.Sprintf("deferred for %s since %s, longer than delivery.max_deferral (%s); the last deferral: %s",
		over.Round(time.Second), first.UTC().Format(time.RFC3339), bound, why))
}

// release forgets the deferrals of envelopes the peer has answered for
// good, or that were buried.
func (w *worker) release(ids []string) {
	w.deferMu.Lock()
	defer w.deferMu.Unlock()
	for _, id := range ids {
		delete(w.deferrals, id)
	}
}

// held returns the envelopes whose hold has not ended, for pending to
// skip, with room for n more; nil when there are none and n is 0. It also
// forgets the deferrals whose hold ended longer than the longest backoff
// ago: their envelopes left the queue some other way, or waited so long
// behind others that their count may start again.
func (w *worker) held(n int) map[string]bool {
	now := w.m.cfg.Now()
	w.deferMu.Lock()
	defer w.deferMu.Unlock()
	var out map[string]bool
	for id, d := range w.deferrals {
		switch {
		case now.Before(d.until):
			if out == nil {
				out = make(map[string]bool, len(w.deferrals)+n)
			}
			out[id] = true
		case now.Sub(d.until) > w.m.cfg.MaxBackoff:
			delete(w.deferrals, id)
		}
	}
	if out == nil && n > 0 {
		out = make(map[string]bool, n)
	}
	return out
}

// nextRelease is how long until the first hold ends, or 0 if none is
// running.
func (w *worker) nextRelease() time.Duration {
	now := w.m.cfg.Now()
	w.deferMu.Lock()
	defer w.deferMu.Unlock()
	var next time.Duration
	for _, d := range w.deferrals {
		if wait := d.until.Sub(now); wait > 0 && (next == 0 || wait < next) {
			next = wait
		}
	}
	return next
}

// deferredCount is how many envelopes are held, for PeerState.
func (w *worker) deferredCount() int {
	w.deferMu.Lock()
	defer w.deferMu.Unlock()
	return len(w.deferrals)
}
