package audit

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// appendReq is one Append waiting for the committer.
type appendReq struct {
	p    Prepared
	done chan appendResult // buffered, so the committer never blocks on it
}

type appendResult struct {
	index int64
	err   error
}

// Append validates e, adds it to the log and returns its position once it is
// durable (fsync'd). Concurrent appends share a transaction, so the cost of
// the fsync is spread over the batch; each validates and encodes its entry
// before it queues, so the shared transaction only writes.
//
// If ctx ends while the entry is queued or committing, Append returns the
// context's error but the entry may still be written: an audit entry is never
// withdrawn once handed over.
func (l *Log) Append(ctx context.Context, e Entry) (int64, error) {
	if e.Time.IsZero() {
		e.Time = l.cfg.Now()
	}
	p, err := prepare(&e)
	if err != nil {
		return 0, err
	}
	r := &appendReq{p: p, done: make(chan appendResult, 1)}
	if err := l.enqueue(ctx, r); err != nil {
		return 0, err
	}
	select {
	case res := <-r.done:
		return res.index, res.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// AppendAll appends entries concurrently, so that they share group commits
// instead of waiting for one fsync each, and returns once all are durable
// (or the first error). Their order in the log is not specified.
func (l *Log) AppendAll(ctx context.Context, entries []Entry) error {
	errs := make(chan error, len(entries))
	for _, e := range entries {
		go func() {
			_, err := l.Append(ctx, e)
			errs <- err
		}()
	}
	var first error
	for range entries {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (l *Log) enqueue(ctx context.Context, r *appendReq) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	select {
	case l.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitLoop is the group commit: take whatever is queued (up to MaxBatch),
// write it in one transaction, answer everyone, repeat. While one batch is
// being fsync'd the next one queues up, so batches grow with load.
func (l *Log) commitLoop() {
	defer close(l.done)
	batch := make([]*appendReq, 0, l.cfg.MaxBatch)
	for r := range l.reqs {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < l.cfg.MaxBatch {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		l.commit(batch)
	}
}

// update makes a commit of the log's own: through Config.Update when the
// log shares its file with a writer that makes every commit of it, else
// with db.Update.
func (l *Log) update(fn func(*bolt.Tx) error) error {
	if l.cfg.Update != nil {
		return l.cfg.Update(fn)
	}
	return l.db.Update(fn)
}

// commit writes a batch of appends in one transaction and answers each.
func (l *Log) commit(batch []*appendReq) {
	ps := make([]Prepared, len(batch))
	for i, r := range batch {
		ps[i] = r.p
	}
	var first int64
	err := l.update(func(tx *bolt.Tx) error {
		var err error
		first, err = l.appendTx(tx, ps)
		return err
	})
	if err != nil {
		err = fmt.Errorf("append to audit log: %w", err)
	}
	for i, r := range batch {
		r.done <- appendResult{index: first + int64(i), err: err}
	}
}
