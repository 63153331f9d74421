package audit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
)

// BenchmarkAppend measures the amortized cost of one durable append (fsync
// on) as the number of concurrent appenders grows: group commit spreads each
// fsync over the batch that queued behind it.
func BenchmarkAppend(b *testing.B) {
	for _, appenders := range []int{1, 16, 64, 256} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			cfg := testConfig(b)
			l, err := OpenFile(filepath.Join(b.TempDir(), "audit.db"), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			e := sentEntry(1)
			b.SetParallelism((appenders + 1) / 2) // RunParallel uses GOMAXPROCS × this
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Append(context.Background(), e); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// benchLogSize is the size of the log the proof benchmarks run on:
// AUDIT_BENCH_N, default one million.
func benchLogSize() int64 {
	if n, err := strconv.ParseInt(os.Getenv("AUDIT_BENCH_N"), 10, 64); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

var bigLog struct {
	once sync.Once
	dir  string
	l    *Log
	err  error
}

// openBigLog builds, once per test binary, a log whose tree hashes are those
// of n synthetic entries. It is the fast bulk path: leaf and interior hashes
// are computed in memory with tlog and written in large sequential
// transactions; entry bodies but the last are not stored, since proofs only
// read hashes.
func openBigLog(b *testing.B) *Log {
	b.Helper()
	bigLog.once.Do(func() {
		bigLog.dir, bigLog.err = os.MkdirTemp("", "audit-bench-")
		if bigLog.err != nil {
			return
		}
		n := benchLogSize()
		start := time.Now()
		db, err := bolt.Open(filepath.Join(bigLog.dir, "big.db"), 0o600, &bolt.Options{NoSync: true, NoFreelistSync: true})
		if err != nil {
			bigLog.err = err
			return
		}
		cfg := testConfig(b)
		if bigLog.err = createBig(db, cfg.Bucket, n); bigLog.err != nil {
			return
		}
		bigLog.l, bigLog.err = Open(db, cfg)
		fmt.Fprintf(os.Stderr, "built a %d-entry tree in %v\n", n, time.Since(start).Round(time.Second))
	})
	if bigLog.err != nil {
		b.Fatal(bigLog.err)
	}
	return bigLog.l
}

// memTree is a whole tree's stored hashes in memory.
type memTree []tlog.Hash

func (m memTree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(m)) {
			return nil, fmt.Errorf("hash %d not computed", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

func createBig(db *bolt.DB, bucket string, n int64) error {
	hashes := make(memTree, 0, tlog.StoredHashCount(n))
	entry := sentEntry(0)
	for i := range n {
		entry.Index = i
		data, err := entry.Marshal()
		if err != nil {
			return err
		}
		hs, err := tlog.StoredHashes(i, data, hashes)
		if err != nil {
			return err
		}
		hashes = append(hashes, hs...)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return createBuckets(tx, bucket) }); err != nil {
		return err
	}
	const chunk = 1 << 20
	for lo := 0; lo < len(hashes); lo += chunk {
		hi := min(lo+chunk, len(hashes))
		err := db.Update(func(tx *bolt.Tx) error {
			hb := tx.Bucket([]byte(bucket)).Bucket(bucketHashes)
			hb.FillPercent = 1.0
			for i := lo; i < hi; i++ {
				if err := hb.Put(key(int64(i)), hashes[i][:]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	// Laid out as a log written before hash blocks: its hashes stay in
	// bucketHashes, and appends after them go to blocks. Of the entries,
	// only the last is stored, where open checks the log ends.
	return db.Update(func(tx *bolt.Tx) error {
		entry.Index = n - 1
		data, err := entry.Marshal()
		if err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bucket)).Bucket(bucketEntries).Put(key(n-1), data); err != nil {
			return err
		}
		meta := tx.Bucket([]byte(bucket)).Bucket(bucketMeta)
		if err := meta.Put(keySize, key(n)); err != nil {
			return err
		}
		return meta.Put(keyBlocksFrom, key(int64(len(hashes))))
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigLog.l != nil {
		bigLog.l.Close()
		bigLog.l.db.Close()
	}
	if bigLog.dir != "" {
		os.RemoveAll(bigLog.dir)
	}
	os.Exit(code)
}

// BenchmarkInclusionProof serves and checks inclusion proofs for random
// entries of the big log, as an auditor would ask for them.
func BenchmarkInclusionProof(b *testing.B) {
	l := openBigLog(b)
	ctx := context.Background()
	n := l.Size()
	root, err := l.RootAt(ctx, n)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	b.Run("prove", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.InclusionProof(ctx, r.Int64N(n), n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("check", func(b *testing.B) {
		i := r.Int64N(n)
		p, _ := l.InclusionProof(ctx, i, n)
		leaf, _ := readLeaf(l, i)
		for b.Loop() {
			if err := tlog.CheckRecord(p, n, root, i, leaf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// readLeaf reads a leaf hash from storage, since the bulk path stores no
// entry bodies.
func readLeaf(l *Log, i int64) (h tlog.Hash, err error) {
	err = l.readHashes(context.Background(), func(r tlog.HashReader) error {
		hs, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
		if err == nil {
			h = hs[0]
		}
		return err
	})
	return h, err
}

// BenchmarkConsistencyProof serves consistency proofs from a random earlier
// size to the big log's size, as between an auditor's kept head and today's.
func BenchmarkConsistencyProof(b *testing.B) {
	l := openBigLog(b)
	ctx := context.Background()
	n := l.Size()
	r := rand.New(rand.NewPCG(3, 4))
	for b.Loop() {
		if _, err := l.ConsistencyProof(ctx, 1+r.Int64N(n-1), n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignedHead signs a head over the big log after one more append.
func BenchmarkSignedHead(b *testing.B) {
	l := openBigLog(b)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		if _, err := l.Append(ctx, sentEntry(1)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := l.SignedHead(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is the auditor's full check of a clean 10 000-entry log
// against its head (recompute the tree from the entries); divide by 10 000
// for the per-entry cost.
func BenchmarkVerify(b *testing.B) {
	l, _ := newTestLog(b)
	ctx := context.Background()
	_, a, _ := traffic(5000, 9)
	for _, e := range a {
		if _, err := l.Append(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	head, err := l.SignedHead(ctx)
	if err != nil {
		b.Fatal(err)
	}
	raws, err := l.RawEntries(ctx, 0, head.Size)
	if err != nil {
		b.Fatal(err)
	}
	in := VerifyInput{Entries: raws, Latest: head.Note, Origin: testOrigin, Verifier: testVerifier(b)}
	for b.Loop() {
		if rep, err := Verify(ctx, in); err != nil || !rep.OK() {
			b.Fatal(err, rep.Findings)
		}
	}
}

// BenchmarkEntryMarshal encodes a typical flow entry, the work every append
// does once per entry.
func BenchmarkEntryMarshal(b *testing.B) {
	e := sentEntry(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendTx appends batches of entries inside a caller's write
// transaction (fsync off, so the audit log's own work shows), as the store's
// group commit does: with AppendTx, and with Prepare before the transaction
// and AppendPreparedTx in it. intx-ns/entry is the time spent inside the
// transaction per entry: what every other writer of the file waits for.
func BenchmarkAppendTx(b *testing.B) {
	const batch = 32
	ways := []struct {
		name   string
		append func(l *Log, db *bolt.DB, es []Entry, inTx *time.Duration) error
	}{
		{"AppendTx", func(l *Log, db *bolt.DB, es []Entry, inTx *time.Duration) error {
			return db.Update(func(tx *bolt.Tx) error {
				defer timeSince(time.Now(), inTx)
				return l.AppendTx(tx, es...)
			})
		}},
		{"AppendPreparedTx", func(l *Log, db *bolt.DB, es []Entry, inTx *time.Duration) error {
			ps, err := l.Prepare(es...)
			if err != nil {
				return err
			}
			return db.Update(func(tx *bolt.Tx) error {
				defer timeSince(time.Now(), inTx)
				return l.AppendPreparedTx(tx, ps...)
			})
		}},
	}
	for _, way := range ways {
		b.Run(way.name, func(b *testing.B) {
			l, db := newTestLog(b)
			es := make([]Entry, batch)
			var inTx time.Duration
			b.ReportAllocs()
			for b.Loop() {
				for i := range es {
					es[i] = sentEntry(i)
				}
				if err := way.append(l, db, es, &inTx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(inTx.Nanoseconds())/float64(b.N*batch), "intx-ns/entry")
		})
	}
}

// timeSince adds the time since start to *d.
func timeSince(start time.Time, d *time.Duration) { *d += time.Since(start) }
