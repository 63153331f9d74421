package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-kit/kit/endpoint"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/pki"
)

// The audit operations of `laborlink audit export|verify|reconcile`, served
// on the node for the console: their endpoints and their transport.

// Export formats.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// ReconcileMargin is how far beyond a reconciliation's window both logs are
// read, so that a flow sent just inside the window finds its counterpart
// logged just outside it (a delivery retried after an outage).
const ReconcileMargin = 24 * time.Hour

// errPeerUnavailable wraps failures to read another province's log.
var errPeerUnavailable = errors.New("peer unavailable")

// AuditExportRequest selects entries and the format to write them in.
type AuditExportRequest struct {
	Filter audit.Filter
	Format string
}

// AuditExportResponse is what the transport streams as a file.
type AuditExportResponse struct {
	Format string
	// Entries streams the entries as the transport writes them: an export
	// holds no more of the log in memory than a chunk.
	Entries audit.EntrySource
	// At names the file.
	At time.Time
}

// AuditVerifyRequest carries the signed head the caller kept, if any: a
// C2SP checkpoint note as GET /api/v1/audit/head or `laborlink audit verify
// --save-head` gave it.
type AuditVerifyRequest struct {
	Earlier string `json:"earlier,omitempty"`
}

// AuditReconcileRequest names the province whose node's log to compare with
// this node's, and the window (From <= time < To, zero bounds open).
type AuditReconcileRequest struct {
	With     audit.Province
	From, To time.Time
}

// AuditReconcileResponse is a reconciliation of this node's log (province A)
// with province B's node's. EntriesA and EntriesB count each log's entries
// of flows between the two within the window; Mismatches is empty when the
// logs agree.
type AuditReconcileResponse struct {
	A          audit.Province   `json:"a"`
	B          audit.Province   `json:"b"`
	EntriesA   int              `json:"entries_a"`
	EntriesB   int              `json:"entries_b"`
	Mismatches []audit.Mismatch `json:"mismatches"`
}

func makeAuditExport(own audit.Province, a Auditing, now func() time.Time) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		r := req.(AuditExportRequest)
		if err := requireAuditOf(ctx, own, &r.Filter, pki.KindAuditor, pki.KindOperator); err != nil {
			return nil, err
		}
		each := func(yield func(audit.Entry) error) error { return a.Each(ctx, r.Filter, yield) }
		return AuditExportResponse{Format: r.Format, Entries: each, At: now()}, nil
	}
}

// makeAuditVerify is the node checking its own store: an auditor who holds
// the verifier key checks it independently with `laborlink audit verify`.
func makeAuditVerify(own audit.Province, a Auditing) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		if err := requireOwnAuditor(ctx, own, "verifying the whole log", pki.KindAuditor); err != nil {
			return nil, err
		}
		var earlier []byte
		if r := req.(AuditVerifyRequest); r.Earlier != "" {
			earlier = []byte(r.Earlier)
		}
		return a.Verify(ctx, earlier)
	}
}

func makeAuditReconcile(province audit.Province, a Auditing, peers PeerAudit) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		if err := requireOwnAuditor(ctx, province, "reconciling with another province's log", pki.KindAuditor, pki.KindOperator); err != nil {
			return nil, err
		}
		r := req.(AuditReconcileRequest)
		if r.With == province {
			return nil, badRequest("with is this node's own province %s; name the other province of the flows to reconcile", province)
		}
		opt := audit.ReconcileOptions{A: province, B: r.With, From: r.From, To: r.To}
		from, to := opt.Widened(ReconcileMargin)
		// Only the two provinces' flows are read, so the query limit
		// counts them, not the whole log's traffic in the window.
		own, err := a.Query(ctx, audit.Filter{From: from, To: to, Between: &audit.Pair{Origin: province, Destination: r.With}})
		if err != nil {
			return nil, err
		}
		theirs, err := peers.AuditEntries(ctx, string(r.With), from, to)
		if err != nil {
			return nil, fmt.Errorf("%w: read the audit log of province %s's node: %v", errPeerUnavailable, r.With, err)
		}
		theirs = audit.Between(theirs, province, r.With) // whatever else the peer sent is not compared
		resp := AuditReconcileResponse{A: province, B: r.With, EntriesA: opt.Counted(own), EntriesB: opt.Counted(theirs),
			Mismatches: audit.Reconcile(own, theirs, opt)}
		return resp, nil
	}
}

func decodeAuditExport(ctx context.Context, r *http.Request) (any, error) {
	q, err := decodeAuditQuery(ctx, r)
	if err != nil {
		return nil, err
	}
	req := AuditExportRequest{Filter: q.(AuditQueryRequest).Filter, Format: r.URL.Query().Get("format")}
	switch req.Format {
	case "":
		req.Format = FormatJSONL
	case FormatCSV, FormatJSONL:
	default:
		return nil, badRequest("format must be %s or %s, got %q", FormatCSV, FormatJSONL, req.Format)
	}
	return req, nil
}

// encodeAuditExport streams the entries as a file to download.
func encodeAuditExport(_ context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(AuditExportResponse)
	write, contentType := audit.ExportJSONL, "application/jsonl"
	if r.Format == FormatCSV {
		write, contentType = audit.ExportCSV, "text/csv; charset=utf-8"
	}
	// The file's headers go out with its first bytes: an export that
	// fails before them answers with an error, not a file that holds one.
	out := &wroteTo{Writer: w, start: func() {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.%s"`, r.At.UTC().Format("20060102T150405Z"), r.Format))
	}}
	if err := write(out, r.Entries); err != nil {
		if out.wrote {
			// The status and part of the file are out: an error body now
			// would read as the file's last line. Cut the response, so the
			// client sees a failed transfer, not a shorter export.
			panic(http.ErrAbortHandler)
		}
		return err
	}
	if !out.wrote {
		out.start() // an empty export is still a file
	}
	return nil
}

// wroteTo records whether anything was written through it, and calls
// start before the first write.
type wroteTo struct {
	io.Writer
	start func()
	wrote bool
}

func (w *wroteTo) Write(p []byte) (int, error) {
	if !w.wrote && len(p) > 0 {
		w.start()
		w.wrote = true
	}
	return w.Writer.Write(p)
}

// maxVerifyBody bounds the verify request: a signed head is a few hundred
// bytes.
const maxVerifyBody = 64 << 10

func decodeAuditVerify(_ context.Context, r *http.Request) (any, error) {
	var req AuditVerifyRequest
	err := decodeSmall(r, maxVerifyBody, &req, `{"earlier": "<a signed head you kept>"}, earlier optional`, true)
	return req, err
}

func decodeAuditReconcile(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	req := AuditReconcileRequest{With: audit.Province(q.Get("with"))}
	switch {
	case req.With == "":
		return nil, badRequest("with is required: the province whose node's log to reconcile with, e.g. ?with=44")
	case !req.With.Valid():
		return nil, badRequest("with: %q is not a province code (two digits, such as 44)", req.With)
	}
	var err error
	req.From, req.To, err = timeRange(r)
	return req, err
}
