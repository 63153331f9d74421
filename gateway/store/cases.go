package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketCases holds case key -> Case (JSON). No case is ever deleted
// (retention prunes the inbox only), and a key stays with the referral
// that opened its case: a referral id is its for good, rejected or not,
// and an update checked against a case read here meets that case in its
// commit. The exchange relies on both.
var bucketCases = []byte("cases")

// Case is a rights-case referral as this node follows it: who opened it,
// where it stands and by when the other side should act. It holds no
// personal data: the worker and the employer stay in the records.
type Case struct {
	// Key identifies the case between its two provinces; see CaseKey.
	Key        string `json:"key"`
	ReferralID string `json:"referral_id"`
	// EnvelopeID is the envelope that carried the referral.
	EnvelopeID string `json:"envelope_id"`
	// OpenedBy and OpenedTo are the referring and receiving provinces.
	OpenedBy string `json:"opened_by"`
	OpenedTo string `json:"opened_to"`
	// Direction is "sent" when this node's province opened the case,
	// "received" otherwise.
	Direction string    `json:"direction"`
	Kind      string    `json:"kind"`
	Status    string    `json:"status"`
	Deadline  string    `json:"deadline"`
	OpenedAt  time.Time `json:"opened_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Updates are the status changes in the order this node saw them.
	Updates []CaseUpdate `json:"updates,omitempty"`
	// Overdue is computed when read: past the deadline and not finished.
	Overdue bool `json:"overdue"`
	// Referral is, for a case sent from here, its referral envelope's
	// delivery state when read (accepted, delivered, rejected, failed,
	// discarded). A case whose referral the other province rejected, or
	// delivery gave up on, never reached it, and is not overdue. One whose
	// referral that province's node rejected is rejected too, as
	// MarkDelivered records the rejection (see referralRejected).
	Referral State `json:"referral,omitempty"`
	// Diverged is computed when read, for a case one of whose updates
	// sent from here the other province rejected, or delivery gave up on
	// (CaseUpdate.Delivery rejected, failed or discarded): this node's
	// case took the update when it was queued, the other province's did
	// not, and their statuses differ until operators settle it (or a
	// dead letter requeued is delivered).
	Diverged bool `json:"diverged,omitempty"`
}

// CaseUpdate is one status change of a case.
type CaseUpdate struct {
	EnvelopeID string    `json:"envelope_id"`
	From       string    `json:"from"`
	Status     string    `json:"status"`
	At         time.Time `json:"at"`
	// Delivery is, for an update sent from here, its envelope's delivery
	// state when read, as Case.Referral is the referral's; empty for one
	// received.
	Delivery State `json:"delivery,omitempty"`
}

// CaseKey names a case by its two provinces (in code order, so both ends
// agree whichever way an update travels) and the referral's id.
func CaseKey(a, b, referralID string) string {
	if b < a {
		a, b = b, a
	}
	return a + "-" + b + "/" + referralID
}

// PutCases makes case changes in one commit, as EnqueueAnd makes those of
// its records: each sees the ones before it, and refused[i] is the error
// of changes[i], which then changes nothing; refused is nil when none
// refused. A change whose Apply changes nothing writes nothing, and with
// none to write nothing is committed. err is a fault of the commit.
func (s *Store) PutCases(ctx context.Context, changes []*CaseChange) (refused []error, err error) {
	if len(changes) == 0 {
		return nil, nil
	}
	err = s.c.do(ctx, func(tx *bolt.Tx) error {
		cases := caseTx{tx: tx}
		for i, ch := range changes {
			c, err := cases.apply(ch)
			if err != nil {
				if refused == nil {
					refused = make([]error, len(changes))
				}
				refused[i] = err
				continue
			}
			cases.keep(ch.Key, c)
		}
		return cases.write()
	})
	if err != nil {
		return nil, err
	}
	return refused, nil
}

// Case returns one case.
func (s *Store) Case(key string, now time.Time) (*Case, error) {
	var c Case
	err := s.view(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketCases), key, &c)
	})
	if err != nil {
		return nil, err
	}
	c.Overdue = overdue(&c, now)
	return &c, nil
}

// CasesByKey returns the cases of keys, in their order, from one read
// transaction: nil for a key with no case. A submission of updates checks
// all their cases with it at once. A stored case that does not decode is
// corruption, not an unknown case: it is nil in cases too, and unreadable
// maps its key to an error that names the key, which holds no personal
// data (CaseKey). One damaged case so holds up only the updates that move
// it; unreadable is nil when every case decodes. err is a fault of the
// read as a whole, which leaves no case known.
func (s *Store) CasesByKey(keys []string, now time.Time) (cases []*Case, unreadable map[string]error, err error) {
	cases, err = getEach(s, bucketCases, keys, func(k string, v []byte) *Case {
		c := new(Case)
		if err := json.Unmarshal(v, c); err != nil {
			if unreadable == nil {
				unreadable = make(map[string]error)
			}
			unreadable[k] = fmt.Errorf("stored case %s (bucket %s) does not decode: %w", k, bucketCases, err)
			return nil
		}
		c.Overdue = overdue(c, now)
		return c
	})
	if err != nil {
		return nil, nil, err
	}
	return cases, unreadable, nil
}

// Cases lists cases with status (all for ""), newest first, each with its
// overdue flag as of now.
func (s *Store) Cases(now time.Time, status string) ([]Case, error) {
	var out []Case
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCases).ForEach(func(_, v []byte) error {
			var c Case
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			c.Overdue = overdue(&c, now)
			if status == "" || c.Status == status {
				out = append(out, c)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].OpenedAt.After(out[j].OpenedAt) })
	return out, err
}

// overdue: the deadline (a day in China Standard Time) has passed and the
// case is not finished.
func overdue(c *Case, now time.Time) bool {
	switch c.Status {
	case "resolved", "closed", "rejected":
		return false
	}
	day := now.In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
	return c.Deadline != "" && c.Deadline < day
}

// CaseChange is what a record does to its referral case. Given with the
// record to EnqueueAnd or ReceiveAnd, it is made in the transaction that
// queues or stores the record, so that the case and the record are durable
// together, and a change checked against the case it moves (a status the
// case may take) is checked against the case as it is written: of two
// concurrent updates of one case, the second sees the first.
type CaseChange struct {
	// Key is the case's key; see CaseKey.
	Key string
	// Apply gets the case as it stands in the transaction (nil when there
	// is none) and returns the case to store, nil to change nothing (a
	// change made already), or an error that refuses the record: it is
	// neither queued nor stored, and the error is the record's Refused.
	Apply func(*Case) (*Case, error)
}

// caseTx makes the case changes of one transaction: each change sees
// those made before it in the transaction, and nothing is written until
// write, after every check of the transaction has passed.
type caseTx struct {
	tx      *bolt.Tx
	pending map[string]*Case
}

// apply runs ch against its case and returns the result, which keep
// holds for write; a stored case that does not decode refuses the change.
// ch gets a copy of a case kept earlier in the transaction, so that a
// change applied but not kept (its record over quota) leaves it as it was.
func (ct *caseTx) apply(ch *CaseChange) (*Case, error) {
	if ch.Key == "" || len(ch.Key) > bolt.MaxKeySize {
		// Refused here, not by the put at the end of the transaction,
		// which would fail it after other writers' writes were made.
		return nil, fmt.Errorf("a case key of %d bytes cannot be a key", len(ch.Key))
	}
	cur, ok := ct.pending[ch.Key]
	if ok && cur != nil {
		c := *cur
		c.Updates = slices.Clone(cur.Updates)
		cur = &c
	}
	if !ok {
		if data := ct.tx.Bucket(bucketCases).Get([]byte(ch.Key)); data != nil {
			cur = new(Case)
			if err := json.Unmarshal(data, cur); err != nil {
				return nil, fmt.Errorf("stored case %s (bucket %s) does not decode: %w", ch.Key, bucketCases, err)
			}
		}
	}
	return ch.Apply(cur)
}

// keep holds c as the case of key for the rest of the transaction; a nil
// c (Apply changed nothing) keeps what is there.
func (ct *caseTx) keep(key string, c *Case) {
	if c == nil {
		return
	}
	if ct.pending == nil {
		ct.pending = make(map[string]*Case)
	}
	ct.pending[key] = c
}

// write stores the cases kept.
func (ct *caseTx) write() error {
	b := ct.tx.Bucket(bucketCases) // made by Open
	for key, c := range ct.pending {
		if err := putJSON(b, key, c); err != nil {
			return err
		}
	}
	return nil
}

// referralRejected makes, in the commit that records the destination's
// rejection of the outgoing record envelopeID (status, its value in
// bucketRecords) at at, the change that rejection makes to the case the
// record opened, when it is a referral: the case is rejected, as if the
// province it was referred to had answered so. A rejected referral is
// final (it keeps its id, and the case is referred again under another),
// so its case must leave referred, where provincial systems poll for open
// cases. The case's updates end with that province's rejection, under the
// referral's own envelope id, whose record says why. A case another
// referral holds, or one moved already (the same answer recorded again),
// is left as it is, as is every case of a record of another type. A
// record or case that does not decode is an error, which changes nothing.
func (ct *caseTx) referralRejected(envelopeID string, status []byte, at time.Time) error {
	var st Status
	if err := json.Unmarshal(status, &st); err != nil {
		return fmt.Errorf("record %s (bucket %s) does not decode: %w", envelopeID, bucketRecords, err)
	}
	key, ok := referralCaseKey(&st)
	if !ok {
		return nil
	}
	c, err := ct.apply(&CaseChange{Key: key, Apply: func(c *Case) (*Case, error) {
		if c == nil || c.EnvelopeID != envelopeID || c.Status != caseReferred {
			return nil, nil
		}
		c.Status, c.UpdatedAt = caseRejected, at
		c.Updates = append(c.Updates, CaseUpdate{EnvelopeID: envelopeID, From: st.Peer, Status: caseRejected, At: at})
		return c, nil
	}})
	if err != nil {
		return err
	}
	ct.keep(key, c)
	return nil
}

// The case statuses a referral's rejection moves a case between; the
// exchange holds the whole lifecycle (contracts.CaseStatus).
const (
	caseReferred = "referred"
	caseRejected = "rejected"
)

// referralCaseKey is the key of the case the outgoing record st opened
// when it is a referral: its reference is its sending province, its type
// and its id (exchange.Ref), and its peer the province it was referred
// to. ok is false for a record of another type, or a reference not of
// that form; the case found under the key is the record's only if it
// names its envelope.
func referralCaseKey(st *Status) (key string, ok bool) {
	if st.Type != "referral" {
		return "", false
	}
	from, rest, ok := strings.Cut(st.Ref, "/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutPrefix(rest, st.Type+"/")
	if !ok || from == "" || id == "" || st.Peer == "" {
		return "", false
	}
	return CaseKey(from, st.Peer, id), true
}

// prior is the envelope id of the update of case c that its sender made
// before the update envelopeID made (c as that update left it), "" when
// there is none or envelopeID made no update of c. Both went from here to
// the other province, in the order the case took them, which delivery
// keeps (Queued.After): that the ids of two envelopes sort as they were
// queued is not promised, within one submission least of all.
func prior(c *Case, envelopeID string) string {
	if c == nil || len(c.Updates) < 2 || c.Updates[len(c.Updates)-1].EnvelopeID != envelopeID {
		return ""
	}
	from := c.Updates[len(c.Updates)-1].From
	for _, u := range slices.Backward(c.Updates[:len(c.Updates)-1]) {
		if u.From == from {
			return u.EnvelopeID
		}
	}
	return ""
}
