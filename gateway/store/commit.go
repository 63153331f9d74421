package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds how many writes share one transaction, so a burst cannot
// build a transaction too large to commit promptly.
const maxGroup = 512

// write is one caller's part of a group commit. fn runs inside the shared
// transaction; it must check everything before it writes, because an error
// from fn is reported to its caller alone while the other writes commit.
// A panic in fn or after stops the store (see panicked).
type write struct {
	fn func(*bolt.Tx) error
	// after, if set, runs once the transaction fn ran in has committed,
	// whatever fn returned (its writes before an error commit too), in
	// commit order and before the caller hears back.
	after func()
	done  chan error
}

// committer runs group commits: one goroutine drains the queue into a single
// bbolt transaction whenever it is free.
type committer struct {
	db    *bolt.DB
	path  string        // db's, which bbolt forgets once the file is closed
	delay time.Duration // see gather
	rel   releaser      // used by the loop alone
	log   *slog.Logger
	// mu makes closing and queueing exclusive, so nothing is queued after the
	// loop has drained for the last time.
	mu     sync.RWMutex
	closed bool
	queue  chan write
	quit   chan struct{}
	done   chan struct{}

	// marks is what readers wait for.
	marks durability
	// afterUpdate, set by tests alone, sees what db.Update returned before
	// anyone else does and may replace it: a test holds a commit there,
	// written and visible but not yet known to be durable, or fails it.
	afterUpdate func(error) error
}

func newCommitter(db *bolt.DB, delay time.Duration, releaseEvery int64, log *slog.Logger) *committer {
	c := &committer{db: db, path: db.Path(), delay: delay, rel: releaser{every: releaseEvery}, log: log, queue: make(chan write, maxGroup), quit: make(chan struct{}), done: make(chan struct{})}
	c.marks.start(db)
	go c.loop()
	return c
}

var errClosed = errors.New("store is closed")

// ErrFailed is in the error of every write and read once a commit has
// failed (errors.Is): the store then takes no more of either, and the node
// must be restarted.
var ErrFailed = errors.New("store failed")

// failedAt is the store's failure after a commit to the file at path
// failed with err.
func failedAt(path string, err error) error {
	return fmt.Errorf("%w: a commit to %s failed (%w), so the file may show what is not on disk; restart the node, which then reads the file from disk again", ErrFailed, path, err)
}

// do runs fn in a group-committed transaction and returns once it is durable.
func (c *committer) do(ctx context.Context, fn func(*bolt.Tx) error) error {
	return c.doThen(ctx, fn, nil)
}

// doThen is do, and runs after once the transaction has committed (see
// write.after).
func (c *committer) doThen(ctx context.Context, fn func(*bolt.Tx) error, after func()) error {
	if err := c.marks.failure(); err != nil {
		return err
	}
	w := write{fn: fn, after: after, done: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return errClosed
	}
	select {
	case c.queue <- w:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	// Once queued the write will be committed or failed; wait for the outcome
	// even if ctx ends, so the caller never mistakes a durable write for a lost one.
	return <-w.done
}

func (c *committer) loop() {
	defer close(c.done)
	for {
		var first write
		select {
		case first = <-c.queue:
		case <-c.quit:
			c.drain()
			return
		}
		group := []write{first}
	fill:
		for len(group) < maxGroup {
			select {
			case w := <-c.queue:
				group = append(group, w)
			default:
				break fill
			}
		}
		if len(group) > 1 && c.delay > 0 {
			group = c.gather(group)
		}
		c.commit(group)
	}
}

// gather waits up to the commit delay for more writes to join a group that
// already has company: under concurrent load each commit's page writes and
// fsyncs then serve more records (single-record submissions from 32
// clients went from about three records per commit to six, and 10% less
// CPU per record). A lone writer, whose group has no company, never waits.
func (c *committer) gather(group []write) []write {
	t := time.NewTimer(c.delay)
	defer t.Stop()
	for len(group) < maxGroup {
		select {
		case w := <-c.queue:
			group = append(group, w)
		case <-t.C:
			return group
		case <-c.quit:
			return group
		}
	}
	return group
}

// drain commits what was queued before Close.
func (c *committer) drain() {
	for {
		select {
		case w := <-c.queue:
			c.commit([]write{w})
		default:
			return
		}
	}
}

func (c *committer) commit(group []write) {
	if err := c.marks.failure(); err != nil {
		// Queued before the commit that failed had failed.
		answer(group, err)
		return
	}
	results := make([]error, len(group))
	var size int64
	var id int
	var fault *writePanic
	err := c.db.Update(func(tx *bolt.Tx) error {
		id = tx.ID()
		c.marks.writing(id)
		for i, w := range group {
			if fault = guard(func() { results[i] = w.fn(tx) }); fault != nil {
				fault.part = fmt.Sprintf("write %d of %d", i+1, len(group))
				return fault // bbolt rolls the whole group back
			}
		}
		// The size before this commit adds its pages: a release follows
		// the first commit that starts past the threshold, one late, at no
		// cost to the commits that release nothing.
		size = tx.Size()
		return nil
	})
	if c.afterUpdate != nil {
		err = c.afterUpdate(err)
	}
	if fault != nil {
		c.panicked(group, fault)
		return
	}
	if err != nil {
		c.fail(group, err)
		return
	}
	c.marks.durable(id)
	for i, w := range group {
		if w.after == nil {
			continue
		}
		if fault = guard(w.after); fault != nil {
			fault.part = fmt.Sprintf("what write %d of %d does once committed", i+1, len(group))
			c.panicked(group, fault)
			return
		}
	}
	for i, w := range group {
		w.done <- results[i]
	}
	if c.rel.grown(size) {
		if err := release(c.db); err != nil {
			// The pages stay resident until the kernel needs them or the
			// next release; nothing else depends on it.
			c.log.Warn("release the database's mapped pages", "err", err)
		}
	}
}

// fail stops the store after a commit failed with err. bbolt writes the
// meta page, lets readers see it, and only then syncs the file: a commit
// whose sync failed stays visible, and the next one builds on it, though
// none of it may be on disk (after a failed fsync, Linux may have dropped
// the dirty pages as well). Nothing the store holds can be trusted any
// more, short of reopening the file: every write and read fails from now
// on, and the writers of the group hear it as well.
func (c *committer) fail(group []write, err error) {
	answer(group, c.stop(failedAt(c.path, err)))
}

// answer tells every writer of group that its write ended with err.
func answer(group []write, err error) {
	for _, w := range group {
		w.done <- err
	}
}

// stop marks the store failed for good with failure (errors.Is ErrFailed),
// logs it with attrs and returns it.
func (c *committer) stop(failure error, attrs ...any) error {
	c.marks.failed(failure)
	c.log.Error("store failed: restart the node", append([]any{"err", failure}, attrs...)...)
	return failure
}

// writePanic is a panic in a write's fn or after, recovered by guard.
type writePanic struct {
	part  string // which write of its group, and which of its functions
	value any
	stack []byte
}

func (p *writePanic) Error() string {
	return fmt.Sprintf("%s panicked (%s)", p.part, PanicText(p.value))
}

// PanicText says what a panic was without its value, which may hold
// personal data (a write panicking with the record it wrote, a handler
// with the request it read): only a runtime error's message, which names
// types and indexes, is kept.
func PanicText(v any) string {
	if err, ok := v.(runtime.Error); ok {
		return err.Error()
	}
	return fmt.Sprintf("with a %T", v)
}

// guard runs f and returns the panic it ended in, if it did, with the
// stack where it panicked.
func guard(f func()) (p *writePanic) {
	defer func() {
		if v := recover(); v != nil {
			p = &writePanic{value: v, stack: debug.Stack()}
		}
	}()
	f()
	return nil
}

// panicked stops the store after a write of group panicked (p), a bug of
// this node's software, and answers every writer of the group with the
// failure. A panic in fn rolled the group's transaction back; one in
// after came once it was durable, and the afters behind it did not run.
//
// The store does not isolate the write that panicked, by running the
// rest of its group again without it: it has no way to run a group again.
// A write's fn runs once, collecting into its caller's variables as it
// goes (the entries a write added, the changes refused), and a write whose
// fn returned an error is not taken out either: what it wrote before the
// error commits with the rest. Nor can a rollback undo what the panic left
// half done outside the transaction: the queue depths an after keeps, a
// caller's own state. So the store stops as after a failed commit, and the
// writers, told so, send again once the node restarts: nothing accepted is
// lost (an after's commit is durable, and the writes again find it there),
// and the panic, logged with its stack (which shows arguments as machine
// words, never what they point to), is not built on.
func (c *committer) panicked(group []write, p *writePanic) {
	failure := fmt.Errorf("%w: %s in a commit to %s; a fault of this node's software, so the store takes no more; restart the node", ErrFailed, p, c.path)
	answer(group, c.stop(failure, "stack", string(p.stack)))
}

// Update runs fn in a write transaction of the store's file for another
// component that keeps buckets of its own there (the audit log's own
// appends and heads), as one of the store's group commits, and returns
// once it is durable: fn's error, or the store's failure. fn writes to
// its own buckets alone and checks everything before it writes, as any
// write of a group commit must (see write).
//
// Every commit of the file goes through the committer, so that a commit
// that fails stops the store before another builds on it. bbolt lets the
// next writer in as soon as a commit has written its meta page and then
// failed its sync, showing what it wrote: a commit of its own, made
// between that failure and the store hearing of it, would be answered
// durable though it built on pages that may not be on disk.
func (s *Store) Update(fn func(*bolt.Tx) error) error {
	return s.c.do(context.Background(), fn)
}

func (c *committer) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.quit)
	<-c.done
}
