package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/gateway/boltfile"
)

// ErrClosed is returned by operations on a closed Log.
var ErrClosed = errors.New("audit log is closed")

// Log is a node's append-only audit log. All methods are safe for concurrent
// use; appends are group-committed by one goroutine, reads run in their own
// bbolt read transactions and never wait for a commit.
type Log struct {
	db    *bolt.DB
	ownDB bool
	cfg   Config

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
	reqs   chan *appendReq
	done   chan struct{} // closed when the committer has drained and exited

	size atomic.Int64 // committed entries

	signMu     sync.Mutex                           // one signer at a time, so heads are stored in order
	lastSigned time.Time                            // when this process last stored a head; zero for none; under signMu
	after      func(time.Duration) <-chan time.Time // RecentHead's wait for a head to be due; tests replace it
	damaged    atomic.Pointer[error]                // see Damaged
	stopSigner context.CancelFunc
	signerDone chan struct{}
}

// Open opens (creating if needed) the audit log kept in db under
// cfg.Bucket. The caller keeps ownership of db and closes it after Close.
func Open(db *bolt.DB, cfg Config) (*Log, error) {
	return open(db, cfg, nil)
}

// OpenFile opens the audit log in a bbolt file of its own, created with mode
// 0600 if missing. Close closes the file.
func OpenFile(path string, cfg Config) (*Log, error) {
	db, err := boltfile.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	l, err := open(db, cfg, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	l.ownDB = true
	return l, nil
}

// open lets tests drive the head scheduler with their own ticks.
func open(db *bolt.DB, cfg Config, ticks <-chan time.Time) (*Log, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Log{db: db, cfg: cfg, reqs: make(chan *appendReq, cfg.MaxBatch), done: make(chan struct{}), after: time.After}
	err := l.update(func(tx *bolt.Tx) error {
		if err := createBuckets(tx, cfg.Bucket); err != nil {
			return err
		}
		b, err := l.buckets(tx)
		if err != nil {
			return err
		}
		if err := l.checkEnds(tx, b); err != nil {
			return err
		}
		if err := l.checkLastHead(tx, b); err != nil {
			return err
		}
		l.size.Store(b.size)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	go l.commitLoop()
	l.startSigner(ticks)
	return l, nil
}

// Close stops the head schedule, commits every append already accepted,
// and, if the log opened its own file, closes it. Appends after Close fail
// with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.reqs)
	l.mu.Unlock()
	<-l.done
	l.stopSigner()
	<-l.signerDone
	if l.ownDB {
		return l.db.Close()
	}
	return nil
}

// Origin is the log's name in its checkpoints.
func (l *Log) Origin() string { return l.cfg.Origin }

// Size is the number of durable entries.
func (l *Log) Size() int64 { return l.size.Load() }

// RawEntry is an entry as stored: its position in the log and its canonical
// bytes. Verification works on raw entries, since a tampered entry may not
// even parse.
type RawEntry struct {
	Position int64
	Data     []byte
}

// Scan calls fn for each stored entry with start <= position < end, in
// order. A removed entry shows as a missing position. fn must not keep
// Data beyond the call unless it copies it. What fn was given counts
// only when Scan returns nil: with Config.View, fn may see entries whose
// commit then fails.
func (l *Log) Scan(ctx context.Context, start, end int64, fn func(RawEntry) error) error {
	return l.view(func(tx *bolt.Tx) error {
		b, err := l.buckets(tx)
		if err != nil {
			return err
		}
		return scanTx(ctx, b, start, end, fn)
	})
}

// view reads the log's entries for a caller that shows or acts on them:
// through Config.View when set, else with db.View.
func (l *Log) view(fn func(*bolt.Tx) error) error {
	if l.cfg.View != nil {
		return l.cfg.View(fn)
	}
	return l.db.View(fn)
}

// scanTx is Scan in a read transaction of the caller's, over its buckets.
func scanTx(ctx context.Context, b buckets, start, end int64, fn func(RawEntry) error) error {
	c := b.entries.Cursor()
	for k, v := c.Seek(key(start)); k != nil && unkey(k) < end; k, v = c.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(RawEntry{Position: unkey(k), Data: v}); err != nil {
			return err
		}
	}
	return nil
}

// RawEntries returns copies of the stored entries in [start, end).
func (l *Log) RawEntries(ctx context.Context, start, end int64) ([]RawEntry, error) {
	var out []RawEntry
	err := l.Scan(ctx, start, end, func(r RawEntry) error {
		out = append(out, RawEntry{r.Position, append([]byte(nil), r.Data...)})
		return nil
	})
	if err != nil {
		return nil, err // what Scan gave may not be durable
	}
	return out, nil
}

// Entries returns the decoded entries in [start, end).
func (l *Log) Entries(ctx context.Context, start, end int64) ([]Entry, error) {
	var out []Entry
	err := l.Scan(ctx, start, end, func(r RawEntry) error {
		e, err := ParseEntry(r.Data)
		if err != nil {
			return fmt.Errorf("entry %d: %w", r.Position, err)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MaxQueryEntries bounds the entries Query returns, and so what a query,
// a reconciliation or a peer's request holds in a node's memory (a few
// hundred bytes each). Export and Stats read any number.
const MaxQueryEntries = 100_000

// ErrTooManyEntries is wrapped by Query's error when more entries match.
var ErrTooManyEntries = errors.New("too many entries")

// queryLimit is MaxQueryEntries; tests lower it.
var queryLimit = MaxQueryEntries

// scanChunk is how many positions Each reads in one read transaction.
var scanChunk int64 = 4096

// Each calls fn for every entry that matches f, in log order. It reads the
// log scanChunk positions at a time and calls fn outside the read
// transaction, so a slow consumer (an export to a slow client) never keeps
// one open: bbolt cannot grow its file while one is. It reads the entries
// of the log as its first transaction sees it, not up to Size: that grows
// only after a commit's writer lock is released, so a reader could
// otherwise see what an entry was written with (a record's state, in the
// same commit) and not the entry. Entries appended after that transaction
// are not read, so that an export of a busy log ends.
func (l *Log) Each(ctx context.Context, f Filter, fn func(Entry) error) error {
	var chunk []Entry
	for start, size := int64(0), int64(-1); size < 0 || start < size; start += scanChunk {
		chunk = chunk[:0]
		err := l.view(func(tx *bolt.Tx) error {
			b, err := l.buckets(tx)
			if err != nil {
				return err
			}
			if size < 0 {
				size = b.size
			}
			return scanTx(ctx, b, start, min(start+scanChunk, size), func(r RawEntry) error {
				e, err := ParseEntry(r.Data)
				if err != nil {
					return fmt.Errorf("entry %d: %w", r.Position, err)
				}
				if f.Match(e) {
					chunk = append(chunk, e)
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		for _, e := range chunk {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// Query returns the entries that match f, in log order, at most
// MaxQueryEntries of them: beyond, it fails with ErrTooManyEntries, telling
// the caller to narrow the window.
func (l *Log) Query(ctx context.Context, f Filter) ([]Entry, error) {
	var out []Entry
	err := l.Each(ctx, f, func(e Entry) error {
		if len(out) == queryLimit {
			return fmt.Errorf("%w: more than %d match; narrow the window with from and to, or export it", ErrTooManyEntries, queryLimit)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Stats aggregates the entries that match f (see Stats), holding only the
// aggregates, however many entries there are.
func (l *Log) Stats(ctx context.Context, f Filter, now time.Time) (Summary, error) {
	// Every entry is read, as Each reads them all for f anyway (see
	// StatsFor).
	var b statsBuilder
	err := l.Each(ctx, Filter{}, func(e Entry) error { b.take(e, f); return nil })
	if err != nil {
		return Summary{}, err
	}
	return b.summary(now), nil
}
