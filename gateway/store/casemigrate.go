package store

import (
	"encoding/json"
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"
)

// markRejectedReferralCases is the mark (bucketMarks) that says the store
// has rejected the cases earlier releases left referred though their
// referral was rejected (migrateRejectedReferralCases).
var markRejectedReferralCases = []byte("migrated/rejected-referral-cases")

// migrateRejectedReferralCases rejects, in the transaction that opens the
// store, each case an earlier release left referred though the referral
// that opened it here was rejected by its destination's node: releases
// before MarkDelivered moved such a case (caseTx.referralRejected) recorded
// the rejection on the referral's record alone, so the case stayed open
// under ?status=referred. Each is moved as MarkDelivered moves one now,
// at the time the rejection was recorded (the answer's delivered_at, which
// every release kept). Cases of a referral delivered, still queued or a
// dead letter (failed, discarded: a requeue may yet deliver it), and cases
// received, whose envelopes have no record here, are left as they are.
//
// It runs once, and marks that it ran in the same commit: from this
// release on MarkDelivered keeps every case in step, so only a store an
// earlier release wrote can hold such a case, and a store opened since
// pays one read of the mark rather than a pass over its cases at every
// start. (A store rolled back is restored from a copy taken before the
// upgrade, which holds no mark, so the next upgrade migrates it too.)
// A case or record that does not decode is logged and left as it is, as
// MarkDelivered leaves it, rather than keep the node from starting.
func migrateRejectedReferralCases(tx *bolt.Tx, log *slog.Logger) error {
	marks := tx.Bucket(bucketMarks)
	if marks.Get(markRejectedReferralCases) != nil {
		return nil
	}
	referred, err := referredCaseEnvelopes(tx, log)
	if err != nil {
		return err
	}
	recs, answers := tx.Bucket(bucketRecords), tx.Bucket(bucketDelivered)
	cases := caseTx{tx: tx}
	for _, id := range referred {
		rec := recs.Get([]byte(id))
		if rec == nil {
			continue // a case received: its envelope is not a record of this node
		}
		// The answer beside the record, or in it for a record answered
		// before answers were kept apart.
		answer := answers.Get([]byte(id))
		if answer == nil {
			answer = rec
		}
		var dv delivery
		if err := json.Unmarshal(answer, &dv); err != nil {
			log.Warn("reject the case of a referral rejected before this release", "envelope", id, "err", fmt.Errorf("its answer does not decode: %w", err))
			continue
		}
		if dv.State != StateRejected {
			continue
		}
		if err := cases.referralRejected(id, rec, dv.DeliveredAt); err != nil {
			log.Warn("reject the case of a referral rejected before this release", "envelope", id, "err", err)
		}
	}
	if len(cases.pending) > 0 {
		log.Info("rejected the cases of referrals rejected before this release", "cases", len(cases.pending))
	}
	if err := cases.write(); err != nil {
		return fmt.Errorf("reject the cases of referrals rejected before this release: %w", err)
	}
	return marks.Put(markRejectedReferralCases, []byte("done"))
}

// referredCaseEnvelopes returns the envelope ids of the cases in status
// referred, read before any is written (bbolt does not let a bucket change
// under its iteration). A case that does not decode is logged by its key,
// which holds no personal data (CaseKey), and skipped.
func referredCaseEnvelopes(tx *bolt.Tx, log *slog.Logger) ([]string, error) {
	var ids []string
	err := tx.Bucket(bucketCases).ForEach(func(k, v []byte) error {
		var c struct {
			EnvelopeID string `json:"envelope_id"`
			Status     string `json:"status"`
		}
		if err := json.Unmarshal(v, &c); err != nil {
			log.Warn("reject the case of a referral rejected before this release", "case", string(k), "err", fmt.Errorf("stored case does not decode (bucket %s): %w", bucketCases, err))
			return nil
		}
		if c.Status == caseReferred && c.EnvelopeID != "" {
			ids = append(ids, c.EnvelopeID)
		}
		return nil
	})
	return ids, err
}
