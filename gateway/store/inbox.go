package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
)

// Incoming is an envelope received from a peer province.
type Incoming struct {
	// Seq is the inbox position, the cursor provincial systems page by.
	Seq        uint64    `json:"seq"`
	EnvelopeID string    `json:"envelope_id"`
	From       string    `json:"from"`
	Type       string    `json:"type"`
	ReceivedAt time.Time `json:"received_at"`
	// Envelope is the signed envelope exactly as it arrived, so its
	// signature stays verifiable; when the import obligations edited the
	// record, with its payload withheld (null), which holds what they drop
	// or mask.
	Envelope json.RawMessage `json:"envelope"`
	// Record is the record as this province may use it: the envelope's
	// payload after the import decision's obligations.
	Record json.RawMessage `json:"record"`
	// Receipt is the signed receipt this node answered the envelope's
	// first arrival with ("stored"). A redelivery is not given it again:
	// it is answered with a "duplicate" receipt signed then, bound to the
	// envelope as it came that time for an origin that asks (it may have
	// been sealed again under a new name). This one's payload digest, with
	// HeaderDigest or the envelope kept, tells a redelivery from another
	// envelope under its id (see Received).
	Receipt json.RawMessage `json:"receipt"`
	// HeaderDigest is the envelope's contracts.Envelope.HeaderDigest as it
	// first came: what a redelivery must match, its signer, signature and
	// batch proof aside, which sealing it again changes. It is stored with
	// the item and outlives its envelope (PruneInbox), but is not part of
	// the item the local API and the webhook give; nil for an item stored
	// by a release before it was kept.
	HeaderDigest []byte `json:"-"`
	// PrunedAt, once set, is when retention dropped the entry's envelope
	// and record (PruneInbox); the rest of it stays.
	PrunedAt time.Time `json:"pruned_at,omitzero"`
	// WorkerMatch, on an employment confirmation, is how its worker ID
	// number compared with that of the transfer it answers, as that
	// transfer lists it ("mismatch": refused, it confirms nothing): the
	// second value of Answer.Make, written in the commit that lists the
	// answer. Empty when no answer was listed (the record answers no
	// record sent from here to its origin) or none was made.
	WorkerMatch string `json:"worker_match,omitempty"`
	// Case, if set, is the change the record makes to its referral case,
	// made in the commit that stores it (ReceiveAnd); it is not stored.
	Case *CaseChange `json:"-"`
	// Answer, if set, is the answer the record gives to a record sent from
	// here, listed in the commit that stores it (ReceiveAnd), which sets
	// WorkerMatch from it; it is not stored.
	Answer *AnswerLink `json:"-"`
	// Counters are taken in the commit that stores the record, as an
	// Outgoing's are (the quotas the destination holds its origin to):
	// a record that would take one past its Max is not stored (Received
	// is refused with ErrOverQuota), and a duplicate counts nothing.
	// They are not stored with the record.
	Counters []Counter `json:"-"`
}

// ErrOverQuota refuses an incoming record that would have taken one of its
// Counters past its Max: nothing of it was stored.
var ErrOverQuota = errors.New("a counter of the record is at its limit")

// Received tells a sender what became of one incoming envelope.
type Received struct {
	Seq       uint64
	Duplicate bool
	// Arrival is, for a duplicate, the envelope's first delivery as its
	// inbox item holds it: its receipt, when it was first received, and
	// the envelope stored.
	Arrival
	// Refused is the error of the envelope's CaseChange, which refused
	// it, or ErrOverQuota; nothing was stored.
	Refused error
	// Answer is the answer its AnswerLink listed in the commit that stored
	// it, nil when none did; AnswerErr says why one did not (the record
	// was still stored, and is in the inbox).
	Answer    *Answer
	AnswerErr error
}

// Receive stores incoming envelopes once each, in one group commit: an
// envelope id seen before is reported as a duplicate with its original
// receipt, and nothing is written for it. An envelope whose id, case key
// or counter name cannot be a key, or whose id holds a '/', fails the call
// before anything is written.
func (s *Store) Receive(ctx context.Context, in []Incoming) ([]Received, error) {
	return s.ReceiveAnd(ctx, in, nil)
}

// ReceiveAnd is Receive with more writes in the same transaction, as
// EnqueueAnd: also sees which envelopes are duplicates (or refused by
// their CaseChange, made in the transaction, or by their Counters, taken
// after it) before anything is written, and an error from it fails the
// call with nothing written. Counters are checked and counted in the
// transaction, so concurrent batches cannot together pass a limit.
func (s *Store) ReceiveAnd(ctx context.Context, in []Incoming, also func(tx *bolt.Tx, got []Received) error) ([]Received, error) {
	if err := checkIncomingKeys(in); err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	out := make([]Received, len(in))
	// The values are encoded before the transaction, which every writer of
	// the store waits for, all but their seq, which only the transaction
	// knows.
	now := s.now().UTC()
	values, encErrs := encodeIncomings(in, now)
	// bbolt keeps the values it is given until the commit, but copies keys:
	// the seq keys share one buffer, the others are made again as they are
	// needed in one scratch buffer.
	seqKeys := make([]byte, 8*len(in))
	var scratch []byte
	err := s.c.do(ctx, func(tx *bolt.Tx) error {
		seen := tx.Bucket(bucketReceived)
		inbox := tx.Bucket(bucketInbox)
		seen.FillPercent, inbox.FillPercent = appendFill, appendFill
		// One cursor serves every lookup: Bucket.Get makes a cursor each.
		look := seen.Cursor()
		// An id twice in one batch: the first is stored, the others are
		// duplicates of it.
		first := make(map[string]int, len(in))
		firstOf := make([]int, len(in))
		cases := caseTx{tx: tx}
		answers := answerTx{tx: tx}
		counted := counts{}
		for i, m := range in {
			scratch = appendReceivedKey(scratch[:0], m.From, m.EnvelopeID)
			if seqb := get(look, scratch); seqb != nil {
				prev, err := storedArrival(inbox.Get(seqb))
				if err != nil {
					return fmt.Errorf("inbox entry for %s: %w", m.EnvelopeID, err)
				}
				// The received bucket holds the inbox key, which is the seq.
				out[i] = Received{Seq: binary.BigEndian.Uint64(seqb), Duplicate: true, Arrival: prev}
				continue
			}
			if j, ok := first[string(scratch)]; ok {
				at := in[j].ReceivedAt
				if at.IsZero() {
					at = now // as encodeIncomings stored it
				}
				out[i], firstOf[i] = Received{Duplicate: true, Arrival: arrivalOf(&in[j], at)}, j
				continue
			}
			if encErrs[i] != nil {
				return encErrs[i]
			}
			var c *Case
			if m.Case != nil {
				var err error
				if c, err = cases.apply(m.Case); err != nil {
					out[i] = Received{Refused: err}
					continue
				}
			}
			if !counted.take(tx, m.Counters) {
				// Not stored: its case change is not kept, and a copy of
				// it later in the batch is decided on its own.
				out[i] = Received{Refused: ErrOverQuota}
				continue
			}
			if m.Case != nil {
				cases.keep(m.Case.Key, c)
			}
			first[string(scratch)] = i
			if m.Answer != nil {
				values[i] = linkAnswer(&answers, m, values[i], &out[i])
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
		if err := answers.write(); err != nil {
			return err
		}
		for i, m := range in {
			if out[i].Duplicate || out[i].Refused != nil {
				continue
			}
			seq, err := inbox.NextSequence()
			if err != nil {
				return err
			}
			key := binary.BigEndian.AppendUint64(seqKeys[8*i:8*i], seq)
			if err := inbox.Put(key, withSeq(values[i], seq)); err != nil {
				return err
			}
			scratch = appendReceivedKey(scratch[:0], m.From, m.EnvelopeID)
			if err := seen.Put(scratch, key); err != nil {
				return err
			}
			// The bare id finds the item for the local API; the first
			// arrival keeps it if another origin ever reused the id.
			scratch = append(scratch[:0], m.EnvelopeID...)
			if get(look, scratch) == nil {
				if err := seen.Put(scratch, key); err != nil {
					return err
				}
			}
			out[i].Seq, out[i].Receipt = seq, m.Receipt
		}
		for i := range in {
			if out[i].Duplicate && out[i].Seq == 0 {
				out[i].Seq = out[firstOf[i]].Seq
			}
		}
		return counted.write(tx)
	})
	if err != nil {
		return nil, fmt.Errorf("receive: %w", err)
	}
	return out, nil
}

// linkAnswer lists the answer m gives (m.Answer) in the transaction of
// answers, and returns m's inbox value v carrying the worker match it made,
// with the outcome in got. A link that fails leaves v as it was: the
// record is stored all the same, its item saying nothing of a match.
func linkAnswer(answers *answerTx, m Incoming, v []byte, got *Received) []byte {
	a, match, err := answers.link(m.From, m.Answer)
	if err != nil {
		got.AnswerErr = err
		return v
	}
	got.Answer = &a
	if match == "" || v == nil {
		return v
	}
	return withWorkerMatch(v, match)
}

// encodeIncomings encodes the values of in but their seqs, all in one
// buffer, a zero ReceivedAt read as now. An error is kept for the
// envelope it is about: a duplicate is not written, so its error does not
// matter.
func encodeIncomings(in []Incoming, now time.Time) ([][]byte, []error) {
	ats := make([]recordAt, len(in))
	size := 0
	for i := range in {
		ats[i] = recordIn(in[i].Envelope, in[i].Record)
		size += incomingSize(&in[i], ats[i])
	}
	buf := make([]byte, 0, size)
	values := make([][]byte, len(in))
	errs := make([]error, len(in))
	for i, m := range in {
		if m.ReceivedAt.IsZero() {
			m.ReceivedAt = now
		}
		if m.Answer != nil {
			m.WorkerMatch = "" // the link's, once it is made
		}
		b, err := appendIncomingButSeq(buf, &m, ats[i])
		if err != nil {
			errs[i] = err
			continue
		}
		values[i], buf = b[len(buf):len(b):len(b)], b
	}
	return values, errs
}

// get is Bucket.Get through a cursor of the bucket, which it moves.
func get(c *bolt.Cursor, key []byte) []byte {
	k, v := c.Seek(key)
	if !bytes.Equal(k, key) {
		return nil
	}
	return v
}

// appendReceivedKey appends to b the key that deduplicates by origin and
// envelope id: ids are the origin's own, so another province reusing them
// (to have the real envelopes taken for duplicates) gets nowhere.
func appendReceivedKey(b []byte, from, envelopeID string) []byte {
	b = append(b, from...)
	b = append(b, '/')
	return append(b, envelopeID...)
}

// Arrival is what the inbox keeps of an envelope's first delivery that
// outlives the entry's envelope and record (PruneInbox), and the envelope
// while it lasts.
type Arrival struct {
	// ReceivedAt is when the envelope was first received, as its inbox item
	// holds it, to the nanosecond; zero when the item holds none that
	// reads.
	ReceivedAt time.Time
	// Receipt is the receipt stored with the first delivery, whose time
	// is to the millisecond.
	Receipt json.RawMessage
	// HeaderDigest is the item's Incoming.HeaderDigest: what tells a
	// redelivery sealed again from another envelope of the same id and
	// payload, pruned or not. Nil for an item stored without one.
	HeaderDigest []byte
	// Envelope is, for an item without a HeaderDigest, the envelope
	// stored, as its inbox item holds it (a copy of Incoming.Envelope, its
	// payload perhaps withheld), which tells the same then. Nil once
	// retention pruned the item, for an item stored without one, and for
	// one with a HeaderDigest: the envelope is large, and not needed.
	Envelope json.RawMessage
}

// arrivalOf is the arrival of m, stored at at.
func arrivalOf(m *Incoming, at time.Time) Arrival {
	a := Arrival{ReceivedAt: at, Receipt: m.Receipt, HeaderDigest: m.HeaderDigest}
	if a.HeaderDigest == nil {
		a.Envelope = keptEnvelope(m.Envelope)
	}
	return a
}

// Received reports, for each of envelopeIDs from province from, whether it
// is already stored (stored[i]): what ReceiveAnd will call a duplicate,
// short of one stored meanwhile. The destination asks before it signs
// receipts, so that it signs "stored" only for what it is about to store.
//
// For one stored, firsts[i] is its first delivery's arrival, its receipt,
// time and header digest (or envelope): the destination tells a
// redelivery of an envelope from another envelope under its id by the
// payload digest the receipt names and the headers, and dates what the
// redelivery links or mends by that time. The others have none, and
// firsts is nil when none is stored, so that a batch of new envelopes
// costs a lookup each and nothing more. Only those are taken from an
// entry (storedArrival), not the record beside them.
func (s *Store) Received(from string, envelopeIDs []string) (stored []bool, firsts []Arrival, err error) {
	stored = make([]bool, len(envelopeIDs))
	err = s.view(func(tx *bolt.Tx) error {
		seen := tx.Bucket(bucketReceived).Cursor()
		inbox := tx.Bucket(bucketInbox)
		var key []byte
		for i, id := range envelopeIDs {
			key = appendReceivedKey(key[:0], from, id)
			seq := get(seen, key)
			if seq == nil {
				continue
			}
			first, err := storedArrival(inbox.Get(seq))
			if err != nil {
				return fmt.Errorf("inbox entry for %s: %w", id, err)
			}
			if firsts == nil {
				firsts = make([]Arrival, len(envelopeIDs))
			}
			stored[i], firsts[i] = true, first
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return stored, firsts, nil
}

// storedArrival returns the arrival the inbox value v keeps: a copy of its
// receipt member, "null" for one stored as null (ReceiveAnd given none),
// nil when there is no such member, its header digest, a copy of its
// envelope (keptEnvelope) only when it has none, and its received_at, zero
// when that does not read (the receipt's time stands for it then). The
// lexer finds where the envelope and record end without building them;
// encoding/json would check the whole entry and then scan it again to
// decode it. Any member order reads, so the values encoding/json wrote
// before appendIncomingButSeq do as well.
func storedArrival(v []byte) (Arrival, error) {
	var a Arrival
	var envelope json.RawMessage
	err := contracts.RawObject(v, func(name string, value json.RawMessage) error {
		switch name {
		case "receipt":
			a.Receipt = bytes.Clone(value) // v is bbolt's, valid in its transaction only
		case "envelope":
			envelope = value
		case "header_digest":
			if err := json.Unmarshal(value, &a.HeaderDigest); err != nil {
				return fmt.Errorf("header_digest: %w", err)
			}
		case "received_at":
			if err := a.ReceivedAt.UnmarshalJSON(value); err != nil {
				a.ReceivedAt = time.Time{}
			}
		}
		return nil
	})
	if err != nil {
		return Arrival{}, err
	}
	if a.HeaderDigest == nil {
		a.Envelope = bytes.Clone(keptEnvelope(envelope))
	}
	return a, nil
}

// keptEnvelope is the envelope member of an inbox item, nil when the item
// keeps none: pruned (null), or stored without one.
func keptEnvelope(v json.RawMessage) json.RawMessage {
	if v = bytes.TrimSpace(v); len(v) == 0 || string(v) == "null" {
		return nil
	}
	return v
}

// InboxHead is the position of the newest inbox entry, 0 for an empty inbox.
func (s *Store) InboxHead() (uint64, error) {
	var head uint64
	err := s.view(func(tx *bolt.Tx) error {
		head = tx.Bucket(bucketInbox).Sequence()
		return nil
	})
	return head, err
}

// MaxInboxPage bounds the bytes of stored items one Inbox call reads:
// records may be up to contracts.MaxRecordSize each, and a page of a
// thousand such items, held whole to be answered, would take a node far
// past its memory limit.
const MaxInboxPage = 8 << 20

// Inbox returns up to limit received envelopes after the cursor, in
// arrival order: fewer once they add up to MaxInboxPage stored bytes, but
// never none while any comes after the cursor. Only an empty page says
// nothing more has arrived.
func (s *Store) Inbox(after uint64, limit int) ([]Incoming, error) {
	if after == math.MaxUint64 {
		return nil, nil // nothing comes after; after+1 would start again at the first
	}
	var out []Incoming
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketInbox).Cursor()
		read := 0
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit && read < MaxInboxPage; k, v = c.Next() {
			m, err := decodeIncoming(v)
			if err != nil {
				return fmt.Errorf("inbox entry %x: %w", k, err)
			}
			out = append(out, m)
			read += len(v)
		}
		return nil
	})
	return out, err
}

// InboxItem returns one received envelope by id: the first stored under
// it, whichever province sent it.
func (s *Store) InboxItem(envelopeID string) (Incoming, error) {
	return s.inboxItem([]byte(envelopeID), envelopeID)
}

// InboxItemFrom returns the envelope province from sent under id. Ids are
// the origin's own and another province may have sent one under the same
// id first, which InboxItem would return.
func (s *Store) InboxItemFrom(from, envelopeID string) (Incoming, error) {
	return s.inboxItem(appendReceivedKey(nil, from, envelopeID), envelopeID)
}

// inboxItem reads the inbox item the received bucket indexes under seen,
// the key of envelope id.
func (s *Store) inboxItem(seen []byte, envelopeID string) (Incoming, error) {
	var m Incoming
	err := s.view(func(tx *bolt.Tx) error {
		key := tx.Bucket(bucketReceived).Get(seen)
		if key == nil {
			return fmt.Errorf("received envelope %s: %w", envelopeID, ErrNotFound)
		}
		var err error
		m, err = decodeIncoming(tx.Bucket(bucketInbox).Get(key))
		return err
	})
	return m, err
}

// incomingSize is the room appendIncomingButSeq needs for m, its record
// at at, unless its strings need escaping.
func incomingSize(m *Incoming, at recordAt) int {
	n := seqRoom + len(m.EnvelopeID) + len(m.From) + len(m.Type) + len(m.Envelope) + len(m.Receipt) + len(m.WorkerMatch) + 180
	if len(m.HeaderDigest) > 0 {
		n += len(`,"header_digest":""`) + base64.StdEncoding.EncodedLen(len(m.HeaderDigest))
	}
	if !at.found {
		n += len(m.Record)
	}
	return n
}

// appendIncomingButSeq appends m as json.Marshal would write it, except
// that the three raw documents are copied as they are rather than
// re-scanned and compacted: they are large (the envelope carries the whole
// record) and already well-formed, having been decoded (the envelope) or
// produced here (record, receipt).
//
// A record that is the envelope's payload as it came (import obligations
// that changed nothing, the usual case) is not written twice: at gives
// where it lies in the envelope (recordIn), written as "record_at" instead
// of "record". decodeIncoming reads both forms.
//
// It writes all of it but the seq, the first member, leaving room for it
// in front: withSeq writes it there once it is known.
func appendIncomingButSeq(b []byte, m *Incoming, at recordAt) ([]byte, error) {
	record := m.Record
	if at.found {
		record = nil
	}
	b = append(b, make([]byte, seqRoom)...)
	b = appendStringMember(b, "envelope_id", m.EnvelopeID)
	b = appendStringMember(b, "from", m.From)
	b = appendStringMember(b, "type", m.Type)
	b, err := appendTimeMember(b, "received_at", m.ReceivedAt)
	if err != nil {
		return nil, err
	}
	b = appendRawMember(b, "envelope", m.Envelope)
	if at.found {
		b = append(b, `,"record_at":[`...)
		b = strconv.AppendInt(b, int64(at.start), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(at.end), 10)
		b = append(b, ']')
	} else {
		b = appendRawMember(b, "record", record)
	}
	b = appendRawMember(b, "receipt", m.Receipt)
	if len(m.HeaderDigest) > 0 {
		// As encoding/json writes a []byte, which decodeIncoming reads.
		b = append(base64.StdEncoding.AppendEncode(append(b, `,"header_digest":"`...), m.HeaderDigest), '"')
	}
	if !m.PrunedAt.IsZero() {
		if b, err = appendTimeMember(b, "pruned_at", m.PrunedAt); err != nil {
			return nil, err
		}
	}
	if m.WorkerMatch != "" {
		b = appendStringMember(b, "worker_match", m.WorkerMatch)
	}
	return append(b, '}'), nil
}

// seqRoom is the room appendIncomingButSeq leaves for `{"seq":` and the
// widest uint64.
const seqRoom = len(`{"seq":`) + 20

// withSeq completes a value from appendIncomingButSeq, in place.
func withSeq(b []byte, seq uint64) []byte {
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], seq, 10)
	start := seqRoom - len(`{"seq":`) - len(d)
	copy(b[start:], `{"seq":`)
	copy(b[seqRoom-len(d):], d)
	return b[start:]
}

// appendRawMember writes a raw document member, null for an empty one as
// json.Marshal writes an empty json.RawMessage.
func appendRawMember(b []byte, name string, raw json.RawMessage) []byte {
	b = appendMemberName(b, name)
	if len(bytes.TrimSpace(raw)) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// minRecordAt is the shortest record worth finding in its envelope.
const minRecordAt = 64

// recordAt is where a record lies in its envelope, if found.
type recordAt struct {
	start, end int
	found      bool
}

// recordIn is where record lies in the envelope as encoding/json reads it
// back (without the blanks around it).
func recordIn(envelope, record json.RawMessage) recordAt {
	if len(record) < minRecordAt {
		return recordAt{}
	}
	i := bytes.Index(bytes.TrimSpace(envelope), record)
	if i < 0 {
		return recordAt{}
	}
	return recordAt{i, i + len(record), true}
}

// storedIncoming is an inbox value: an Incoming, where its record lies in
// its envelope when it was stored that way, and its header digest, which
// Incoming does not give in JSON.
type storedIncoming struct {
	Incoming
	RecordAt     *[2]int `json:"record_at,omitempty"`
	HeaderDigest []byte  `json:"header_digest,omitempty"`
}

// decodeIncoming reads an inbox value, written by appendIncomingButSeq or, before
// it found records in envelopes, by encoding/json.
func decodeIncoming(v []byte) (Incoming, error) {
	var s storedIncoming
	if err := json.Unmarshal(v, &s); err != nil {
		return Incoming{}, err
	}
	s.Incoming.HeaderDigest = s.HeaderDigest
	if !s.PrunedAt.IsZero() {
		s.Envelope, s.Record = nil, nil // stored as null, read as "null"
		return s.Incoming, nil
	}
	if at := s.RecordAt; at != nil {
		if at[0] < 0 || at[0] > at[1] || at[1] > len(s.Envelope) || s.Record != nil {
			return Incoming{}, fmt.Errorf("record at %v of an envelope of %d bytes", *at, len(s.Envelope))
		}
		s.Record = s.Envelope[at[0]:at[1]:at[1]]
	}
	return s.Incoming, nil
}
