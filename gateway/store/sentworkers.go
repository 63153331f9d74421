package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
)

// bucketWorkers holds, for each transfer accepted here, what the node keeps
// of its worker to match the confirmations that answer it.
var bucketWorkers = []byte("workers") // envelope id -> SentWorker (JSON)

// SentWorker is what an origin keeps of a transfer's worker, apart from the
// record's status (which holds no personal data and is shown to callers),
// to match the employment confirmations that answer the transfer: the ID
// number as the transfer carried it across, masked or dropped ("") as the
// export obligations left it, so the node keeps no more of the worker than
// it sent; and the first day of the placement's contract. The ID number is
// personal data: it never goes into a Status, an answer, a log or the
// audit log.
type SentWorker struct {
	IDNumber      string `json:"id_number"`
	ContractStart string `json:"contract_start"`
}

// appendJSON appends w's JSON encoding, as json.Marshal writes it: Enqueue
// encodes one for every transfer it accepts, before the group commit.
func (w *SentWorker) appendJSON(b []byte) []byte {
	b = append(b, `{"id_number":`...)
	b = contracts.AppendJSONString(b, w.IDNumber)
	return append(contracts.AppendJSONString(append(b, `,"contract_start":`...), w.ContractStart), '}')
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
		data := tx.Bucket(bucketWorkers).Get(id)
		if data == nil {
			return fmt.Errorf("worker of %s: %w", id, ErrNotFound)
		}
		if err := json.Unmarshal(data, &w); err != nil {
			// No value in the error: it is personal data.
			return fmt.Errorf("worker of %s (bucket %s) does not decode", id, bucketWorkers)
		}
		return nil
	})
	return w, err
}
