package exchange

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
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
// positions must give; and, for a transfer that showed more than the
// usual mask keeps, the same again over the positions that mask keeps.
const (
	// WorkerMatchFull: every position shown on both sides, and equal.
	WorkerMatchFull = "full"
	// WorkerMatchPartial: the positions compared are equal; the others
	// were not compared. Those compared are the ones the transfer showed
	// (typically a transfer sent with its ID number masked to the first 3
	// and last 4 characters), or, when the confirmation masks some of
	// those (typically a transfer sent in clear and a confirmation
	// masked), the first 3 and last 4.
	WorkerMatchPartial = "partial"
	// WorkerMatchUnchecked: nothing could be compared: the transfer
	// dropped or wholly masked the number, the confirmation dropped it or
	// masked a position the transfer showed and one the usual mask keeps,
	// or the transfer was accepted by a release that kept nothing of it.
	// The confirmation is taken, and says so.
	WorkerMatchUnchecked = "unchecked"
	// WorkerMatchMismatch: the lengths differ, or the characters at the
	// positions compared do not give the digest kept of them; the
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

// idNumberMask names the mask policy puts on a worker's ID number, in a
// transfer and in a confirmation, where the agreement does not clear it
// for the record's purpose (the federation bundle's mask_patterns): a
// confirmation of a transfer sent in clear mostly arrives masked so.
const idNumberMask = "id_number"

// digestFunc appends to dst the node's keyed digest of chars
// (store.Store.WorkerDigest).
type digestFunc func(dst, chars []byte) []byte

// markWorker sets in w what the origin keeps of the ID number a transfer
// carried (sent, masked or "" as it crossed): the positions it showed,
// and the digest of the characters there, X upper-cased; and, when it
// showed every position the usual mask keeps and more, those positions
// and the digest of the characters there, so that a confirmation masked
// so still compares. Neither digest covers a position the transfer did
// not show. The digests are made in room.
func markWorker(w *store.SentWorker, sent string, digest digestFunc, room *workerRoom) {
	if sent == "" {
		return
	}
	var buf [idNumberLen]byte // marks of a longer number grow on the heap
	marks := buf[:0]
	for _, r := range sent {
		if r == maskRune {
			marks = append(marks, positionMasked)
		} else {
			marks = append(marks, positionShown)
		}
	}
	w.Shown = marksString(marks)
	w.Digest = digestAt(sent, w.Shown, digest, room.sums[:0:digestSize], room.chars[:0])
	if kept := maskPositions(len(w.Shown)); narrower(kept, w.Shown) {
		w.MaskShown = kept
		w.MaskDigest = digestAt(sent, kept, digest, room.sums[digestSize:digestSize:2*digestSize], room.chars[:0])
	}
}

// idNumberLen is the length of an ID number (GB 11643), which contracts
// validate a transfer's to have.
const idNumberLen = 18

// digestSize is the size of the digests kept (HMAC-SHA256).
const digestSize = 32

// workerRoom is room for what markWorker makes of a transfer's worker
// besides its marks: the two digests, and the characters they are made of
// while they are made (cleared then).
type workerRoom struct {
	sums  [2 * digestSize]byte
	chars [idNumberLen]byte // a longer number's grow on the heap
}

// keptWorker is what export keeps of a transfer's worker and the room its
// digests take, in one allocation: export makes one for every transfer
// it accepts.
type keptWorker struct {
	w    store.SentWorker
	room workerRoom
}

// The marks most transfers' numbers have, made once: shown in clear, and
// masked the usual way.
var (
	allShown       = strings.Repeat(string(rune(positionShown)), idNumberLen)
	usualMaskShown = policyMaskPositions(idNumberLen)
)

// marksString is marks as a string, one of those made once when it is.
func marksString(marks []byte) string {
	switch {
	case string(marks) == allShown:
		return allShown
	case string(marks) == usualMaskShown:
		return usualMaskShown
	}
	return string(marks)
}

// maskPositions marks the positions of an ID number of n characters the
// usual mask (idNumberMask) keeps, as store.SentWorker.Shown does.
func maskPositions(n int) string {
	if n == idNumberLen {
		return usualMaskShown
	}
	return policyMaskPositions(n)
}

// policyMaskPositions asks policy which positions of n its mask keeps.
func policyMaskPositions(n int) string {
	kept, err := policy.Mask(idNumberMask, strings.Repeat(string(rune(positionShown)), n))
	if err != nil {
		return "" // a pattern policy does not know keeps nothing
	}
	return kept
}

// narrower reports whether positions kept show some position, and only
// positions shown shows, and fewer.
func narrower(kept, shown string) bool {
	if len(kept) != len(shown) || kept == shown {
		return false
	}
	some := false
	for i := range len(kept) {
		if kept[i] != positionShown {
			continue
		}
		if shown[i] != positionShown {
			return false
		}
		some = true
	}
	return some
}

// digestAt appends to dst the digest of the characters of number at the
// positions shown marks shown, X upper-cased, gathered in scratch, which
// it clears after; nil when it marks none.
func digestAt(number, shown string, digest digestFunc, dst, scratch []byte) []byte {
	chars, i := scratch[:0], 0
	for _, r := range number {
		if shown[i] == positionShown {
			chars = utf8.AppendRune(chars, upperX(r))
		}
		i++
	}
	if len(chars) == 0 {
		return nil
	}
	sum := digest(dst, chars)
	clear(chars)
	clear(scratch[:cap(scratch)]) // what chars held before it grew, if it did
	return sum
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
	match := compareAt(w.Shown, w.Digest, got, digest)
	if match == WorkerMatchUnchecked && len(w.MaskDigest) > 0 && len(w.MaskShown) == len(w.Shown) {
		// The confirmation masks a position the transfer showed: it may
		// still show those the usual mask keeps.
		match = compareAt(w.MaskShown, w.MaskDigest, got, digest)
	}
	return match
}

// compareAt compares the characters of got, as long as shown, at the
// positions shown marks shown, with sum, their digest: unchecked when got
// masks one of them.
func compareAt(shown string, sum []byte, got string, digest digestFunc) string {
	full, chars, i := true, make([]byte, 0, len(got)), 0
	for _, r := range got {
		s := shown[i] == positionShown
		i++
		switch {
		case s && r == maskRune:
			return WorkerMatchUnchecked
		case s:
			chars = utf8.AppendRune(chars, upperX(r))
		default:
			full = false
		}
	}
	switch {
	case !hmac.Equal(digest(nil, chars), sum):
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
	k := &keptWorker{w: store.SentWorker{ContractStart: t.Placement.ContractStart.String()}}
	markWorker(&k.w, id, digest, &k.room)
	return &k.w, nil
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

// keptConfirmation is confirmation c, decoded from payload, as the import
// obligations left it (record, payload edited): what the transfer lists
// of it, and what its worker is compared by, is what this province may
// use of it, as the inbox item holds it, never a field they drop or mask
// (an origin that did not apply its export obligations sent them).
func keptConfirmation(record, payload []byte, c *contracts.Confirmation) (*contracts.Confirmation, error) {
	if bytes.Equal(record, payload) {
		return c, nil
	}
	return decodeConfirmation(record)
}

// decodeConfirmation reads a confirmation as the import obligations left
// it. It is not validated: they may drop a field validation requires.
func decodeConfirmation(record []byte) (*contracts.Confirmation, error) {
	c := new(contracts.Confirmation)
	if err := json.Unmarshal(record, c); err != nil {
		return nil, fmt.Errorf("decode the confirmation as imported: %w", err)
	}
	return c, nil
}

// errRecordPruned says that retention dropped the record of an inbox item.
var errRecordPruned = errors.New("retention pruned the inbox item's record")

// storedConfirmation is the confirmation the inbox holds from province
// from under envelope id, as the import obligations left it when it was
// stored.
func (x *Exchange) storedConfirmation(from, id string) (*contracts.Confirmation, error) {
	it, err := x.d.Store.InboxItemFrom(from, id)
	if err != nil {
		return nil, err
	}
	if !it.PrunedAt.IsZero() {
		return nil, errRecordPruned
	}
	return decodeConfirmation(it.Record)
}

// confirmationLink is the answer confirmation c (envelope id, received
// at) gives to the transfer it names, checked against what this node kept
// of that transfer's worker as checkWorker does, in the transaction that
// lists it on the transfer: the same commit stores the confirmation in the
// inbox with the outcome (store.Incoming.WorkerMatch), so that the inbox
// item and the webhook's push of it say what the transfer lists, a
// refusal included, even if the process dies right after.
func (x *Exchange) confirmationLink(id string, c *contracts.Confirmation, at time.Time) *store.AnswerLink {
	return &store.AnswerLink{
		Ref: x.d.Province + "/" + string(contracts.RecordTransfer) + "/" + c.TransferID,
		Make: func(w *store.SentWorker) (store.Answer, string) {
			s := Confirmed{Employed: c.Employed, MonthsEmployed: c.MonthsEmployed, ConfirmedOn: c.ConfirmedOn.String()}
			if c.Since != nil {
				s.Since = c.Since.String()
			}
			refused := checkWorker(c, w, x.d.Store.WorkerDigest, &s)
			data, _ := json.Marshal(s)
			a := store.Answer{EnvelopeID: id, Type: string(contracts.RecordConfirmation), ReceivedAt: at, Summary: data, Refused: refused}
			return a, s.WorkerMatch
		},
	}
}

// confirmationAnswered says what became of confirmation im's link to its
// transfer: made in the commit that stored it (im.answered, im.answerErr),
// or, for one stored before (dup), made now, as an older release made it
// after that commit: a crash in between left it undone until the
// confirmation's origin sent it again, as it does a confirmation answered
// deferred for a link not made (unlinked). Linking again what is listed
// changes nothing.
//
// A confirmation stored before is linked as its inbox item holds it, as
// the import obligations left it then, not as it arrived (c): one whose
// item retention pruned is not linked, since what they left of it is no
// longer known.
func (x *Exchange) confirmationAnswered(ctx context.Context, im imported, c *contracts.Confirmation, dup bool) error {
	a, err := im.answered, im.answerErr
	if dup {
		var kept *contracts.Confirmation
		kept, err = x.storedConfirmation(im.env.Origin, im.env.ID)
		if errors.Is(err, errRecordPruned) {
			x.d.Log.Warn("a confirmation sent again after retention pruned its inbox item is not linked again: its transfer lists it only if it did before",
				"envelope", im.env.ID, "transfer", c.TransferID)
			return nil
		}
		if err == nil {
			var listed store.Answer
			if listed, err = x.d.Store.LinkAnswer(ctx, im.env.Origin, x.confirmationLink(im.env.ID, kept, im.in.ReceivedAt)); err == nil {
				a = &listed
			}
		}
	}
	if err == nil && a != nil && a.Refused == ReasonWorkerMismatch {
		// Ids only: the numbers compared are personal data.
		x.d.Log.Warn("a confirmation names a transfer sent from here but another worker's ID number: listed on the transfer as refused (worker_mismatch), not as confirming it; it is in the inbox, marked worker_match mismatch",
			"envelope", im.env.ID, "transfer", c.TransferID)
	}
	return x.unlinked(im, err)
}
