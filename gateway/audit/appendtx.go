package audit

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrOtherFile is returned by AppendTx for a transaction on another file.
var ErrOtherFile = errors.New("transaction is not on the audit log's file")

// DB is the bbolt file the log lives in, so a component sharing it can tell
// whether AppendTx is open to it.
func (l *Log) DB() *bolt.DB { return l.db }

// Prepared is an entry validated and encoded by Prepare, waiting only for
// the index AppendPreparedTx gives it.
type Prepared struct {
	enc []byte // the canonical encoding without the index's digits
	cut int    // where in enc the index's digits go
}

// Prepare validates es and encodes them for AppendPreparedTx, setting a zero
// Time to the log's clock (in es too). It is all of an append's per-entry
// work but what needs the log's size, so a caller can do it before it opens
// the write transaction that every other writer of the file then waits for.
// An invalid entry fails the call.
func (l *Log) Prepare(es ...Entry) ([]Prepared, error) {
	return prepareAll(es, l.cfg.Now())
}

// prepareAll prepares es, setting zero Times to now. Their encodings share
// one buffer.
func prepareAll(es []Entry, now time.Time) ([]Prepared, error) {
	size := 0
	for i := range es {
		size += encodedSize(&es[i])
	}
	buf := make([]byte, 0, size)
	ps := make([]Prepared, len(es))
	c := encoder{valid: true}
	for i := range es {
		e := &es[i]
		if e.Time.IsZero() {
			e.Time = now
		}
		var err error
		if ps[i], buf, err = appendPrepared(buf, e, &c); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// prepare validates e and encodes it but for its index.
func prepare(e *Entry) (Prepared, error) {
	p, _, err := appendPrepared(make([]byte, 0, encodedSize(e)), e, &encoder{valid: true})
	return p, err
}

// appendPrepared validates e and appends its encoding but for its index to
// buf, which the Prepared then shares; c must say the entries are valid.
func appendPrepared(buf []byte, e *Entry, c *encoder) (Prepared, []byte, error) {
	if err := e.Validate(); err != nil {
		return Prepared{}, buf, err
	}
	b, cut, err := appendEntry(buf, e, c)
	if err != nil {
		return Prepared{}, buf, err
	}
	return Prepared{enc: b[len(buf):len(b):len(b)], cut: cut - len(buf)}, b, nil
}

// AppendTx appends entries inside the caller's write transaction on the log's
// own file, so they are durable exactly when the caller's other writes are:
// a node writes the "sent" entries of a submission in the transaction that
// queues its envelopes, and saves a transaction (and its fsyncs) per commit.
//
// Every entry is validated before anything is written, so an invalid entry
// fails the call with the transaction untouched; the caller should call
// AppendTx before its own writes, so such an error leaves nothing behind. The
// entries' indexes follow those already in the transaction, and are set in
// es (as is the log's clock for a zero Time); Size counts them once it
// commits.
//
// A caller that knows its entries before it opens the transaction should
// rather Prepare them then and AppendPreparedTx them in it, which keeps
// validating and encoding out of the transaction.
func (l *Log) AppendTx(tx *bolt.Tx, es ...Entry) error {
	if tx.DB() != l.db {
		return ErrOtherFile
	}
	ps, err := prepareAll(es, l.cfg.Now())
	if err != nil {
		return err
	}
	first, err := l.appendTx(tx, ps)
	if err != nil {
		return fmt.Errorf("append to audit log: %w", err)
	}
	for i := range es {
		es[i].Index = first + int64(i)
	}
	return nil
}

// AppendPreparedTx is AppendTx of entries Prepare made: inside the
// transaction it only assigns indexes and writes. Any of what Prepare
// returned may be appended, in any order, so a caller that learns only
// inside the transaction which entries to write prepares every candidate
// before it. A Prepared not made by Prepare fails the call with the
// transaction untouched.
func (l *Log) AppendPreparedTx(tx *bolt.Tx, ps ...Prepared) error {
	if tx.DB() != l.db {
		return ErrOtherFile
	}
	if _, err := l.appendTx(tx, ps); err != nil {
		return fmt.Errorf("append to audit log: %w", err)
	}
	return nil
}

// appendTx writes ps at the end of the log in tx and returns the index of
// the first; Size counts them once tx commits. Nothing is written unless
// all of ps can be.
func (l *Log) appendTx(tx *bolt.Tx, ps []Prepared) (int64, error) {
	size := 0
	for _, p := range ps {
		if p.enc == nil {
			return 0, errors.New("an entry was not made by Prepare")
		}
		size += len(p.enc) + maxIndexDigits
	}
	b, err := l.buckets(tx)
	if err != nil {
		return 0, err
	}
	first := b.size
	n := first + int64(len(ps))
	if err := checkIndex(n); err != nil {
		return 0, err
	}
	// One buffer holds the batch: bbolt keeps the values until the commit.
	buf := make([]byte, 0, size)
	// Room for exactly the tree hashes the append stores: about two an
	// entry, but up to log2(n) more.
	hashes := &appendedHashes{bucket: hashReader{b},
		hs: make([]tlog.Hash, 0, tlog.StoredHashCount(n)-tlog.StoredHashCount(first))}
	// Whatever can fail (a tree hash missing, an entry where the append
	// would write) fails before the first put: the caller's transaction
	// may commit its other writes all the same.
	if err := l.checkFree(tx, b, len(ps)); err != nil {
		return 0, err
	}
	ends := make([]int, len(ps))
	for i, p := range ps {
		start, x := len(buf), first+int64(i)
		buf = spliceIndex(buf, p.enc, p.cut, x)
		if err := hashes.add(x, tlog.RecordHash(buf[start:])); err != nil {
			return 0, err
		}
		ends[i] = len(buf)
	}
	if err := l.putHashes(tx, b, hashes.first, hashes.hs); err != nil {
		return 0, err
	}
	var k [8]byte // bbolt copies keys, so one k serves every put
	start := 0
	for i, end := range ends {
		if err := b.entries.Put(putKey(&k, first+int64(i)), buf[start:end:end]); err != nil {
			return 0, err
		}
		start = end
	}
	if err := b.meta.Put(keySize, key(n)); err != nil {
		return 0, err
	}
	tx.OnCommit(func() { l.grow(n) })
	return first, nil
}

// checkFree fails an append of n entries to the log whose buckets are b
// if the entries bucket holds one at or past b.size, where the append
// would write over it: meta's size went down since Open checked it
// (checkEnds). The last key, not only position b.size, so a size that
// went down past a removed entry is caught too; putHashes checks the hash
// blocks the same way. One cursor per append, none for an append of
// nothing.
func (l *Log) checkFree(tx *bolt.Tx, b buckets, n int) error {
	if n == 0 {
		return nil
	}
	if k, _ := b.entries.Cursor().Last(); k != nil && bytes.Compare(k, key(b.size)) >= 0 {
		return l.bucketCorrupt(tx, bucketEntries, fmt.Sprintf("meta size is %d but entry %s exists", b.size, keyString(k)))
	}
	return nil
}

// grow raises Size to n; commits on one file are serialized, but their
// OnCommit hooks run after the writer lock is released, so they may arrive
// out of order.
func (l *Log) grow(n int64) {
	for {
		cur := l.size.Load()
		if n <= cur || l.size.CompareAndSwap(cur, n) {
			return
		}
	}
}
