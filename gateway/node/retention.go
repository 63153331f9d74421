package node

import (
	"context"
	"math"
	"time"
)

// minRetention is the shortest inbox.retention: an entry must stay long
// enough for a system that pulls the inbox to have read it.
const minRetention = 24 * time.Hour

// pruneInterval is how often a node with inbox.retention prunes its inbox.
const pruneInterval = time.Hour

// pruneInbox drops, at start and then every interval, the envelopes and
// records of inbox entries older than inbox.retention (store.PruneInbox).
func (n *Node) pruneInbox(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n.pruneOnce(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneOnce prunes what is due at now. With a webhook, nothing past what
// the provincial system acknowledged is pruned, however old: it has not
// had it yet.
func (n *Node) pruneOnce(ctx context.Context, now time.Time) {
	upTo := uint64(math.MaxUint64)
	if n.webhook != nil {
		pushed, err := n.webhook.Pushed()
		if err != nil {
			n.log.Error("inbox retention: read the webhook's position", "err", err)
			return
		}
		upTo = pushed
	}
	pruned, err := n.store.PruneInbox(ctx, now.Add(-n.cfg.Inbox.Retention), upTo)
	n.metrics.inboxPruned.Add(float64(pruned))
	if pruned > 0 {
		n.log.Info("inbox retention: dropped envelopes and records", "entries", pruned, "retention", n.cfg.Inbox.Retention.String())
	}
	if err != nil && ctx.Err() == nil {
		n.log.Error("inbox retention", "err", err)
	}
}
