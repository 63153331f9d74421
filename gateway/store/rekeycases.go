package store

import (
	"encoding/json"
	"log/slog"

	bolt "go.etcd.io/bbolt"
)

// oldCaseKey reports whether k is a case key of the form older versions
// wrote: the two provinces in code order and the referral's id
// ("44-51/RF-1"). A province code is two digits, so CaseKey's form has its
// "/" where this one has its "-".
func oldCaseKey(k []byte) bool {
	return len(k) > 6 && k[2] == '-' && k[5] == '/'
}

// rekeyCases moves the cases stored under the key older versions wrote to
// CaseKey's, from the OpenedBy and ReferralID every case holds: the old
// key named two referrals, one sent each way, whose ids may be equal. It
// runs in tx, the transaction that opens the store, so a crash leaves
// every case under one form or the other, never lost. A case that does not
// decode, or whose new key holds a case already, stays under its old key,
// and is logged by its keys alone, which hold no personal data.
func rekeyCases(tx *bolt.Tx, log *slog.Logger) error {
	b := tx.Bucket(bucketCases)
	type move struct {
		old string
		c   Case
	}
	var moves []move
	err := b.ForEach(func(k, v []byte) error {
		if !oldCaseKey(k) {
			return nil
		}
		var c Case
		if err := json.Unmarshal(v, &c); err != nil || c.OpenedBy == "" || c.ReferralID == "" {
			log.Warn("a case stored under an old key names no opener and referral id; left under its old key",
				"key", string(k), "err", err)
			return nil
		}
		moves = append(moves, move{old: string(k), c: c})
		return nil
	})
	if err != nil {
		return err
	}
	moved := 0
	for _, m := range moves {
		key := CaseKey(m.c.OpenedBy, m.c.ReferralID)
		if b.Get([]byte(key)) != nil {
			log.Warn("two stored cases have one key; the one under the old key is left there", "old_key", m.old, "key", key)
			continue
		}
		m.c.Key = key
		if err := putJSON(b, key, &m.c); err != nil {
			return err
		}
		if err := b.Delete([]byte(m.old)); err != nil {
			return err
		}
		moved++
	}
	if moved > 0 {
		log.Info("re-keyed cases by the province that opened them", "cases", moved)
	}
	return nil
}
