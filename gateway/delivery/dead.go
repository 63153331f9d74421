package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/laborlink/laborlink/gateway/store"
)

// UnsendableError is a Sender's error for an envelope of the batch that
// cannot be sent as it is stored (its bytes do not make an envelope): the
// worker moves it to the dead letters and sends the rest of the batch.
type UnsendableError struct {
	EnvelopeID string
	Err        error
}

func (e *UnsendableError) Error() string {
	return fmt.Sprintf("envelope %s cannot be sent as stored: %v", e.EnvelopeID, e.Err)
}

func (e *UnsendableError) Unwrap() error { return e.Err }

// attempt is what became of (part of) a batch.
type attempt struct {
	// answered counts the envelopes the peer answered: stored, rejected or
	// deferred, each a sign that it takes batches from this node.
	answered int
	// held counts the envelopes the peer deferred, answered but not taken.
	held int
	// dead are the envelopes to move to the dead letters.
	dead []store.DeadLetter
	// refused is the first refusal of an envelope sent alone, buried or
	// kept as a suspect (see refusedAlone).
	refused error
	// blamed says an envelope was buried for the peer's refusing it, or
	// garbling its answer, after answering others: the peer takes this
	// node's envelopes, and refuses that one.
	blamed bool
	// err is the first failure; what it left unsent stays queued.
	err      error
	deferred bool
	// garbled says err is the peer's answer broken for every envelope it
	// was sent (see broken): the peer is up and answering, not failing.
	garbled bool
	// oversized says the peer answered 413 to an envelope alone: a 413 to
	// a batch holding it may be its doing alone.
	oversized bool
}

// deliver sends batch, and when the peer refuses it as a whole, its halves
// in turn (see split), down to envelopes alone: those the peer refuses
// alone are the ones to suspect, and the others go on their way.
//
// full is the batch size when batch was taken as a full batch of it, and
// 0 for a partial batch or a part. A 413 to a full batch halves the size
// for the batches that follow, once the split has found no envelope too
// large alone in it: such an envelope may be all the 413 was about, and a
// smaller batch would hold it as well, while the link would be slowed
// for Config.ShrinkHold. A 413 to a partial batch or a part says no more
// than that it is too large; should full batches be too, one answers 413
// in turn.
//
// t is the batch's trip: an envelope the peer refuses alone after
// answering others since the batch was taken is blamed at once (see
// refusedAlone). A referral update whose update before it the peer has
// not taken, in an earlier part or trip, is not sent (see inOrder).
func (w *worker) deliver(batch []store.Queued, full int, t *trip) attempt {
	if batch = w.inOrder(batch); len(batch) == 0 {
		return attempt{}
	}
	before := w.answers.Load()
	answered, held, overdue, deferred, err := w.post(batch)
	var unsendable *UnsendableError
	if errors.As(err, &unsendable) {
		if i := slices.IndexFunc(batch, func(q store.Queued) bool { return q.EnvelopeID == unsendable.EnvelopeID }); i >= 0 {
			rest := w.deliver(append(batch[:i:i], batch[i+1:]...), full, t)
			rest.dead = append(rest.dead, store.DeadLetter{EnvelopeID: unsendable.EnvelopeID, Reason: scrub(unsendable.Err.Error())})
			return rest
		}
	}
	if e, ok := brokenAnswer(err, batch); ok {
		a := w.broken(batch, e, answered, held, before, t)
		a.dead = append(a.dead, overdue...)
		return a
	}
	status, message, refused := w.refusal(err)
	switch {
	case !refused:
		if err != nil && !deferred {
			err = w.slow(len(batch), t.size, fmt.Errorf("deliver %d envelopes to %s: %w", len(batch), w.peer, err))
		}
		if err == nil && full > 0 {
			w.sizing.Grow(full)
		}
		return attempt{answered: answered, held: held, dead: overdue, err: err, deferred: deferred}
	case len(batch) == 1:
		return w.refusedAlone(batch[0], status, message, err, before, t)
	}
	a := w.split(batch, t)
	if status == http.StatusRequestEntityTooLarge && full > 0 && !a.oversized {
		w.shrink(full/2, "the batch was too large for the peer (413)")
	}
	return a
}

// errClosing ends an attempt that Close interrupted between two requests,
// or whose request CloseWithin cut: what it had not sent, or had no answer
// for, stays queued for the next start.
var errClosing = errors.New("the node is closing; the rest of the batch stays queued")

// split delivers the halves of a batch the peer refused as a whole. Once a
// half came back refused throughout, alone included, with nothing
// answered, the peer may be refusing everything, and descending into the
// other half would cost a request per envelope: it is probed with its
// first envelope alone, and the rest of it is sent only if the peer
// answers that one; otherwise the rest stays queued for the next attempt.
// Once Close began no more parts are sent.
func (w *worker) split(batch []store.Queued, t *trip) attempt {
	half := len(batch) / 2
	a := w.part(batch[:half], t)
	rest := batch[half:]
	if a.refusedAll() {
		a = a.join(w.part(rest[:1], t))
		if a.refusedAll() {
			return a
		}
		rest = rest[1:]
	}
	if a.err != nil && !a.deferred && !a.garbled {
		return a // the peer is failing: the second half waits with the rest
	}
	// An answer broken for the first half alone is the peer answering:
	// stopped there, a split that meets such an envelope alone before the
	// one the peer refuses would stop there on every attempt, and the
	// batch, the oldest queued, would hold up the whole queue for ever.
	return a.join(w.part(rest, t))
}

// part delivers part of a refused batch, unless the manager is closing:
// splitting goes on while the peer is answered, and Close waits for it.
func (w *worker) part(batch []store.Queued, t *trip) attempt {
	if len(batch) > 0 && w.m.ctx.Err() != nil {
		return attempt{err: errClosing}
	}
	return w.deliver(batch, 0, t)
}

// refusedAll tells whether the peer refused every envelope of the attempt
// it was sent, down to envelopes alone, answered none, and was blamed for
// none: it may be refusing everything.
func (a attempt) refusedAll() bool {
	return a.err == nil && a.answered == 0 && a.refused != nil && !a.blamed
}

// answeredNone tells whether the peer, up and answering, took none of the
// envelopes of the attempt and was blamed for none: it refused every one
// it was sent, or garbled every answer.
func (a attempt) answeredNone() bool {
	return a.refusedAll() || a.garbled && a.answered == 0 && !a.blamed
}

// join adds the attempt at the second half of a batch to the first's.
func (a attempt) join(b attempt) attempt {
	a.answered += b.answered
	a.held += b.held
	a.dead = append(a.dead, b.dead...)
	a.oversized = a.oversized || b.oversized
	a.blamed = a.blamed || b.blamed
	if a.refused == nil {
		a.refused = b.refused
	}
	if a.err == nil || b.err != nil && !b.deferred {
		a.err, a.deferred, a.garbled = b.err, b.deferred, b.garbled
	}
	return a
}

// refusal reads err as the peer's refusal of what was sent, when the
// refusal can be about the batch's content. A peer that refuses this node
// (401, 403) or has no such route (404, 405) would refuse every part of
// the batch alike, and splitting it would only send it again in pieces.
func (w *worker) refusal(err error) (status int, message string, ok bool) {
	if err == nil || w.m.cfg.Refusal == nil {
		return 0, "", false
	}
	status, message, ok = w.m.cfg.Refusal(err)
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed:
		return 0, "", false
	}
	return status, message, ok
}

// refusedAlone is the attempt at q, which the peer has just refused alone
// with status on trip t; before is w.answers as it stood when q was sent.
// The refusal blames q, which is buried, if the peer answered other
// envelopes before it refused q alone: since the batch was taken (it was
// taking this node's envelopes moments before), or since it refused q
// alone the last time, or since it answered none of a batch q was in (see
// passOver). Otherwise q becomes a suspect and stays queued. A peer that
// refuses everything, for good (a certificate chain it will not take,
// say) or for a moment (a rolling upgrade, a proxy in front of it
// answering 400), refuses each envelope alone too, and answers to others
// that come after its refusals say nothing of how it would take q now.
func (w *worker) refusedAlone(q store.Queued, status int, message string, err error, before uint64, t *trip) attempt {
	a := attempt{refused: err, oversized: status == http.StatusRequestEntityTooLarge}
	w.suspectMu.Lock()
	defer w.suspectMu.Unlock()
	if s, ok := w.suspects[q.EnvelopeID]; before > t.since || ok && before > s.answers || w.struckBefore(q.EnvelopeID, before, t) {
		// Forgotten before it is buried: should MarkDead fail, q is
		// queued still and must be refused again, never buried on older
		// evidence.
		delete(w.suspects, q.EnvelopeID)
		a.dead = []store.DeadLetter{{EnvelopeID: q.EnvelopeID, Status: status, Reason: scrub(message)}}
		a.blamed = true
		return a
	}
	if w.suspects == nil {
		w.suspects = make(map[string]suspect)
	}
	if _, ok := w.suspects[q.EnvelopeID]; ok || len(w.suspects) < w.m.cfg.BatchSize {
		w.suspects[q.EnvelopeID] = newSuspect(q, w.answers.Load())
	}
	return a
}

// trip is one batch's way to the peer: its parts, down to envelopes
// alone, and the suspects sent after it (see send).
type trip struct {
	// since is w.answers as it stood when the batch was taken.
	since uint64
	// size is the batch size the batch was taken at: a 413 or a timeout
	// halves that, not the size another batch in flight may have lowered
	// since.
	size int
	// convicts says the trip buried an envelope on the evidence against
	// those passed over (see struckBefore), and spent it.
	convicts bool
}

// struckBefore tells whether the envelope id, sent again on trip t, was in
// a batch the peer answered none of (see passOver), and the peer has
// answered others since; before is w.answers as it stood when id was sent
// again. The first trip it tells so spends the evidence: it goes on
// burying those of them it is refused, but the batches in flight beside
// it, refused meanwhile with nothing answered since, bury none, so that a
// peer that refuses everything again has a batch buried, not one per
// batch in flight. Called with suspectMu held.
func (w *worker) struckBefore(id string, before uint64, t *trip) bool {
	switch {
	case id > w.struck:
		return false
	case t.convicts:
		return true
	case before > w.struckAt:
		t.convicts = true
		w.struckAt = w.answers.Load()
		return true
	}
	return false
}

// suspect is an envelope the peer refused alone, with w.answers as it
// stood then.
type suspect struct {
	q       store.Queued
	answers uint64
}

// newSuspect keeps q as a suspect with answers. q's bytes are slices of
// the one buffer Store.Pending read its whole batch into: kept as they
// are, a suspect would hold the batch in memory for as long as it stays
// one (up to a batch of suspects per peer, each holding its batch), so
// they are copied into a buffer of their own.
func newSuspect(q store.Queued, answers uint64) suspect {
	buf := make([]byte, 0, len(q.SigningDigest)+len(q.Envelope))
	buf = append(buf, q.SigningDigest...)
	buf = append(buf, q.Envelope...)
	own := store.Queued{EnvelopeID: q.EnvelopeID, Envelope: buf[len(q.SigningDigest):], After: q.After}
	if q.SigningDigest != nil {
		own.SigningDigest = buf[:len(q.SigningDigest):len(q.SigningDigest)]
	}
	return suspect{q: own, answers: answers}
}

// heard counts the envelopes the peer answered, and clears those of them
// that were suspects: the peer took them after all.
func (w *worker) heard(outcomes []Outcome) {
	w.answers.Add(uint64(len(outcomes)))
	w.suspectMu.Lock()
	defer w.suspectMu.Unlock()
	for _, o := range outcomes {
		delete(w.suspects, o.EnvelopeID)
	}
}

// suspectsToTry returns the suspects not in flight, oldest first, to go
// alone after a batch of others. They are kept out of batches (pending
// skips them), so that a queue whose oldest envelopes are all suspects
// still sends the others, whose answers can then convict the suspects.
// A referral update whose update before it is in flight, deferred, or a
// suspect itself waits for that one's answer (see inOrder): suspects go
// in the order of their ids, which is not their case's.
func (w *worker) suspectsToTry(inflight map[string]bool) []store.Queued {
	w.suspectMu.Lock()
	defer w.suspectMu.Unlock()
	var out []store.Queued
	for id, s := range w.suspects {
		if inflight[id] {
			continue
		}
		if after := s.q.After; after != "" {
			if _, suspect := w.suspects[after]; suspect || inflight[after] || w.deferred(after) {
				continue
			}
		}
		out = append(out, s.q)
	}
	slices.SortFunc(out, func(a, b store.Queued) int { return strings.Compare(a.EnvelopeID, b.EnvelopeID) })
	return out
}

// suspected splits batch into the envelopes the peer has refused alone
// before (see refusedAlone), to be sent alone again, and the others.
func (w *worker) suspected(batch []store.Queued) (others, suspects []store.Queued) {
	w.suspectMu.Lock()
	defer w.suspectMu.Unlock()
	if len(w.suspects) == 0 {
		return batch, nil
	}
	for _, q := range batch {
		if _, ok := w.suspects[q.EnvelopeID]; ok {
			suspects = append(suspects, q)
		} else {
			others = append(others, q)
		}
	}
	return others, suspects
}

// bury moves what the attempt found to bury to the dead letters, in one
// commit: envelopes that cannot be sent, those the peer refused alone
// though it answered others just before (see refusedAlone), and those it
// kept deferring too long (see overdue).
func (w *worker) bury(a attempt) error {
	dead := a.dead
	if len(dead) == 0 {
		return nil
	}
	if err := w.m.outbox.MarkDead(context.WithoutCancel(w.m.ctx), w.peer, dead); err != nil {
		return fmt.Errorf("move %d envelopes refused by %s to the dead letters: %w", len(dead), w.peer, err)
	}
	ids := make([]string, len(dead))
	for i, d := range dead {
		ids[i] = d.EnvelopeID
		w.m.log.Warn("delivery gave up on an envelope; it is a dead letter until requeued or discarded", "peer", w.peer, "envelope", d.EnvelopeID, "status", d.Status, "reason", d.Reason)
	}
	w.release(ids)
	return nil
}

// maxReason bounds the refusal text kept with a dead letter.
const maxReason = 300

// scrub keeps a refusal's text fit to store and show beside the record: the
// peer's error text names what was wrong with the request, but a decode
// error may quote a number from it. Runs of 11 or more digits, counted
// across single spaces, dots and hyphens between them (the shape of phone
// and resident ID numbers, written as people write them), become "#",
// except IPv4 addresses, a transport error's most useful part; anything
// but printable ASCII becomes "?", and the text is cut at maxReason bytes.
func scrub(s string) string {
	out := mask(s)
	if len(out) > maxReason {
		out = out[:maxReason-3] + "..."
	}
	return out
}

// mask is scrub without the cut, for errors that are shown and logged but
// not stored.
func mask(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if end := ipv4(s, i); end > i {
			b.WriteString(s[i:end])
			i = end
			continue
		}
		if end, digits := numberRun(s, i); digits > 0 {
			if digits >= 11 {
				b.WriteByte('#')
			} else {
				b.WriteString(s[i:end])
			}
			i = end
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

// ipv4 returns where the dotted-quad IPv4 address at s[i:] ends (four
// groups of 1 to 3 digits joined by dots, no digit or dot after), or i.
func ipv4(s string, i int) int {
	end := i
	for group := range 4 {
		if group > 0 {
			if end >= len(s) || s[end] != '.' {
				return i
			}
			end++
		}
		n := 0
		for end < len(s) && s[end] >= '0' && s[end] <= '9' && n < 3 {
			end++
			n++
		}
		if n == 0 {
			return i
		}
	}
	if end < len(s) && (s[end] == '.' || s[end] >= '0' && s[end] <= '9') {
		return i
	}
	return end
}

// numberRun reads the digits at s[i:], with single separators between
// them, and returns where the run ends and how many digits it holds (0 if
// s[i] is not a digit).
func numberRun(s string, i int) (end, digits int) {
	isDigit := func(j int) bool { return j < len(s) && s[j] >= '0' && s[j] <= '9' }
	end = i
	for isDigit(end) {
		digits++
		end++
		if end+1 < len(s) && strings.IndexByte(" .-", s[end]) >= 0 && isDigit(end+1) {
			end++
		}
	}
	return end, digits
}
