package exchange

import (
	"crypto/hmac"
	"errors"
	"unicode/utf8"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
)

// A confirmation carries the worker's ID number so that the origin can
// match it without trusting the transfer id alone: a subsidy is paid on
// it, and a confirmation naming the right transfer but another worker (a
// clerical error at the destination, or worse) must not release it.

// ReasonWorkerMismatch refuses, on the transfer it names, a confirmation
// whose worker ID number is not the one the transfer carried
// (store.Answer.Refused): it stays in the inbox, but confirms nothing.
const ReasonWorkerMismatch = "worker_mismatch"

// How a confirmation's worker ID number compared with its transfer's
// (Confirmed.WorkerMatch). The origin keeps no ID number: only which
// positions the transfer showed (masks keep a number's length and hide
// characters one for one) and a keyed digest of the characters there
// (store.SentWorker), which the confirmation's characters at the same
// positions must give.
const (
	// WorkerMatchFull: every position shown on both sides, and equal.
	WorkerMatchFull = "full"
	// WorkerMatchPartial: the positions the transfer showed are equal; the
	// others were not compared (typically a transfer sent with its ID
	// number masked to the first 3 and last 4 characters).
	WorkerMatchPartial = "partial"
	// WorkerMatchUnchecked: nothing could be compared: the transfer
	// dropped or wholly masked the number, the confirmation dropped it or
	// masked a position the transfer showed (its digest covers them all),
	// or the transfer was accepted by a release that kept nothing of it.
	// The confirmation is taken, and says so.
	WorkerMatchUnchecked = "unchecked"
	// WorkerMatchMismatch: the lengths differ, or the characters at the
	// positions the transfer showed do not give its digest; the
	// confirmation is refused (ReasonWorkerMismatch).
	WorkerMatchMismatch = "mismatch"
)

// maskRune is the character policy masks put for each one they hide.
const maskRune = '*'

// How store.SentWorker.Shown marks a position of the number as sent.
const (
	positionShown  = '#'
	positionMasked = '*'
)

// digestFunc appends to dst the node's keyed digest of chars
// (store.Store.WorkerDigest).
type digestFunc func(dst, chars []byte) []byte

// markWorker is what the origin keeps of the ID number a transfer carried
// (sent, masked or "" as it crossed): the positions it showed, and the
// digest of the characters there, X upper-cased.
func markWorker(sent string, digest digestFunc) (shown string, sum []byte) {
	if sent == "" {
		return "", nil
	}
	marks, chars := make([]byte, 0, len(sent)), make([]byte, 0, len(sent))
	for _, r := range sent {
		if r == maskRune {
			marks = append(marks, positionMasked)
			continue
		}
		marks = append(marks, positionShown)
		chars = utf8.AppendRune(chars, upperX(r))
	}
	if len(chars) > 0 {
		sum = digest(nil, chars)
	}
	return string(marks), sum
}

// compareIDNumbers compares the ID number a confirmation carries (got,
// masked or not) with what the origin kept of its transfer's (w), and
// returns one of the WorkerMatch outcomes. A check letter x matches X.
func compareIDNumbers(w *store.SentWorker, got string, digest digestFunc) string {
	if len(w.Digest) == 0 || got == "" {
		return WorkerMatchUnchecked
	}
	if utf8.RuneCountInString(got) != len(w.Shown) {
		// Masks keep the length: these are two numbers.
		return WorkerMatchMismatch
	}
	full, chars, i := true, make([]byte, 0, len(got)), 0
	for _, r := range got {
		shown := w.Shown[i] == positionShown
		i++
		switch {
		case shown && r == maskRune:
			return WorkerMatchUnchecked
		case shown:
			chars = utf8.AppendRune(chars, upperX(r))
		default:
			full = false
		}
		if r == maskRune {
			full = false
		}
	}
	switch {
	case !hmac.Equal(digest(nil, chars), w.Digest):
		return WorkerMatchMismatch
	case full:
		return WorkerMatchFull
	}
	return WorkerMatchPartial
}

func upperX(r rune) rune {
	if r == 'x' {
		return 'X'
	}
	return r
}

// sentWorker is what the origin keeps of a transfer's worker to match the
// confirmations that answer it: the ID number marked as the export
// obligations (dec) leave it in the payload (markWorker), never the
// number, and the contract's first day.
func sentWorker(t *contracts.Transfer, dec *policy.Decision, digest digestFunc) (*store.SentWorker, error) {
	id, err := dec.Obliged("worker.id_number", t.Worker.IDNumber)
	if err != nil {
		return nil, err
	}
	w := &store.SentWorker{ContractStart: t.Placement.ContractStart.String()}
	w.Shown, w.Digest = markWorker(id, digest)
	return w, nil
}

// checkWorker compares confirmation c with what this node kept of the
// worker of the transfer it names (w; nil when it kept nothing), sets the
// outcome on its summary s, and returns the reason to refuse it, "" to
// take it. A since before the contract's first day is flagged, not
// refused: a worker may start before the day the transfer planned, but a
// since earlier than that also counts months of employment the transfer
// did not lead to, which a subsidy clerk should look at.
func checkWorker(c *contracts.Confirmation, w *store.SentWorker, digest digestFunc, s *Confirmed) (refused string) {
	if w == nil {
		s.WorkerMatch = WorkerMatchUnchecked
		return ""
	}
	s.WorkerMatch = compareIDNumbers(w, c.WorkerIDNumber, digest)
	if c.Since != nil && w.ContractStart != "" && c.Since.String() < w.ContractStart {
		// Days as YYYY-MM-DD order as strings.
		s.SinceBeforeContractStart = true
	}
	if s.WorkerMatch == WorkerMatchMismatch {
		return ReasonWorkerMismatch
	}
	return ""
}

// checkConfirmation checks a confirmation (envelope id) against what this
// node kept of the worker of the transfer it answers (by reference ref),
// as checkWorker does, once per confirmation, as it is linked. ok is false
// when that could not be read: the confirmation is then not linked, rather
// than linked unchecked for good, and stays in the inbox.
func (x *Exchange) checkConfirmation(id string, c *contracts.Confirmation, ref string, s *Confirmed) (refused string, ok bool) {
	w, err := x.d.Store.SentWorker(ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Not a transfer sent from here (AddAnswer says so), or one a
		// release that kept nothing of its worker accepted.
		return checkWorker(c, nil, nil, s), true
	case err != nil:
		x.d.Log.Error("answer not linked: the worker of the transfer it confirms could not be read; it is in the inbox", "envelope", id, "transfer", c.TransferID, "err", err)
		return "", false
	}
	return checkWorker(c, &w, x.d.Store.WorkerDigest, s), true
}
