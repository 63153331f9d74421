package api

import (
	"context"
	"fmt"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/pki"
)

// Auditors of another province reach the audit routes (OwnProvince lets
// them through) to reconcile their province's flows with this node's log.
// They see what the peer API would give their province's node and no more:
// the flows between their province and this one (entries, stats, export),
// and the signed head and proofs, which hold sizes and hashes only. Reading
// raw entries, verifying the whole log and reconciling it with a third
// province read every province's flows, or make the node work on the
// caller's behalf: those are for this province's callers alone.

// foreignAuditRoutes names what an auditor of another province may call,
// for the errors that refuse it something else.
const foreignAuditRoutes = "entries, stats, export, head and proof, of the flows between its province and this one"

// requireAuditOf admits a caller of kinds to a route that reads flows of
// the log, narrowing f to what the caller may see: the whole log for a
// caller of province own, the flows between the two provinces for an
// auditor of another, who is refused a filter that names other flows.
func requireAuditOf(ctx context.Context, own audit.Province, f *audit.Filter, kinds ...pki.Kind) error {
	id, err := auth.Require(ctx, kinds...)
	if err != nil {
		return err
	}
	theirs := audit.Province(id.Province)
	if theirs == own {
		return nil
	}
	if id.Kind != pki.KindAuditor {
		return fmt.Errorf("%w: %s belongs to province %s; this node's local API serves province %s", auth.ErrForbidden, id, id.Province, own)
	}
	pair := audit.Pair{Origin: own, Destination: theirs}
	if f.Pair != nil && !f.Pair.SameProvinces(pair) {
		return fmt.Errorf("%w: pair %s:%s: %s may read %s", auth.ErrForbidden, f.Pair.Origin, f.Pair.Destination, id, foreignAuditRoutes)
	}
	if f.Between != nil && !f.Between.SameProvinces(pair) {
		return fmt.Errorf("%w: between %s and %s: %s may read %s", auth.ErrForbidden, f.Between.Origin, f.Between.Destination, id, foreignAuditRoutes)
	}
	f.Between = &pair
	return nil
}

// requireOwnAuditor admits only callers of kinds of province own, to a
// route (named for the error) that an auditor of another province may not
// call.
func requireOwnAuditor(ctx context.Context, own audit.Province, route string, kinds ...pki.Kind) error {
	id, err := auth.Require(ctx, kinds...)
	if err != nil {
		return err
	}
	if audit.Province(id.Province) != own {
		return fmt.Errorf("%w: %s is for province %s's own callers; %s of province %s may call %s", auth.ErrForbidden, route, own, id, id.Province, foreignAuditRoutes)
	}
	return nil
}
