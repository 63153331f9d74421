package delivery

import (
	"fmt"
)

// shrink lowers the batch size to n, as the webhook does, after the peer
// answered 413 to a full batch or timed out on a batch (why says which,
// for the log): a body limit below a full batch, or a link too slow for
// one within the client's timeout, slows the link instead of stopping it.
// It stays lowered for Config.ShrinkHold (batchsize.Size).
func (w *worker) shrink(n int, why string) {
	if w.sizing.Shrink(n) {
		w.m.log.Warn(why+"; sending fewer envelopes per batch", "peer", w.peer, "envelopes", max(n, 1), "for", w.m.cfg.ShrinkHold)
	}
}

// batchSize is the most envelopes to send the peer in one batch now: the
// lowered size while it holds (see shrink), then growing back to
// Config.BatchSize (batchsize.Size).
func (w *worker) batchSize() int {
	size, grown := w.sizing.Next()
	if grown {
		w.m.log.Info("trying larger batches again", "peer", w.peer, "envelopes", size)
	}
	return size
}

// slow reads err, the sender's error for a batch of n envelopes taken at
// size, as the peer not answering it in time (Config.TimedOut), and then
// halves size: the same batch sent again would most likely time out
// again, for ever. Half the size, not half of n: a timeout on the few
// envelopes that were queued says the peer was slow rather than that
// batches are too large, and a size lowered to a few would send the
// backlog that follows a few at a time for the whole hold. Should n be
// too many for the time, each timeout halves the size again, until
// batches carry fewer. Batches in flight together, taken at one size,
// halve it once. One envelope alone lowers nothing: nothing smaller can
// be sent. It returns err, saying so.
func (w *worker) slow(n, size int, err error) error {
	if n < 2 || w.m.cfg.TimedOut == nil || !w.m.cfg.TimedOut(err) {
		return err
	}
	w.shrink(size/2, "the peer did not answer a batch in time")
	return fmt.Errorf("%w; the next batches carry at most %d envelopes", err, w.sizing.Current())
}
