package store

import bolt "go.etcd.io/bbolt"

// DefaultReleaseEvery is how far a store's data grows between two releases
// of its mapped pages (see releaser). Releases follow growth alone: pages
// read since the last one (a scan of every case, say) stay resident until
// the next, however long a node that writes little takes to reach it.
const DefaultReleaseEvery = 16 << 20

// releaser keeps the database's pages from piling up in the process's
// resident set. bbolt reads the file through a shared, read-only mapping,
// and every page read through it stays mapped, counted in the process's
// resident memory, until the kernel runs short or the mapping is remade
// (bbolt remaps only when the file outgrows it, by doubling). A node reads
// back what it has just written (the outbox, the records it marks
// delivered), so its resident memory grew with its database: 211 MB over
// 100 000 records (docs/performance.md). Releasing the mapping's pages
// (madvise DONTNEED) drops them from the resident set only: the data stays
// in the file and the kernel's page cache, and the next read of a page maps
// it again without I/O. The commit loop releases after it has answered the
// commit's writers: 0.6 ms for a 128 MiB file of which the last 16 MiB were
// read, 5 ms when all of it was (BenchmarkRelease).
type releaser struct {
	every int64 // bytes of growth between releases; 0 is never
	last  int64 // the data size at the last release
}

// grown reports whether the data, now size bytes, has grown by every since
// the last release, and counts from size if so.
func (r *releaser) grown(size int64) bool {
	if r.every <= 0 || size-r.last < r.every {
		return false
	}
	r.last = size
	return true
}

// release drops the pages of db's mapping from the resident set. The read
// transaction holds the mapping in place: bbolt remaps only once every
// reader is done.
func release(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		return dropResident(db.Info().Data, tx.Size())
	})
}
