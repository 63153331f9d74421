package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/gateway/boltfile"
	"github.com/laborlink/laborlink/pki/durable"
)

// Buckets. Keys that order matter for (outbox per peer, inbox) are chosen so
// bbolt's byte order is delivery order.
var (
	bucketRecords = []byte("records") // envelope id -> storedStatus (JSON) as accepted
	// bucketDelivered holds the destination's answer for each record
	// (delivery JSON), apart from its status: marking a batch delivered then
	// writes each answer once instead of decoding and rewriting every status.
	bucketDelivered = []byte("delivered") // envelope id -> delivery (JSON)
	bucketRefs      = []byte("refs")      // client reference -> envelope id
	bucketOutbox    = []byte("outbox")    // peer "/" envelope id -> encoded envelope (see queued)
	bucketInbox     = []byte("inbox")     // big-endian sequence -> Incoming (JSON)
	bucketReceived  = []byte("received")  // origin "/" envelope id, and envelope id -> big-endian sequence
	bucketCounters  = []byte("counters")  // name -> big-endian uint64
	bucketMarks     = []byte("marks")     // name -> the last value a task recorded
)

// ErrNotAnswerable is returned for an answer from a province the record was
// not sent to.
var ErrNotAnswerable = errors.New("the record was not sent to the answering province")

// ErrTooManyAnswers is returned for an answer to a record that holds
// MaxAnswers already.
var ErrTooManyAnswers = errors.New("the record holds the most answers it keeps")

// MaxAnswers bounds the answers one record keeps (AddAnswer): years of
// monthly confirmations of a transfer, or every step of a referral's case,
// fit with room to spare, and a peer cannot grow one record's status, which
// each answer rewrites whole, without end.
const MaxAnswers = 100

// ErrNotFound is returned when a record, reference or inbox item is unknown.
var ErrNotFound = errors.New("not found")

// State is where an outgoing record stands.
type State string

// The states of an outgoing record.
const (
	// StateAccepted: signed and durably queued for delivery.
	StateAccepted State = "accepted"
	// StateDelivered: the destination stored it and returned a signed receipt.
	StateDelivered State = "delivered"
	// StateDenied: policy refused it; it was never queued.
	StateDenied State = "denied"
	// StateRejected: the destination refused it on import; Reasons say why.
	StateRejected State = "rejected"
	// StateFailed: delivery gave up on it and keeps it as a dead letter
	// (MarkDead); Reasons say why. A requeue makes it accepted again, a
	// discard discarded.
	StateFailed State = "failed"
	// StateDiscarded: delivery gave up on it and an operator discarded its
	// dead letter (Discard), envelope and all: it will never be sent.
	// Reasons say why delivery gave up, as they did while it was failed.
	StateDiscarded State = "discarded"
)

// Status is what the node knows about one record it was asked to send.
type Status struct {
	EnvelopeID string `json:"envelope_id"`
	// Ref is the submitter's reference ("51/transfer/T-0001"), which makes
	// resubmission idempotent.
	Ref        string    `json:"ref"`
	Type       string    `json:"type"`
	Peer       string    `json:"peer"`
	State      State     `json:"state"`
	Reasons    []string  `json:"reasons,omitempty"`
	AcceptedAt time.Time `json:"accepted_at"`
	// DeliveredAt and Receipt are set once the destination answered.
	DeliveredAt time.Time       `json:"delivered_at,omitzero"`
	Receipt     json.RawMessage `json:"receipt,omitempty"`
	// FailedAt is when delivery gave up on it (StateFailed, and
	// StateDiscarded after it).
	FailedAt time.Time `json:"failed_at,omitzero"`
	// DiscardedAt is when an operator discarded its dead letter
	// (StateDiscarded).
	DiscardedAt time.Time `json:"discarded_at,omitzero"`
	// Answers are records that came back in reply, such as the employment
	// confirmation a transfer waits for, by envelope id.
	Answers []Answer `json:"answers,omitempty"`
}

// Answer links a received record to the outgoing record it answers.
type Answer struct {
	EnvelopeID string    `json:"envelope_id"`
	Type       string    `json:"type"`
	ReceivedAt time.Time `json:"received_at"`
	// Summary holds the answer's non-personal facts (e.g. employed, since).
	Summary json.RawMessage `json:"summary,omitempty"`
	// Refused is a reason code when this node does not take the answer for
	// what it says ("worker_mismatch": a confirmation of another worker
	// than the transfer's): it is listed with the record, and in the
	// inbox, but confirms nothing. Empty for an answer taken.
	Refused string `json:"refused,omitempty"`
}

// Outgoing is a signed envelope to queue for a peer.
type Outgoing struct {
	EnvelopeID string
	Ref        string
	Type       string
	Peer       string
	// Envelope is the encoded envelope: signed, and then delivered as is, or
	// sealed but left to be signed with its delivery batch (SigningDigest).
	Envelope []byte
	// SigningDigest, when set, is the envelope's contracts signing digest:
	// the envelope is not signed yet and is signed as part of the batch it
	// is delivered in (one signature over a Merkle root of these digests).
	// Set it and Envelope with SetEnvelope; Enqueue refuses one set alone.
	SigningDigest []byte
	// Counters are incremented in the same commit when the record is new
	// (quota usage), so counts and accepted records never disagree.
	Counters []Counter
	// Case, if set, is the change the record makes to its referral case,
	// made in the same commit; see CaseChange. An update of the case is
	// delivered after the one its sender made before it (Queued.After).
	Case *CaseChange
	// Worker, set for a transfer, is what the node keeps of its worker to
	// match the confirmations that answer it (SentWorker), written into
	// the record's status; nil for other records.
	Worker *SentWorker

	// value is the outbox value SetEnvelope wrote Envelope into.
	value []byte
}

// SetEnvelope sets m's SigningDigest to digest and its Envelope to what
// appendEnvelope appends, which it appends straight after the digest in
// the value the outbox keeps: Enqueue then writes that value as it is. It
// is the only way to queue an envelope to be signed with its batch:
// Enqueue refuses a digest or envelope set or changed outside it.
func (m *Outgoing) SetEnvelope(digest []byte, appendEnvelope func([]byte) ([]byte, error)) error {
	if digest == nil {
		env, err := appendEnvelope(nil)
		m.Envelope, m.SigningDigest, m.value = env, nil, nil
		return err
	}
	if len(digest) > 255 {
		return fmt.Errorf("signing digest of %d bytes", len(digest))
	}
	head := 2 + len(digest)
	v, err := appendEnvelope(append(append(make([]byte, 0, head), digestMark, byte(len(digest))), digest...))
	if err != nil {
		return err
	}
	m.value, m.SigningDigest, m.Envelope = v, v[2:head:head], v[head:]
	return nil
}

// Queued is one outbox item.
type Queued struct {
	EnvelopeID string
	Envelope   []byte
	// SigningDigest is set for an envelope still to be signed with its
	// delivery batch; see Outgoing.
	SigningDigest []byte
	// After, for a referral update, is the envelope id of the update of
	// the same case this node queued before it, for the same peer (see
	// prior): Pending takes it only once that one has left the queue, or
	// ahead of it in the same batch. "" for every other record.
	After string
}

// digestMark starts an outbox value that carries a signing digest before
// the envelope; an envelope (JSON) starts with '{' and never with it.
const digestMark = 0

// outboxValue is what the outbox keeps for m: a signed envelope as it is,
// one still to be signed as the value SetEnvelope wrote, digest before
// envelope. A signing digest not set by SetEnvelope, or changed since
// with the envelope, is refused rather than copied: export always uses
// SetEnvelope, and a value that did not say what its fields say would be
// signed and delivered as something else.
func outboxValue(m Outgoing) ([]byte, error) {
	if m.SigningDigest == nil {
		return m.Envelope, nil
	}
	if !m.setBy() {
		return nil, fmt.Errorf("envelope %s: its signing digest and envelope were not set together by Outgoing.SetEnvelope", m.EnvelopeID)
	}
	return m.value, nil
}

// setBy reports whether m's Envelope and SigningDigest are still those
// SetEnvelope wrote into m.value.
func (m Outgoing) setBy() bool {
	d := len(m.SigningDigest)
	return d > 0 && len(m.Envelope) > 0 && len(m.value) == 2+d+len(m.Envelope) &&
		&m.value[2] == &m.SigningDigest[0] && &m.value[2+d] == &m.Envelope[0]
}

// afterMark starts an outbox value that names, before the rest of it
// (a value as outboxValue writes it), the update it must not overtake
// (Queued.After): a uvarint length, then the envelope id. Neither an
// envelope (JSON) nor digestMark starts with it.
const afterMark = 1

// withAfter is outbox value v of an update queued after the update whose
// envelope id is after.
func withAfter(after string, v []byte) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(after)+len(v))
	b = binary.AppendUvarint(append(b, afterMark), uint64(len(after)))
	return append(append(b, after...), v...)
}

// splitAfter reads the update outbox value v must not overtake (see
// afterMark), nil when it names none, and the rest of v. A value that
// starts with afterMark but does not hold what it says is all rest, as
// queued reads a digest that does not fit.
func splitAfter(v []byte) (after, rest []byte) {
	if len(v) < 2 || v[0] != afterMark {
		return nil, v
	}
	n, w := binary.Uvarint(v[1:])
	if w <= 0 || n == 0 || n > uint64(len(v)-1-w) {
		return nil, v
	}
	start := 1 + w
	return v[start : start+int(n)], v[start+int(n):]
}

// queued reads outbox value c, copied out of its read transaction
// already, as the Queued that then holds it: one copy of the value for
// both digest and envelope, the digest's capacity ending where the
// envelope starts, so neither can be appended into the other.
func queued(id string, c []byte) Queued {
	var q Queued
	if after, rest := splitAfter(c); after != nil {
		q.After, c = string(after), rest
	}
	q.EnvelopeID = id
	if len(c) > 2 && c[0] == digestMark && len(c) >= 2+int(c[1]) {
		n := 2 + int(c[1])
		q.SigningDigest, q.Envelope = nonEmpty(c[2:n:n]), nonEmpty(c[n:])
		return q
	}
	q.Envelope = nonEmpty(c)
	return q
}

// nonEmpty is b, or nil when it is empty, as clone makes it.
func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// appendFill packs buckets whose keys mostly grow (ULIDs, sequences)
// densely: bbolt splits a full page at its default half, which leaves every
// page but the last half empty when keys only ever arrive at the end.
const appendFill = 0.95

// Store is a node's durable state. Its methods are safe for concurrent use.
type Store struct {
	db     *bolt.DB
	c      *committer
	now    func() time.Time
	queues queueDepth
	// dead counts the dead letters per peer, as queues the outbox.
	dead queueDepth
	// macs compute WorkerDigest.
	macs *workerMACs
}

// queueDepth counts the outbox's envelopes per peer, kept in step with the
// commits that add and remove them: status, metrics and readiness ask for
// depths often, and counting a long outbox each time cost a busy node
// several per cent of its CPU.
type queueDepth struct {
	mu sync.Mutex
	n  map[string]int
}

// counts copies the counts, for a caller to keep.
func (q *queueDepth) counts() map[string]int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return maps.Clone(q.n)
}

func (q *queueDepth) add(peer string, delta int) {
	if delta == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n[peer] += delta; q.n[peer] <= 0 {
		delete(q.n, peer)
	}
}

// countQueues counts a bucket keyed by peer "/" envelope id (the outbox,
// the dead letters) by peer once, when the store opens.
func countQueues(tx *bolt.Tx, bucket []byte) map[string]int {
	depth := make(map[string]int)
	tx.Bucket(bucket).ForEach(func(k, _ []byte) error {
		if i := bytes.IndexByte(k, '/'); i >= 0 {
			depth[string(k[:i])]++
		}
		return nil
	})
	return depth
}

// Options tune a store.
type Options struct {
	// NoSync skips fsync. Only tests and benchmarks that measure something
	// else may set it: with it, "accepted" no longer means durable.
	NoSync bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CommitDelay is the longest a group commit that already holds more
	// than one write waits for others to join it. 0 means DefaultCommitDelay;
	// negative, no wait.
	CommitDelay time.Duration
	// ReleaseEvery is how many bytes the data may grow between two releases
	// of the file's mapped pages from the process's resident set (see
	// DefaultReleaseEvery). 0 means DefaultReleaseEvery; negative, never.
	ReleaseEvery int64
	// Log hears what the store cannot report to a caller (a release that
	// failed); nil discards it.
	Log *slog.Logger
	// WorkerKeyFile is the file of the key of the digests kept of
	// transfers' workers (WorkerDigest), made when the store first opens.
	// "" means WorkerKeyFile beside the store file.
	WorkerKeyFile string
}

// PageSize is the page size of a store file created now; a file keeps the
// size it was created with. bbolt writes each dirty page of a commit with a
// pwrite of its own, and records, outbox entries and audit entries are
// appended in key order, so a commit dirties a run of new pages: 16 KiB
// pages halve those syscalls against the 4 KiB default (docs/performance.md).
const PageSize = 16 << 10

// DefaultCommitDelay trades up to a millisecond of latency under
// concurrent load for half the commits (see committer.gather).
const DefaultCommitDelay = time.Millisecond

// Open opens or creates the store file at path, with the key file of its
// worker digests (Options.WorkerKeyFile, openWorkerKey). In the commit that
// opens it, it brings in step what an earlier release left behind
// (migrateRejectedReferralCases).
func Open(path string, opts Options) (*Store, error) {
	if err := durable.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db, err := boltfile.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoSync: opts.NoSync, NoFreelistSync: true, FreelistType: bolt.FreelistMapType, PageSize: PageSize})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var queues, dead map[string]int
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRecords, bucketDelivered, bucketRefs, bucketOutbox, bucketInbox, bucketReceived, bucketCounters, bucketMarks, bucketCases, bucketDead, bucketDeferred} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		queues, dead = countQueues(tx, bucketOutbox), countQueues(tx, bucketDead)
		return migrateRejectedReferralCases(tx, log)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	keyFile := cmp.Or(opts.WorkerKeyFile, filepath.Join(filepath.Dir(path), WorkerKeyFile))
	workerKey, err := openWorkerKey(db, keyFile)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	delay := opts.CommitDelay
	if delay == 0 {
		delay = DefaultCommitDelay
	}
	every := opts.ReleaseEvery
	if every == 0 {
		every = DefaultReleaseEvery
	}
	return &Store{db: db, c: newCommitter(db, delay, every, log), now: now, queues: queueDepth{n: queues}, dead: queueDepth{n: dead}, macs: newWorkerMACs(workerKey)}, nil
}

// Close commits what is queued and closes the file. Closing twice is harmless.
func (s *Store) Close() error {
	s.c.close()
	return s.db.Close()
}

// DB exposes the bbolt handle so components that keep their own buckets in
// the node's file (the audit log) share one file and one fsync schedule.
// They read through it, and write in the store's transactions or through
// Update, never with a commit of their own.
func (s *Store) DB() *bolt.DB { return s.db }

// Enqueued tells the caller of Enqueue what happened to one record.
type Enqueued struct {
	EnvelopeID string
	// Duplicate is true when the reference was already accepted; EnvelopeID
	// is then the earlier envelope's, and nothing new was queued.
	Duplicate bool
	// OverQuota is true when accepting the record would have taken one of
	// its counters past its limit; nothing was queued.
	OverQuota bool
	// Refused is the error of the record's CaseChange, which refused it;
	// nothing was queued.
	Refused error
}

// Counter is a named count a record adds one to when accepted (a quota's
// usage in its period), with the most it may reach; Max 0 is no limit.
// Enqueue checks the limit in the same transaction that counts, so
// concurrent submissions cannot together pass a quota.
type Counter struct {
	Name string
	Max  uint64
}

// Enqueue durably accepts signed envelopes into the outbox, in one group
// commit. A reference seen before is answered with its earlier envelope.
func (s *Store) Enqueue(ctx context.Context, msgs []Outgoing) ([]Enqueued, error) {
	return s.EnqueueAnd(ctx, msgs, nil)
}

// EnqueueAnd is Enqueue with more writes in the same transaction: also runs
// once the duplicates are known and before anything is written, so its
// writes (the node's audit entries for the accepted records) are durable
// exactly when the records are; an error from it fails the call with nothing
// written, as does a new record under an envelope id another record has. It
// must write only to its own buckets. A record's CaseChange is made in the
// transaction too, before its counters are taken: one it refuses is
// neither queued nor counted.
func (s *Store) EnqueueAnd(ctx context.Context, msgs []Outgoing, also func(tx *bolt.Tx, enq []Enqueued) error) ([]Enqueued, error) {
	if err := checkOutgoingKeys(msgs); err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	out := make([]Enqueued, len(msgs))
	now := s.now().UTC()
	// Encoded before the transaction, which every other commit waits for.
	statuses, err := acceptedStatuses(msgs, now)
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	queued := make([][]byte, len(msgs))
	for i, m := range msgs {
		if queued[i], err = outboxValue(m); err != nil {
			return nil, fmt.Errorf("enqueue: %w", err)
		}
	}
	added := map[string]int{} // outbox entries written, by peer
	err = s.c.doThen(ctx, func(tx *bolt.Tx) error {
		refs, recs := tx.Bucket(bucketRefs), tx.Bucket(bucketRecords)
		recs.FillPercent = appendFill
		tx.Bucket(bucketOutbox).FillPercent = appendFill
		seen := make(map[string]string, len(msgs))
		ids := make(map[string]bool, len(msgs)) // envelope ids this call stores
		counted := counts{}
		cases := caseTx{tx: tx}
		var after []string // the updates the referral updates must not overtake
		for i, m := range msgs {
			if id := refs.Get([]byte(m.Ref)); id != nil {
				out[i] = Enqueued{EnvelopeID: string(id), Duplicate: true}
				continue
			}
			if id, ok := seen[m.Ref]; ok {
				out[i] = Enqueued{EnvelopeID: id, Duplicate: true}
				continue
			}
			// A new record under an envelope id already stored would
			// overwrite that record's status and outbox entry.
			if ids[m.EnvelopeID] || recs.Get([]byte(m.EnvelopeID)) != nil {
				return fmt.Errorf("record %d: envelope id %s is another record's already", i, m.EnvelopeID)
			}
			var c *Case
			if m.Case != nil {
				var err error
				if c, err = cases.apply(m.Case); err != nil {
					out[i] = Enqueued{EnvelopeID: m.EnvelopeID, Refused: err}
					continue
				}
			}
			taken := counted.take(tx, m.Counters)
			out[i] = Enqueued{EnvelopeID: m.EnvelopeID, OverQuota: !taken}
			if !taken {
				// Not stored: a later record of the same reference is
				// no duplicate of it, and is decided on its own.
				continue
			}
			seen[m.Ref], ids[m.EnvelopeID] = m.EnvelopeID, true
			if m.Case != nil {
				cases.keep(m.Case.Key, c)
				if p := prior(c, m.EnvelopeID); p != "" {
					if after == nil {
						after = make([]string, len(msgs))
					}
					after[i] = p
				}
			}
		}
		if also != nil {
			if err := also(tx, out); err != nil {
				return err
			}
		}
		if err := cases.write(); err != nil {
			return err
		}
		for i, m := range msgs {
			if out[i].Duplicate || out[i].OverQuota || out[i].Refused != nil {
				continue
			}
			if err := recs.Put([]byte(m.EnvelopeID), statuses[i]); err != nil {
				return err
			}
			if err := refs.Put([]byte(m.Ref), []byte(m.EnvelopeID)); err != nil {
				return err
			}
			v := queued[i]
			if after != nil && after[i] != "" {
				v = withAfter(after[i], v)
			}
			if err := tx.Bucket(bucketOutbox).Put(outboxKey(m.Peer, m.EnvelopeID), v); err != nil {
				return err
			}
			added[m.Peer]++ // envelope ids are new: a put adds an entry
		}
		return counted.write(tx)
	}, func() {
		for peer, n := range added {
			s.queues.add(peer, n)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	return out, nil
}

// Deny records that policy refused a record, so its submitter can look up why.
// Nothing is queued and no payload is kept.
func (s *Store) Deny(ctx context.Context, st Status) error {
	return s.DenyAnd(ctx, st, nil)
}

// DenyAnd is Deny with more writes in the same transaction, as EnqueueAnd:
// also (the denial's audit entry) runs before the status is written, and
// an error from it fails the call with nothing written, as does an
// envelope id that cannot be a key or that another record has.
func (s *Store) DenyAnd(ctx context.Context, st Status, also func(*bolt.Tx) error) error {
	st.State = StateDenied
	if st.AcceptedAt.IsZero() {
		st.AcceptedAt = s.now().UTC()
	}
	// Checked and encoded before also writes: a write of a group commit
	// that fails after it is not rolled back.
	if err := keyCheck("denial", -1, st.EnvelopeID)("envelope id", st.EnvelopeID); err != nil {
		return err
	}
	data, err := (&storedStatus{Status: st}).appendJSON(nil)
	if err != nil {
		return fmt.Errorf("denial: %w", err)
	}
	return s.c.do(ctx, func(tx *bolt.Tx) error {
		recs := tx.Bucket(bucketRecords)
		if recs.Get([]byte(st.EnvelopeID)) != nil {
			return fmt.Errorf("denial: envelope id %s is another record's already", st.EnvelopeID)
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		return recs.Put([]byte(st.EnvelopeID), data)
	})
}

// Pending returns up to limit envelopes queued for peer, oldest first,
// passing over those skip names (nil skips none) without copying them out,
// and each referral update while the update before it of its case is
// queued but not among those taken ahead of it (Queued.After).
//
// The values are copied out of the read transaction into one buffer, each
// Queued holding its part (its capacity ending there): the batch is sent
// and let go together.
func (s *Store) Pending(peer string, limit int, skip func(envelopeID string) bool) ([]Queued, error) {
	return s.pending(peer, 1, limit, skip)
}

// PendingFull is Pending when limit envelopes are there to take, and
// nothing otherwise: a delivery worker with a batch in flight takes only a
// full one, and finds out in the same read instead of counting first.
func (s *Store) PendingFull(peer string, limit int, skip func(envelopeID string) bool) ([]Queued, error) {
	return s.pending(peer, limit, limit, skip)
}

// pending is Pending when at least least envelopes are there to take.
func (s *Store) pending(peer string, least, limit int, skip func(envelopeID string) bool) ([]Queued, error) {
	var out []Queued
	prefix := []byte(peer + "/")
	err := s.view(func(tx *bolt.Tx) error {
		var ids []string
		var vals [][]byte // valid until the read transaction ends
		outbox := tx.Bucket(bucketOutbox)
		c := outbox.Cursor()
		var key []byte // the outbox key of an update an update waits for
		for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix) && len(ids) < limit; k, v = c.Next() {
			id := string(k[len(prefix):])
			if skip != nil && skip(id) {
				continue
			}
			if after, _ := splitAfter(v); after != nil && string(after) != id {
				// Not taken while the update before it of its case is
				// queued but not in this batch ahead of it (skipped, in
				// flight, waiting itself, or under an id that sorts
				// after it): sent apart, that one could arrive after
				// this one, which the peer's case cannot take before it
				// and would refuse for good.
				key = append(append(key[:0], prefix...), after...)
				if outbox.Get(key) != nil && !taken(ids, after) {
					continue
				}
			}
			if ids == nil {
				n := min(limit, maxPendingPrealloc)
				ids, vals = make([]string, 0, n), make([][]byte, 0, n)
			}
			ids, vals = append(ids, id), append(vals, v)
		}
		if len(ids) == 0 || len(ids) < least {
			return nil
		}
		n := 0
		for _, v := range vals {
			n += len(v)
		}
		buf := make([]byte, 0, n)
		out = make([]Queued, len(ids))
		for i, v := range vals {
			start := len(buf)
			buf = append(buf, v...)
			out[i] = queued(ids[i], buf[start:len(buf):len(buf)])
		}
		return nil
	})
	if err != nil {
		return nil, err // read from a store that failed: none of it may be sent
	}
	return out, nil
}

// taken reports whether envelope id is among ids, the envelopes pending
// has taken so far, in key order.
func taken(ids []string, id []byte) bool {
	_, ok := slices.BinarySearchFunc(ids, id, func(a string, b []byte) int { return strings.Compare(a, string(b)) })
	return ok
}

// maxPendingPrealloc bounds the room Pending makes for a batch before it
// knows how many envelopes there are: a delivery batch's worth.
const maxPendingPrealloc = 1000

// Depth counts the envelopes queued for each peer (peers with none left
// out), from counts kept with each commit: it reads nothing from the file.
func (s *Store) Depth() map[string]int {
	return s.queues.counts()
}

// Delivered is the destination's answer for one envelope.
type Delivered struct {
	EnvelopeID string
	Receipt    []byte
	// Rejected marks an envelope the destination refused for good.
	Rejected bool
	Reasons  []string
	// PayloadDigest is what the receipt says arrived (audit only).
	PayloadDigest string
	// Latency is how long the batch took to deliver, for the audit log; the
	// store does not keep it.
	Latency time.Duration
}

// MarkDelivered records the destination's answers and removes the envelopes
// from the outbox, with when it first deferred them (MarkDeferred), in one
// commit. A referral the destination rejected rejects its case in that
// commit too (see caseTx.referralRejected): a case whose record or case
// does not decode is logged and left as it is, lest it hold up the
// answers of the whole batch.
func (s *Store) MarkDelivered(ctx context.Context, peer string, ds []Delivered) error {
	return s.MarkDeliveredAnd(ctx, peer, ds, nil)
}

// MarkDeliveredAnd is MarkDelivered with more writes in the same
// transaction, as EnqueueAnd: also runs once every envelope is known to be
// queued and before anything is written; an error from it fails the call
// with nothing written.
func (s *Store) MarkDeliveredAnd(ctx context.Context, peer string, ds []Delivered, also func(tx *bolt.Tx) error) error {
	now := s.now().UTC()
	answers, err := encodeDeliveries(ds, now)
	if err != nil {
		return err
	}
	keys := outboxKeys(peer, ds)
	removed := 0 // outbox entries deleted; an envelope answered twice is deleted once
	return s.c.doThen(ctx, func(tx *bolt.Tx) error {
		recs := tx.Bucket(bucketRecords)
		for i, d := range ds {
			if recs.Get(keys[i][len(peer)+1:]) == nil {
				return fmt.Errorf("mark %s delivered: %s: %w", d.EnvelopeID, d.EnvelopeID, ErrNotFound)
			}
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		cases := caseTx{tx: tx}
		for i, d := range ds {
			if !d.Rejected {
				continue
			}
			if err := cases.referralRejected(d.EnvelopeID, recs.Get(keys[i][len(peer)+1:]), now); err != nil {
				s.c.log.Warn("reject the case of a referral its destination rejected", "envelope", d.EnvelopeID, "peer", peer, "err", err)
			}
		}
		if err := cases.write(); err != nil {
			return err
		}
		delivered, outbox := tx.Bucket(bucketDelivered), tx.Bucket(bucketOutbox).Cursor()
		delivered.FillPercent = appendFill
		for i := range ds {
			key := keys[i]
			if err := delivered.Put(key[len(peer)+1:], answers[i]); err != nil {
				return err
			}
			if k, _ := outbox.Seek(key); !bytes.Equal(k, key) {
				continue // answered before: no longer queued
			}
			if err := outbox.Delete(); err != nil {
				return err
			}
			removed++
		}
		return forgetDeferred(tx, peer, keys)
	}, func() { s.queues.add(peer, -removed) })
}

// outboxKeys are the outbox keys of the answered envelopes, written into
// one buffer that lasts until the commit, as the keys bbolt is given must;
// each envelope id is its key's end.
func outboxKeys(peer string, ds []Delivered) [][]byte {
	n := 0
	for _, d := range ds {
		n += len(peer) + 1 + len(d.EnvelopeID)
	}
	buf := make([]byte, 0, n)
	keys := make([][]byte, len(ds))
	for i, d := range ds {
		start := len(buf)
		buf = append(append(append(buf, peer...), '/'), d.EnvelopeID...)
		keys[i] = buf[start:len(buf):len(buf)]
	}
	return keys
}

// delivery is the destination's answer for a record, kept beside its status.
type delivery struct {
	State       State           `json:"state"`
	Reasons     []string        `json:"reasons,omitempty"`
	DeliveredAt time.Time       `json:"delivered_at,omitzero"`
	FailedAt    time.Time       `json:"failed_at,omitzero"`
	DiscardedAt time.Time       `json:"discarded_at,omitzero"`
	Receipt     json.RawMessage `json:"receipt,omitempty"`
}

// encodeDeliveries writes each answer as a delivery, the receipt as it
// came, all into one buffer. The answers of a batch were delivered at the
// same time, so all but rejections share one head, marshalled once.
func encodeDeliveries(ds []Delivered, now time.Time) ([][]byte, error) {
	delivered, err := json.Marshal(delivery{State: StateDelivered, DeliveredAt: now})
	if err != nil {
		return nil, fmt.Errorf("mark delivered: %w", err)
	}
	heads := make([][]byte, len(ds))
	n := 0
	for i, d := range ds {
		heads[i] = delivered
		if d.Rejected {
			if heads[i], err = json.Marshal(delivery{State: StateRejected, Reasons: d.Reasons, DeliveredAt: now}); err != nil {
				return nil, fmt.Errorf("mark %s delivered: %w", d.EnvelopeID, err)
			}
		}
		n += len(heads[i]) + len(d.Receipt) + len(`,"receipt":`)
	}
	buf := make([]byte, 0, n)
	for i, d := range ds {
		start := len(buf)
		buf = appendDelivery(buf, heads[i], d.Receipt)
		heads[i] = buf[start:len(buf):len(buf)]
	}
	return heads, nil
}

// appendDelivery appends a delivery's encoding, head, with the receipt
// added as it came.
func appendDelivery(b, head, receipt []byte) []byte {
	if len(receipt) == 0 {
		return append(b, head...)
	}
	b = append(b, head[:len(head)-1]...)
	b = append(b, `,"receipt":`...)
	b = append(b, receipt...)
	return append(b, '}')
}

// Status returns what the node knows of an outgoing record.
func (s *Store) Status(envelopeID string) (Status, error) {
	var st Status
	err := s.view(func(tx *bolt.Tx) error {
		if err := getJSON(tx.Bucket(bucketRecords), envelopeID, &st); err != nil {
			return err
		}
		// The destination's answer, once there is one. (A status written
		// before answers were kept apart holds its answer itself.)
		data := tx.Bucket(bucketDelivered).Get([]byte(envelopeID))
		if data == nil {
			return nil
		}
		var dv delivery
		if err := json.Unmarshal(data, &dv); err != nil {
			return fmt.Errorf("delivery of %s: %w", envelopeID, err)
		}
		st.State, st.Reasons, st.DeliveredAt, st.FailedAt, st.DiscardedAt, st.Receipt = dv.State, dv.Reasons, dv.DeliveredAt, dv.FailedAt, dv.DiscardedAt, dv.Receipt
		return nil
	})
	return st, err
}

// States returns the state of each outgoing record of envelopeIDs, as
// Status would, from one read transaction: "" for one not known here.
// The import path asks it whether a referral sent from here reached its
// destination before taking an update from there as one of its case.
func (s *Store) States(envelopeIDs []string) ([]State, error) {
	out := make([]State, len(envelopeIDs))
	if len(envelopeIDs) == 0 {
		return out, nil
	}
	err := s.view(func(tx *bolt.Tx) error {
		recs, answered := tx.Bucket(bucketRecords), tx.Bucket(bucketDelivered)
		for i, id := range envelopeIDs {
			// The destination's answer, once there is one, else the state
			// the record was queued in (or, written before answers were
			// kept apart, its answer).
			data, what := answered.Get([]byte(id)), "delivery"
			if data == nil {
				data, what = recs.Get([]byte(id)), "record"
			}
			if data == nil {
				continue
			}
			var v struct {
				State State `json:"state"`
			}
			if err := json.Unmarshal(data, &v); err != nil {
				return fmt.Errorf("%s of %s: %w", what, id, err)
			}
			out[i] = v.State
		}
		return nil
	})
	return out, err
}

// Lookup resolves a submitter's reference to its envelope id.
func (s *Store) Lookup(ref string) (string, error) {
	var id string
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRefs).Get([]byte(ref))
		if v == nil {
			return fmt.Errorf("reference %q: %w", ref, ErrNotFound)
		}
		id = string(v)
		return nil
	})
	return id, err
}

// LookupAll resolves references as Lookup does, all in one read
// transaction: a submission looks up each of its records' references, and
// a transaction per record cost a batch more than the lookups. ids[i] is
// "" for a reference not accepted before.
func (s *Store) LookupAll(refs []string) ([]string, error) {
	return getEach(s, bucketRefs, refs, func(_ string, v []byte) string { return string(v) })
}

// getEach reads keys from bucket in one read transaction of the store:
// read(k, v) for each value found, the zero T for a key absent.
func getEach[T any](s *Store, bucket []byte, keys []string, read func(k string, v []byte) T) ([]T, error) {
	out := make([]T, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for i, k := range keys {
			if v := b.Get([]byte(k)); v != nil {
				out[i] = read(k, v)
			}
		}
		return nil
	})
	return out, err
}

// Increment adds n to a named counter (quota usage) and returns the new value.
func (s *Store) Increment(ctx context.Context, name string, n uint64) (uint64, error) {
	var v uint64
	err := s.c.do(ctx, func(tx *bolt.Tx) error {
		var err error
		v, err = increment(tx, name, n)
		return err
	})
	return v, err
}

func increment(tx *bolt.Tx, name string, n uint64) (uint64, error) {
	v := readCounter(tx, name) + n
	return v, putCounter(tx, name, v)
}

// Progress is how far a task has come: counters raised to at least the
// given values, and marks (named values, such as the last policy revision
// the task has seen) set.
type Progress struct {
	Counters map[string]uint64
	Marks    map[string]string
}

// RecordAnd writes p in one commit with what also writes first (nil: nothing
// more), so that the work and the record of it are durable together: a task
// that appends audit entries and then notes how far it got can neither lose
// the note nor repeat the entries after a crash or a shutdown in between.
// An error from also writes nothing of p.
func (s *Store) RecordAnd(ctx context.Context, p Progress, also func(*bolt.Tx) error) error {
	return s.c.do(ctx, func(tx *bolt.Tx) error {
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		marks := tx.Bucket(bucketMarks)
		for name, v := range p.Counters {
			if readCounter(tx, name) >= v {
				continue
			}
			if err := putCounter(tx, name, v); err != nil {
				return err
			}
		}
		for name, v := range p.Marks {
			if err := marks.Put([]byte(name), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Mark reads a named value; an unknown one is "".
func (s *Store) Mark(name string) (string, error) {
	var v string
	err := s.view(func(tx *bolt.Tx) error {
		v = string(tx.Bucket(bucketMarks).Get([]byte(name)))
		return nil
	})
	return v, err
}

// Counter reads a named counter; an unknown counter is 0.
func (s *Store) Counter(name string) (uint64, error) {
	var v uint64
	err := s.view(func(tx *bolt.Tx) error {
		v = readCounter(tx, name)
		return nil
	})
	return v, err
}

// Counters reads named counters as Counter does, all in one read
// transaction; an unknown counter is 0.
func (s *Store) Counters(names []string) ([]uint64, error) {
	return getEach(s, bucketCounters, names, func(_ string, v []byte) uint64 { return counterValue(v) })
}

func outboxKey(peer, id string) []byte { return []byte(peer + "/" + id) }

func putJSON(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

func getJSON(b *bolt.Bucket, key string, v any) error {
	data := b.Get([]byte(key))
	if data == nil {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return json.Unmarshal(data, v)
}

func hasPrefix(k, prefix []byte) bool {
	return len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// checkOutgoingKeys refuses, before any write, what would make a key bbolt
// refuses midway through EnqueueAnd's writes: a group commit commits what
// the other writers wrote, so a failure after the first put would leave
// this call's earlier records stored, their quota uncounted, and its
// caller told it failed. It refuses a peer that would make another peer's
// outbox key too.
func checkOutgoingKeys(msgs []Outgoing) error {
	for i, m := range msgs {
		check := keyCheck("record", i, m.EnvelopeID)
		err := errors.Join(check("envelope id", m.EnvelopeID), check("reference", m.Ref), check("peer", m.Peer))
		if strings.Contains(m.Peer, "/") {
			// Its outbox key, peer "/" id, would read as another peer's,
			// counted and delivered as that one's once the store reopens.
			err = errors.Join(err, fmt.Errorf("record %d (envelope %q): the peer holds a '/'", i, m.EnvelopeID))
		}
		for _, c := range m.Counters {
			err = errors.Join(err, check("counter name", c.Name))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkIncomingKeys refuses, before any write, what would make a key bbolt
// refuses midway through ReceiveAnd's writes, as checkOutgoingKeys does
// EnqueueAnd's: the envelopes of the call written before it would be
// stored, their counters not taken, and the caller told none was. It
// refuses an envelope id that would make another origin's key too.
func checkIncomingKeys(in []Incoming) error {
	for i, m := range in {
		check := keyCheck("envelope", i, m.EnvelopeID)
		err := check("envelope id", m.EnvelopeID)
		if strings.Contains(m.EnvelopeID, "/") {
			// Its key, origin "/" id, and its bare id would be those of
			// another origin's envelope: that one, sent later, would be
			// taken for a duplicate of this one and never stored.
			err = errors.Join(err, fmt.Errorf("envelope %d (envelope %q): the envelope id holds a '/'", i, m.EnvelopeID))
		}
		if m.Case != nil {
			err = errors.Join(err, check("case key", m.Case.Key))
		}
		for _, c := range m.Counters {
			err = errors.Join(err, check("counter name", c.Name))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// keyCheck checks a string of a key of the i-th item of a call (i < 0:
// the call's only one), envelope id: that it is there, and fits a key with
// the envelope id beside it. The item is named only in a refusal: the
// checks run for every record on the path to "accepted".
func keyCheck(item string, i int, envelopeID string) func(name, v string) error {
	return func(name, v string) error {
		var problem string
		switch {
		case v == "":
			problem = "no " + name
		case len(v)+len(envelopeID)+1 > bolt.MaxKeySize:
			problem = fmt.Sprintf("%s of %d bytes is too long for a key", name, len(v))
		default:
			return nil
		}
		if i >= 0 {
			return fmt.Errorf("%s %d (envelope %q): %s", item, i, envelopeID, problem)
		}
		return fmt.Errorf("%s (envelope %q): %s", item, envelopeID, problem)
	}
}

// counts are the counter values a transaction has taken so far.
type counts map[string]uint64

// take adds one to every counter if none would pass its limit, and reports
// whether it did. A counter named twice (two quotas of an agreement on the
// same records and period) is held to the stricter limit and counts the
// record once.
func (c counts) take(tx *bolt.Tx, cs []Counter) bool {
	for _, k := range cs {
		if _, ok := c[k.Name]; !ok {
			c[k.Name] = readCounter(tx, k.Name)
		}
		if k.Max > 0 && c[k.Name]+1 > k.Max {
			return false
		}
	}
	for i, k := range cs {
		if !slices.ContainsFunc(cs[:i], func(p Counter) bool { return p.Name == k.Name }) {
			c[k.Name]++
		}
	}
	return true
}

// write stores the counters taken.
func (c counts) write(tx *bolt.Tx) error {
	b := tx.Bucket(bucketCounters)
	for name, v := range c {
		if err := b.Put([]byte(name), binary.BigEndian.AppendUint64(nil, v)); err != nil {
			return err
		}
	}
	return nil
}

func readCounter(tx *bolt.Tx, name string) uint64 {
	return counterValue(tx.Bucket(bucketCounters).Get([]byte(name)))
}

// putCounter sets counter name to v.
func putCounter(tx *bolt.Tx, name string, v uint64) error {
	return tx.Bucket(bucketCounters).Put([]byte(name), binary.BigEndian.AppendUint64(nil, v))
}

// counterValue reads a counter's stored value; 0 for one absent.
func counterValue(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}
