package node

import (
	"context"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/store"
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
	pruned, err := n.store.PruneInboxAnd(ctx, now.Add(-n.cfg.Inbox.Retention), upTo, n.auditPruned)
	n.metrics.inboxPruned.Add(float64(pruned))
	if pruned > 0 {
		n.log.Info("inbox retention: dropped envelopes and records", "entries", pruned, "retention", n.cfg.Inbox.Retention.String())
	}
	if err != nil && ctx.Err() == nil {
		n.log.Error("inbox retention", "err", err)
	}
}

// auditPruned writes a pruned entry for each inbox entry retention pruned,
// in the transaction that prunes it: the auditor's evidence that personal
// data was dropped, and when.
func (n *Node) auditPruned(tx *bolt.Tx, pruned []store.Incoming) error {
	entries := make([]audit.Entry, len(pruned))
	types := audit.RecordTypes()
	for i, m := range pruned {
		entries[i] = audit.Entry{Kind: audit.KindPruned, EnvelopeID: m.EnvelopeID,
			Origin: audit.Province(m.From), Destination: audit.Province(n.cfg.Province)}
		if slices.Contains(types, m.Type) {
			entries[i].RecordType = m.Type
		}
		if cleared := entries[i].Scrub(); cleared != nil {
			n.log.Warn("pruned audit entry written without identifiers the audit log refuses", "seq", m.Seq, "cleared", cleared)
		}
	}
	return n.audit.AppendTx(tx, entries...)
}
