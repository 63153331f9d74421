package node

import (
	"context"
	"time"

	"github.com/laborlink/laborlink/gateway/audit"
)

// AuditLog gives the package's external tests, which run whole federations
// (devfed imports this package), the node's audit log to write into.
func (n *Node) AuditLog() *audit.Log { return n.audit }

// Get is get for the external tests: they read the nodes' ops listeners.
var Get = get

// PruneInboxAt runs the node's inbox retention as if the clock read now.
func (n *Node) PruneInboxAt(ctx context.Context, now time.Time) { n.pruneOnce(ctx, now) }
