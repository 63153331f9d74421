package store

import (
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// durability tells readers whether what they read is on disk. bbolt lets
// readers see a commit as soon as it has written the meta page, before it
// syncs the file (bbolt v1.4.3, tx.go writeMeta): a reader that acted on a
// commit in that gap would act on one a power cut may take back, or that
// fails and is never on disk at all. So the committer publishes the last
// transaction it knows is durable, and a reader that saw a later one waits
// for it (Store.view).
//
// Another component keeping buckets in the file (the audit log) commits
// through the committer too (Store.Update), so that no commit of the file
// escapes this: a writer of its own would move the transaction id on
// without the committer knowing, and only the committer's commits are
// waited for.
type durability struct {
	// synced is the id of the committer's last commit known durable, or of
	// the file's last transaction when the store opened.
	synced atomic.Int64
	// latest is the id of the committer's newest transaction, stored before
	// its meta page is written: above synced while that commit is on its
	// way, or failed.
	latest atomic.Int64
	err    atomic.Pointer[error] // set once, as the store fails

	mu      sync.Mutex // held to publish, and to wait for what is published
	changed sync.Cond
	waiting int // readers in wait, under mu: tests wait for one
}

// start begins from the file's transaction as it is: written by the last
// process that had it open, or by Open's own commit, and durable either way.
// Should it not be read, synced stays 0, which only sends reads down the
// slower path of await until the first commit.
func (d *durability) start(db *bolt.DB) {
	d.changed.L = &d.mu
	db.View(func(tx *bolt.Tx) error {
		d.synced.Store(int64(tx.ID()))
		return nil
	})
}

// writing notes that the committer's transaction id has begun. It is
// called in that transaction, so before its meta page can be seen.
func (d *durability) writing(id int) { d.latest.Store(int64(id)) }

// durable publishes that the committer's transaction id is on disk.
func (d *durability) durable(id int) {
	d.mu.Lock()
	d.synced.Store(int64(id))
	d.mu.Unlock()
	d.changed.Broadcast()
}

// failed publishes that the store failed with err, for good.
func (d *durability) failed(err error) {
	d.mu.Lock()
	d.err.Store(&err)
	d.mu.Unlock()
	d.changed.Broadcast()
}

// failure is why the store failed; nil while it has not.
func (d *durability) failure() error {
	if err := d.err.Load(); err != nil {
		return *err
	}
	return nil
}

// await returns once the store's content as of transaction id is durable,
// or with the store's failure. A read transaction must have ended before it
// is called: a commit may wait for readers to remap a growing file.
func (d *durability) await(id int) error {
	if err := d.err.Load(); err != nil {
		return *err
	}
	if int64(id) <= d.synced.Load() {
		return nil
	}
	return d.wait(int64(id))
}

func (d *durability) wait(id int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		if err := d.err.Load(); err != nil {
			return *err
		}
		// Past synced, the committer has at most one commit on its way,
		// latest. Once latest is synced (id is another writer's), or began
		// after id (so every commit of the committer's before it
		// succeeded), nothing id holds of the store's waits on a sync.
		synced, latest := d.synced.Load(), d.latest.Load()
		if id <= synced || latest <= synced || latest > id {
			return nil
		}
		d.waiting++
		d.changed.Wait()
		d.waiting--
	}
}

// view is db.View for reads whose result is acted on or shown: it returns
// what fn read only once that is durable (see durability), and fails once
// the store has failed, whatever fn returned.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	id, began := 0, false
	err := s.db.View(func(tx *bolt.Tx) error {
		id, began = tx.ID(), true
		return fn(tx)
	})
	if !began {
		// The file could not be read at all: after a failure, that is
		// the failure (a closed file, say), which the caller must see.
		if failed := s.c.marks.failure(); failed != nil {
			return failed
		}
		return err
	}
	if err := s.c.marks.await(id); err != nil {
		return err
	}
	return err
}

// View is view for another component that keeps buckets of its own in
// the store's file and shows what it reads (the audit log's entries): it
// returns once what fn read is durable, or with the store's failure. fn
// may have seen what a commit wrote before its sync failed; what it read
// counts only when View returns nil.
func (s *Store) View(fn func(*bolt.Tx) error) error { return s.view(fn) }

// Failed is nil while the store works. Once a commit has failed it is why
// (errors.Is ErrFailed): the store then takes no more reads or writes, and
// the node must be restarted to reopen its file.
func (s *Store) Failed() error { return s.c.marks.failure() }
