package store

import (
	"encoding/base64"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
)

// SentWorker is what an origin keeps of a transfer's worker to match the
// employment confirmations that answer the transfer, with the record's
// status but never shown with it (Status leaves it out): not the worker's
// ID number, but which of its positions the transfer showed, masked or not
// as the export obligations left it, and a keyed digest of the characters
// there (WorkerDigest), and again over the positions the usual mask keeps
// when the transfer showed more; and the first day of the placement's
// contract. A confirmation's number is matched by computing the same
// digest over its characters at the same positions, so the node keeps no
// ID-number characters once the transfer's envelope is delivered, and no
// more of the number, even digested, than it sent.
type SentWorker struct {
	// Shown has one character per character of the ID number as the
	// transfer carried it: '#' where it showed one, '*' where it was
	// masked; "" when it was dropped. Its length is the number's.
	Shown string `json:"shown,omitempty"`
	// Digest is WorkerDigest of the characters at the positions Shown
	// marks '#', the check letter x upper-cased; nil when none is.
	Digest []byte `json:"digest,omitempty"`
	// MaskShown and MaskDigest are Shown and Digest again over the
	// positions the federation's mask of ID numbers keeps (the first 3
	// and last 4), kept when the transfer showed those and more (in
	// clear, typically): a confirmation that arrives masked that way
	// shows none of the other positions Digest covers, and is compared
	// over these instead. Empty otherwise.
	MaskShown  string `json:"mask_shown,omitempty"`
	MaskDigest []byte `json:"mask_digest,omitempty"`
	// ContractStart is placement.contract_start (YYYY-MM-DD).
	ContractStart string `json:"contract_start"`
}

// appendJSON appends w's JSON encoding, as json.Marshal writes it: Enqueue
// encodes one into the status of every transfer it accepts, before the
// group commit.
func (w *SentWorker) appendJSON(b []byte) []byte {
	b = append(b, '{')
	if w.Shown != "" {
		b = append(contracts.AppendJSONString(append(b, `"shown":`...), w.Shown), ',')
	}
	if len(w.Digest) > 0 {
		b = append(base64.StdEncoding.AppendEncode(append(b, `"digest":"`...), w.Digest), `",`...)
	}
	if w.MaskShown != "" {
		b = append(contracts.AppendJSONString(append(b, `"mask_shown":`...), w.MaskShown), ',')
	}
	if len(w.MaskDigest) > 0 {
		b = append(base64.StdEncoding.AppendEncode(append(b, `"mask_digest":"`...), w.MaskDigest), `",`...)
	}
	return append(contracts.AppendJSONString(append(b, `"contract_start":`...), w.ContractStart), '}')
}

// size is the room appendJSON needs for w as a member of a status, unless
// its strings need escaping.
func (w *SentWorker) size() int {
	return len(`,"worker":{"shown":"","digest":"","mask_shown":"","mask_digest":"","contract_start":""}`) +
		len(w.Shown) + base64.StdEncoding.EncodedLen(len(w.Digest)) +
		len(w.MaskShown) + base64.StdEncoding.EncodedLen(len(w.MaskDigest)) + len(w.ContractStart)
}

// storedStatus is a record's value in bucketRecords: its Status and, for a
// transfer, what the node keeps of its worker, which Status leaves out so
// that no caller is shown it.
type storedStatus struct {
	Status
	Worker *SentWorker `json:"worker,omitempty"`
}

// appendJSON appends r's JSON encoding, as json.Marshal writes it: the
// status's, the worker a last member.
func (r *storedStatus) appendJSON(b []byte) ([]byte, error) {
	b, err := r.Status.appendJSON(b)
	if err != nil || r.Worker == nil {
		return b, err
	}
	b = append(b[:len(b)-1], `,"worker":`...) // in the place of the status's '}'
	return append(r.Worker.appendJSON(b), '}'), nil
}

// SentWorker returns what the node keeps of the worker of the transfer
// with reference ref (Outgoing.Worker); ErrNotFound when it keeps nothing:
// the reference is not known, or a release that kept nothing accepted it.
func (s *Store) SentWorker(ref string) (SentWorker, error) {
	var w SentWorker
	err := s.view(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketRefs).Get([]byte(ref))
		if id == nil {
			return fmt.Errorf("reference %q: %w", ref, ErrNotFound)
		}
		var r struct {
			Worker *SentWorker `json:"worker"`
		}
		if err := getJSON(tx.Bucket(bucketRecords), string(id), &r); err != nil {
			return fmt.Errorf("record of %q: %w", ref, err)
		}
		if r.Worker == nil {
			return fmt.Errorf("worker of %s: %w", id, ErrNotFound)
		}
		w = *r.Worker
		return nil
	})
	return w, err
}

// dropWorker rewrites the status of record id without what it keeps of
// its worker, if it keeps any: a discarded transfer is never delivered,
// and no confirmation is shown against it.
func dropWorker(tx *bolt.Tx, id string) error {
	recs := tx.Bucket(bucketRecords)
	var r storedStatus
	if getJSON(recs, id, &r) != nil {
		// A status that does not decode keeps what it holds: failing here,
		// amid the discard's writes, would leave part of them done.
		return nil
	}
	if r.Worker == nil {
		return nil
	}
	r.Worker = nil
	return putStatus(recs, id, &r)
}
