package audit

import (
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkPrepareAppend100 is the exchange's shape: the entries of a batch
// of 100 records prepared before the store's write transaction, then
// appended in it (fsync off, so the audit log's own work shows). The log
// grows by 100 entries each iteration. ns/entry is Prepare, the append and
// the bbolt puts together; intx-ns/entry the part inside the transaction.
func BenchmarkPrepareAppend100(b *testing.B) {
	const batch = 100
	l, db := newTestLog(b)
	src := sentEntries(0, batch)
	es := make([]Entry, batch)
	var inTx time.Duration
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		copy(es, src)
		ps, err := l.Prepare(es...)
		if err != nil {
			b.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			defer timeSince(time.Now(), &inTx)
			return l.AppendPreparedTx(tx, ps...)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*batch), "ns/entry")
	b.ReportMetric(float64(inTx.Nanoseconds())/float64(b.N*batch), "intx-ns/entry")
}

// BenchmarkPrepare100 is the part of BenchmarkPrepareAppend100 before the
// transaction: validating and encoding the 100 entries.
func BenchmarkPrepare100(b *testing.B) {
	benchmarkPrepare(b, sentEntries(0, 100))
}

// benchmarkPrepare prepares a copy of src at each iteration.
func benchmarkPrepare(b *testing.B, src []Entry) {
	l, _ := newTestLog(b)
	es := make([]Entry, len(src))
	b.ReportAllocs()
	for b.Loop() {
		copy(es, src)
		if _, err := l.Prepare(es...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendPrepared100 is the part of BenchmarkPrepareAppend100 inside
// the transaction but for bbolt's commit: the transaction is rolled back,
// so every iteration appends the same 100 prepared entries at the end of a
// log of 10 000.
func BenchmarkAppendPrepared100(b *testing.B) {
	const batch = 100
	l, db := newTestLog(b)
	for range 100 {
		es := sentEntries(0, batch)
		if err := db.Update(func(tx *bolt.Tx) error { return l.AppendTx(tx, es...) }); err != nil {
			b.Fatal(err)
		}
	}
	ps, err := l.Prepare(sentEntries(0, batch)...)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		err := db.Update(func(tx *bolt.Tx) error {
			if err := l.AppendPreparedTx(tx, ps...); err != nil {
				return err
			}
			return errRollback
		})
		if err != errRollback {
			b.Fatal(err)
		}
	}
}

var errRollback = errors.New("roll back")

// sentEntries is the n sent entries from sentEntry(from) on, as a batch
// of n records makes them.
func sentEntries(from, n int) []Entry {
	es := make([]Entry, n)
	for i := range es {
		es[i] = sentEntry(from + i)
	}
	return es
}

// BenchmarkPrepare100Now is BenchmarkPrepare100 for entries without a time,
// as the exchange makes them: Prepare stamps them all with the same now.
func BenchmarkPrepare100Now(b *testing.B) {
	src := sentEntries(0, 100)
	for i := range src {
		src[i].Time = time.Time{}
	}
	benchmarkPrepare(b, src)
}
