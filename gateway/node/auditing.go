package node

import (
	"context"

	"golang.org/x/mod/sumdb/note"

	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/audit"
)

// auditing is the audit log as the local API serves it, with the checkpoint
// key's verifier for the node's check of its own log.
type auditing struct {
	*audit.Log
	verifier note.Verifier
}

var _ api.Auditing = auditing{}

// Verify checks the stored log against its recent head (audit.Log.Audit:
// signed at most once a head interval, as GET /api/v1/audit/head serves
// it) and the earlier head the caller kept, if any. It is the node
// checking itself: only an auditor who got the verifier key out of band
// checks it independently.
func (a auditing) Verify(ctx context.Context, earlier []byte) (audit.Report, error) {
	return a.Audit(ctx, earlier, a.verifier)
}
