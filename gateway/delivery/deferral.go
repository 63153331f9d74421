package delivery

import (
	"time"
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

// deferral is an envelope the peer deferred: held out of batches until
// until, after times deferrals in a row.
type deferral struct {
	until time.Time
	times int
}

// hold holds the envelopes the peer has just deferred, each until its own
// backoff ends, and returns how many it could not hold: those beyond a
// batch.
func (w *worker) hold(ids []string) (unheld int) {
	if len(ids) == 0 {
		return 0
	}
	now := w.m.cfg.Now()
	w.deferMu.Lock()
	defer w.deferMu.Unlock()
	if w.deferrals == nil {
		w.deferrals = make(map[string]deferral)
	}
	for _, id := range ids {
		d, ok := w.deferrals[id]
		if !ok && len(w.deferrals) >= w.m.cfg.BatchSize {
			unheld++
			continue
		}
		d.times++
		d.until = now.Add(backoff(w.m.cfg, d.times))
		w.deferrals[id] = d
	}
	return unheld
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
