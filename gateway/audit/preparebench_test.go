package audit

import (
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
	src := make([]Entry, batch)
	for i := range src {
		src[i] = sentEntry(i)
	}
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
