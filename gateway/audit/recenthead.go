package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RecentHead returns a signed head of at least atLeast entries (0 for any),
// the newest the log stored if that will do: if it covers the whole log,
// or covers atLeast entries and was signed less than Config.HeadInterval
// ago. Otherwise it signs one as SignedHead does, but at most one per
// HeadInterval: asked, before that interval is over, for more entries than
// the newest head covers, it waits for the interval to end (or for ctx).
// So any number of callers, such as auditors polling the node, cost the
// log at most one signature and one synced write an interval beyond its
// schedule (SignInterval), while every head is still signed, stored and
// checked to extend the last, as SignedHead's are. atLeast must lie
// between 0 and Size.
func (l *Log) RecentHead(ctx context.Context, atLeast int64) (Head, error) {
	if n := l.Size(); atLeast < 0 || atLeast > n {
		return Head{}, fmt.Errorf("signed head: a head of at least %d entries asked for, but the log holds %d", atLeast, n)
	}
	for {
		if err := ctx.Err(); err != nil {
			return Head{}, err
		}
		h, wait, err := l.recentHeadOrWait(atLeast)
		if err != nil || wait <= 0 {
			return h, err
		}
		select {
		case <-ctx.Done():
			return Head{}, fmt.Errorf("signed head of at least %d entries: the log signs at most one every %s on demand, and the wait for it was cut short: %w",
				atLeast, l.cfg.HeadInterval, ctx.Err())
		case <-l.after(wait):
		}
	}
}

// recentHeadOrWait is one try of RecentHead: the newest stored head if it
// will do (it covers the whole log, or atLeast entries and is younger than
// HeadInterval), else a new one if one is due, else how long until one
// is. It holds signMu, so that two callers cannot both find a head due
// and sign two.
func (l *Log) recentHeadOrWait(atLeast int64) (Head, time.Duration, error) {
	l.signMu.Lock()
	defer l.signMu.Unlock()
	now := l.cfg.Now()
	h, size, err := l.newestHead()
	if errors.Is(err, errNoHead) {
		h, err := l.signHead()
		return h, 0, err
	}
	if err != nil {
		// Not signed over: a damaged log would fail each poll's commit
		// again, as often as auditors poll.
		return Head{}, 0, err
	}
	due := l.lastSigned.Add(l.cfg.HeadInterval)
	young := !l.lastSigned.IsZero() && now.Before(due)
	switch {
	case h.Size == size || h.Size >= atLeast && young:
		return h, 0, nil
	case young:
		return Head{}, due.Sub(now), nil
	}
	h, err = l.signHead()
	return h, 0, err
}

// errNoHead is newestHead's finding that the log holds no head yet.
var errNoHead = errors.New("no head signed yet")

// newestHead is the newest stored head and the log's size. It reads in a
// read transaction, so serving a head writes nothing. It fails when the
// log holds no head (errNoHead: one is signed), or was found damaged, or
// holds a head beyond its size (nothing is served then).
func (l *Log) newestHead() (Head, int64, error) {
	if err := l.damaged.Load(); err != nil {
		return Head{}, 0, *err
	}
	var h Head
	var size int64
	err := l.view(func(tx *bolt.Tx) error {
		b, err := l.buckets(tx)
		if err != nil {
			return err
		}
		k, v := b.heads.Cursor().Last()
		if k == nil {
			return errNoHead
		}
		if err := l.checkHeadsEnd(tx, b, k); err != nil {
			return err
		}
		size = b.size
		h, err = headFromStore(l.cfg.Origin, unkey(k), v)
		return err
	})
	if err != nil {
		return Head{}, 0, err
	}
	return h, size, nil
}
