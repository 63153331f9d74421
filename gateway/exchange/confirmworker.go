package exchange

import (
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
// (Confirmed.WorkerMatch). Masks keep a number's length and hide
// characters one for one, so the two are compared position by position,
// leaving out the positions masked on either side.
const (
	// WorkerMatchFull: every position compared, and equal.
	WorkerMatchFull = "full"
	// WorkerMatchPartial: the positions neither side masked are equal; the
	// others were not compared (typically a transfer sent with its ID
	// number masked to the first 3 and last 4 characters).
	WorkerMatchPartial = "partial"
	// WorkerMatchUnchecked: nothing was left to compare: a side dropped or
	// wholly masked the number, or the transfer was accepted by a release
	// that kept nothing of it. The confirmation is taken, and says so.
	WorkerMatchUnchecked = "unchecked"
	// WorkerMatchMismatch: a position both sides show differs, or the
	// lengths differ; the confirmation is refused (ReasonWorkerMismatch).
	WorkerMatchMismatch = "mismatch"
)

// maskRune is the character policy masks put for each one they hide.
const maskRune = '*'

// compareIDNumbers compares the ID number a transfer carried (sent) with
// the one a confirmation of it carries (got), either masked, and returns
// one of the WorkerMatch outcomes. A check letter x matches X.
func compareIDNumbers(sent, got string) string {
	if sent == "" || got == "" {
		return WorkerMatchUnchecked
	}
	if utf8.RuneCountInString(sent) != utf8.RuneCountInString(got) {
		// Masks keep the length: these are two numbers.
		return WorkerMatchMismatch
	}
	compared, masked := 0, 0
	rest := got
	for _, a := range sent {
		b, n := utf8.DecodeRuneInString(rest)
		rest = rest[n:]
		if a == maskRune || b == maskRune {
			masked++
			continue
		}
		if upperX(a) != upperX(b) {
			return WorkerMatchMismatch
		}
		compared++
	}
	switch {
	case compared == 0:
		return WorkerMatchUnchecked
	case masked > 0:
		return WorkerMatchPartial
	}
	return WorkerMatchFull
}

func upperX(r rune) rune {
	if r == 'x' {
		return 'X'
	}
	return r
}

// sentWorker is what the origin keeps of a transfer's worker to match the
// confirmations that answer it: the ID number as the export obligations
// (dec) leave it in the payload, and the contract's first day.
func sentWorker(t *contracts.Transfer, dec *policy.Decision) (*store.SentWorker, error) {
	id, err := dec.Obliged("worker.id_number", t.Worker.IDNumber)
	if err != nil {
		return nil, err
	}
	return &store.SentWorker{IDNumber: id, ContractStart: t.Placement.ContractStart.String()}, nil
}

// checkWorker compares confirmation c with what this node kept of the
// worker of the transfer it names (w; nil when it kept nothing), sets the
// outcome on its summary s, and returns the reason to refuse it, "" to
// take it. A since before the contract's first day is flagged, not
// refused: a worker may start before the day the transfer planned, but a
// since earlier than that also counts months of employment the transfer
// did not lead to, which a subsidy clerk should look at.
func checkWorker(c *contracts.Confirmation, w *store.SentWorker, s *Confirmed) (refused string) {
	if w == nil {
		s.WorkerMatch = WorkerMatchUnchecked
		return ""
	}
	s.WorkerMatch = compareIDNumbers(w.IDNumber, c.WorkerIDNumber)
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
		return checkWorker(c, nil, s), true
	case err != nil:
		x.d.Log.Error("answer not linked: the worker of the transfer it confirms could not be read; it is in the inbox", "envelope", id, "transfer", c.TransferID, "err", err)
		return "", false
	}
	return checkWorker(c, &w, s), true
}
