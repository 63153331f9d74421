package audit

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// ErrOtherFile is returned by AppendTx for a transaction on another file.
var ErrOtherFile = errors.New("transaction is not on the audit log's file")

// DB is the bbolt file the log lives in, so a component sharing it can tell
// whether AppendTx is open to it.
func (l *Log) DB() *bolt.DB { return l.db }

// AppendTx appends entries inside the caller's write transaction on the log's
// own file, so they are durable exactly when the caller's other writes are:
// a node writes the "sent" entries of a submission in the transaction that
// queues its envelopes, and saves a transaction (and its fsyncs) per commit.
//
// Every entry is validated before anything is written, so an invalid entry
// fails the call with the transaction untouched; the caller should call
// AppendTx before its own writes, so such an error leaves nothing behind. The
// entries' indexes follow those already in the transaction; Size counts them
// once it commits.
func (l *Log) AppendTx(tx *bolt.Tx, es ...Entry) error {
	if tx.DB() != l.db {
		return ErrOtherFile
	}
	data := make([][]byte, len(es))
	now := l.cfg.Now()
	for i := range es {
		if es[i].Time.IsZero() {
			es[i].Time = now
		}
		if err := es[i].Validate(); err != nil {
			return err
		}
	}
	b, err := l.buckets(tx)
	if err != nil {
		return err
	}
	n := b.size()
	for i := range es {
		es[i].Index = n + int64(i)
		if data[i], err = es[i].Marshal(); err != nil {
			return err
		}
	}
	for i := range es {
		if err := putEntry(b, n+int64(i), data[i]); err != nil {
			return fmt.Errorf("append to audit log: %w", err)
		}
	}
	n += int64(len(es))
	if err := b.meta.Put(keySize, key(n)); err != nil {
		return fmt.Errorf("append to audit log: %w", err)
	}
	tx.OnCommit(func() { l.grow(n) })
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
