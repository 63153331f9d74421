package exchange

import (
	"errors"
	"fmt"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/store"
)

// ReasonEnvelopeIDReused rejects an envelope whose id its origin gave
// before to an envelope with another payload, stored here, or given
// earlier in the same request with another payload or header. An envelope
// id names one envelope: only the same envelope sent again is a
// duplicate. Final: the origin must send the record again under a new id.
const ReasonEnvelopeIDReused = "envelope_id_reused"

// errIDReused refuses an envelope whose id names another envelope stored
// here (ReasonEnvelopeIDReused).
var errIDReused = errors.New("the envelope id names another envelope stored here")

// errStoredReceipt defers an envelope whose id is stored here with a
// receipt this node cannot read: whether it is the envelope stored is not
// known, and it is answered neither "duplicate" nor refused for good.
var errStoredReceipt = errors.New("the receipt stored with the envelope id is unreadable")

// sameAsStored tells whether env, whose id from its origin is stored here
// already, is the envelope stored: the receipt stored with its first
// delivery (first.Receipt) names the same payload digest. The receipt is
// what inbox retention keeps, and it is what a "duplicate" answer stands
// for: signing one for another payload would acknowledge what was never
// stored, and the record it carries was never checked. It returns when
// the envelope was first received: what the redelivery links or mends (an
// answer, a case) took place then. That is the time the inbox item keeps,
// to the nanosecond, as the commit that stored the envelope dated what it
// linked; the receipt's, to the millisecond, only for an item without one.
func sameAsStored(env *contracts.Envelope, first store.Arrival) (time.Time, error) {
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
	if first.ReceivedAt.IsZero() {
		return r.ReceivedAt, nil
	}
	return first.ReceivedAt, nil
}

// notRedelivered answers an envelope sameAsStored did not take for the
// envelope stored under its id (err).
func (x *Exchange) notRedelivered(id string, err error) peer.Result {
	if errors.Is(err, errIDReused) {
		return rejected(id, ReasonEnvelopeIDReused)
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
