package store

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// AnswerLink is the answer an incoming record gives to a record sent from
// here, made from what the node keeps of that record in the transaction
// that lists it there: ReceiveAnd lists it in the commit that stores the
// incoming record, so that its inbox item and the record it answers never
// tell two stories, not even after a crash between two writes.
type AnswerLink struct {
	// Ref is the reference of the record answered.
	Ref string
	// Make makes the answer to list from what the node keeps of the
	// answered record's worker (nil when it keeps none), and the
	// Incoming.WorkerMatch its inbox item is to carry ("" for none). It
	// runs inside the store's write transaction, which every writer waits
	// for: it must be quick, and must not wait on the store's reads or
	// writes (WorkerDigest does neither). LinkAnswer may run it in a read
	// first, so it must make the same answer from the same worker and
	// change nothing else.
	Make func(w *SentWorker) (a Answer, workerMatch string)
}

// AddAnswer links a record received from province from to the outgoing
// record (by reference) it answers, which must have been sent to that
// province. It is idempotent: the same answer twice is kept once. A record
// keeps MaxAnswers at most; past them it is ErrTooManyAnswers. It links
// in a commit straight away, without LinkAnswer's read first: it is called
// for every referral update as it arrives, mostly a new answer to list.
func (s *Store) AddAnswer(ctx context.Context, ref, from string, a Answer) error {
	_, err := s.linkInCommit(ctx, from, &AnswerLink{Ref: ref, Make: func(*SentWorker) (Answer, string) { return a, "" }})
	return err
}

// LinkAnswer lists the answer l makes on the record it answers, as
// AddAnswer, l.Make given the record's worker in the transaction that
// lists it: the record's status is read once there. It returns the answer
// the record lists, the one it held already if it did.
//
// It is called for an answer sent again (a redelivery), mostly listed
// already: that, or a link refused, is answered from a read, without the
// commit, which syncs the file and which every writer waits for. Only an
// answer the read found to list is linked in a commit, which reads the
// status again.
func (s *Store) LinkAnswer(ctx context.Context, from string, l *AnswerLink) (Answer, error) {
	if a, done, err := s.linked(from, l); done {
		return a, err
	}
	return s.linkInCommit(ctx, from, l)
}

// linkInCommit lists the answer l makes in a commit, as LinkAnswer.
func (s *Store) linkInCommit(ctx context.Context, from string, l *AnswerLink) (Answer, error) {
	var a Answer
	err := s.c.do(ctx, func(tx *bolt.Tx) error {
		at := answerTx{tx: tx}
		var err error
		if a, _, err = at.link(from, l); err != nil {
			return err
		}
		return at.write()
	})
	return a, err
}

// linked is what LinkAnswer returns when a read tells (done): the answer
// the record lists already, or why l is not to be linked. It is not done
// when the answer is to be listed, or the store could not be read.
func (s *Store) linked(from string, l *AnswerLink) (a Answer, done bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		at := answerTx{tx: tx}
		var err error
		a, _, err = at.link(from, l)
		// A link to make leaves a status pending: only write stores it.
		done = err != nil || at.pending == nil
		return err
	})
	return a, done, err
}

// answerTx makes the answer links of one transaction, as caseTx its case
// changes: each sees those made before it in the transaction, and nothing
// is written until write, after every check has passed and every status
// is encoded.
type answerTx struct {
	tx *bolt.Tx
	// pending holds, by envelope id, the statuses changed so far, with
	// their encoding.
	pending map[string]pendingStatus
}

type pendingStatus struct {
	st   *storedStatus
	data []byte
}

// link makes the answer l gives from province from and keeps the status
// that lists it, unless it lists it already: ErrNotFound for a reference
// not known, ErrNotAnswerable when the record went to another province,
// ErrTooManyAnswers past MaxAnswers, or the error reading or encoding the
// status. It returns the answer listed and the inbox item's worker match.
func (at *answerTx) link(from string, l *AnswerLink) (Answer, string, error) {
	v := at.tx.Bucket(bucketRefs).Get([]byte(l.Ref))
	if v == nil {
		return Answer{}, "", fmt.Errorf("answer to %q: %w", l.Ref, ErrNotFound)
	}
	id := string(v)
	st, err := at.status(id)
	if err != nil {
		return Answer{}, "", fmt.Errorf("answer to %q: status of %s: %w", l.Ref, id, err)
	}
	// Only the province the record went to may answer it: a confirmation
	// from any other province would release a subsidy it cannot vouch for.
	if st.Peer != from {
		return Answer{}, "", fmt.Errorf("answer to %q from %s: %w", l.Ref, from, ErrNotAnswerable)
	}
	a, match := l.Make(st.Worker)
	for _, have := range st.Answers {
		if have.EnvelopeID == a.EnvelopeID {
			return have, match, nil
		}
	}
	if len(st.Answers) >= MaxAnswers {
		return Answer{}, "", fmt.Errorf("answer %s to %q: %w (%d)", a.EnvelopeID, l.Ref, ErrTooManyAnswers, MaxAnswers)
	}
	// A copy, so that a link that fails to encode leaves the status kept
	// earlier in the transaction as it was.
	next := *st
	next.Answers = append(st.Answers[:len(st.Answers):len(st.Answers)], a)
	data, err := next.appendJSON(nil)
	if err != nil {
		return Answer{}, "", fmt.Errorf("answer %s to %q: encode status of %s: %w", a.EnvelopeID, l.Ref, id, err)
	}
	if at.pending == nil {
		at.pending = make(map[string]pendingStatus)
	}
	at.pending[id] = pendingStatus{&next, data}
	return a, match, nil
}

// status is the status of record id as the transaction left it so far,
// rewritten whole, its worker with it.
func (at *answerTx) status(id string) (*storedStatus, error) {
	if p, ok := at.pending[id]; ok {
		return p.st, nil
	}
	st := new(storedStatus)
	if err := getJSON(at.tx.Bucket(bucketRecords), id, st); err != nil {
		return nil, err
	}
	return st, nil
}

// write stores the statuses changed.
func (at *answerTx) write() error {
	recs := at.tx.Bucket(bucketRecords)
	for id, p := range at.pending {
		if err := recs.Put([]byte(id), p.data); err != nil {
			return err
		}
	}
	return nil
}

// withWorkerMatch is inbox value v (appendIncomingButSeq's, seq or not)
// with a worker_match member added last, in a new slice: v's capacity
// may be the next value's.
func withWorkerMatch(v []byte, match string) []byte {
	b := make([]byte, 0, len(v)+len(`,"worker_match":""`)+len(match))
	b = appendStringMember(append(b, v[:len(v)-1]...), "worker_match", match)
	return append(b, '}')
}
