package exchange

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
)

// ReasonEnvelopeIDReused rejects an envelope whose id its origin gave
// before to an envelope with another payload or header, stored here (as
// far as its inbox item tells: see sameAsStored), or given earlier
// in the same request. An envelope id names one envelope: only the same
// envelope sent again, or sealed again, is a duplicate. Final: the origin
// must send the record again under a new id.
const ReasonEnvelopeIDReused = "envelope_id_reused"

// errIDReused refuses an envelope whose id names another envelope stored
// here (ReasonEnvelopeIDReused).
var errIDReused = errors.New("the envelope id names another envelope stored here")

// errStoredReceipt defers an envelope whose id is stored here with a
// receipt this node cannot read: whether it is the envelope stored is not
// known, and it is answered neither "duplicate" nor refused for good.
var errStoredReceipt = errors.New("the receipt stored with the envelope id is unreadable")

// errStoredEnvelope defers, as errStoredReceipt does, an envelope whose id
// is stored here with an envelope, or a header digest, this node cannot
// read.
var errStoredEnvelope = errors.New("the envelope stored with the envelope id is unreadable")

// sameAsStored tells whether env, whose id from its origin is stored here
// already and whose signing digest is digest, is the envelope stored: the
// receipt stored with its first delivery (first.Receipt) names the same
// payload digest, and env differs from the envelope stored in nothing but
// what sealing it again changes, as the header digest its item keeps
// tells (sameHeader), or for an item stored by a release before that, the
// envelope it keeps (sealedAgain). The receipt and the header digest are
// what inbox retention keeps, and the receipt is what a "duplicate" answer
// stands for: signing one for another payload would acknowledge what was
// never stored, and the record it carries was never checked; one bound to
// another header (agreement version, purpose, ...) would let the origin
// prove this node took what it never took. An item of an earlier release
// pruned keeps neither the header digest nor the envelope, and leaves the
// payload alone to tell: env is taken for the envelope stored whatever its
// headers, as releases before this check did.
//
// It returns when the envelope was first received: what the redelivery
// links or mends (an answer, a case) took place then. That is the time the
// inbox item keeps, to the nanosecond, as the commit that stored the
// envelope dated what it linked; the receipt's, to the millisecond, only
// for an item without one.
func sameAsStored(env *contracts.Envelope, digest [32]byte, first store.Arrival) (time.Time, error) {
	r, err := contracts.DecodeReceipt(first.Receipt)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", errStoredReceipt, err)
	}
	// The id and payload digest, not Receipt.Matches: a receipt bound to
	// the envelope first stored (EnvelopeDigest) would refuse it sealed
	// again since under the name its origin's node goes by now (the
	// signer is in the digest), which is the same envelope.
	if r.EnvelopeID != env.ID || r.PayloadDigest != env.PayloadDigest {
		return time.Time{}, errIDReused
	}
	switch {
	case first.HeaderDigest != nil:
		if err := sameHeader(env, first.HeaderDigest); err != nil {
			return time.Time{}, err
		}
	case first.Envelope != nil:
		if err := sealedAgain(env, digest, first.Envelope); err != nil {
			return time.Time{}, err
		}
	}
	if first.ReceivedAt.IsZero() {
		return r.ReceivedAt, nil
	}
	return first.ReceivedAt, nil
}

// sameHeader checks that env has the header digest its inbox item keeps
// (stored, contracts.Envelope.HeaderDigest): errIDReused when it has
// another. Two digests compared, where sealedAgain decodes the envelope
// stored and hashes it with env's payload: a batch sent again, its answer
// lost, is all duplicates.
func sameHeader(env *contracts.Envelope, stored []byte) error {
	if len(stored) != sha256.Size {
		return fmt.Errorf("%w: a header digest of %d bytes", errStoredEnvelope, len(stored))
	}
	d, err := env.HeaderDigest()
	// env's header encoded to verify its signature, so err is not to be
	// had; and an envelope whose header does not encode is not the one
	// stored, whose header did.
	if err != nil || !bytes.Equal(d[:], stored) {
		return errIDReused
	}
	return nil
}

// sealedAgain checks that env, whose signing digest is digest, is the
// envelope stored (as its inbox item keeps it, its payload perhaps
// withheld), or that envelope sealed again: errIDReused when it is
// another. Sealing an envelope again, as its origin's node does for one
// it queued under the name it went by before (batchSender, reseal),
// changes its signer, signature and batch proof, and nothing else: its
// created time stays that of the export. So the envelope stored, named
// as env's signer and with env's payload (of the same digest, which
// sameAsStored checked), has env's signing digest, which covers every
// other member, unless a header differs.
func sealedAgain(env *contracts.Envelope, digest [32]byte, stored json.RawMessage) error {
	s, err := decodeEnvelope(stored)
	if err != nil {
		return fmt.Errorf("%w: %w", errStoredEnvelope, err)
	}
	s.Signer, s.Payload = env.Signer, env.Payload
	d, err := s.SigningDigest()
	if err != nil {
		return fmt.Errorf("%w: %w", errStoredEnvelope, err)
	}
	if d != digest {
		return errIDReused
	}
	return nil
}

// notRedelivered answers an envelope sameAsStored did not take for the
// envelope stored under its id (err).
func (x *Exchange) notRedelivered(id string, err error) peer.Result {
	switch {
	case errors.Is(err, errIDReused):
		return rejected(id, ReasonEnvelopeIDReused)
	case errors.Is(err, errStoredEnvelope):
		x.d.Log.Error("defer an envelope whose id is stored with an unreadable envelope", "envelope", id, "err", err)
		return deferred(id, "envelope_unreadable")
	}
	x.d.Log.Error("defer an envelope whose id is stored with an unreadable receipt", "envelope", id, "err", err)
	return deferred(id, "receipt_unreadable")
}

// refuseReused answers rejected the envelopes of ready that duplicates
// marks in reused, and returns the others, with the indexes in the
// request of those refused, once per id as refusals lists them, for their
// audit entries.
func refuseReused(ready []imported, reused []bool, results []peer.Result) ([]imported, []int) {
	keep := ready[:0]
	var at []int
	seen := map[string]bool{}
	for i, im := range ready {
		if !reused[i] {
			keep = append(keep, im)
			continue
		}
		results[im.index] = rejected(im.env.ID, ReasonEnvelopeIDReused)
		if !seen[im.env.ID] {
			seen[im.env.ID] = true
			at = append(at, im.index)
		}
	}
	return keep, at
}
