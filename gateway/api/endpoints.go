package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/go-kit/kit/endpoint"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// Auditing is the audit log as the API serves it.
type Auditing interface {
	// Query returns the matching entries, at most audit.MaxQueryEntries.
	Query(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
	// Each streams the matching entries, however many (audit.Log.Each).
	Each(ctx context.Context, f audit.Filter, fn func(audit.Entry) error) error
	// Stats aggregates the matching entries, however many.
	Stats(ctx context.Context, f audit.Filter, now time.Time) (audit.Summary, error)
	// RecentHead returns a signed head of at least atLeast entries,
	// signing at most one a head interval however often it is asked
	// (audit.Log.RecentHead).
	RecentHead(ctx context.Context, atLeast int64) (audit.Head, error)
	InclusionProof(ctx context.Context, index, treeSize int64) (tlog.RecordProof, error)
	ConsistencyProof(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error)
	RawEntries(ctx context.Context, start, end int64) ([]audit.RawEntry, error)
	// Size is the number of entries in the log; proofs are for trees of at
	// most this many.
	Size() int64
	// Verify checks the stored entries against the recent head (as
	// RecentHead serves it, with no least size) and, if not nil, an
	// earlier signed head the caller kept, with the log's own verifier key
	// (audit.Log.Audit).
	Verify(ctx context.Context, earlier []byte) (audit.Report, error)
}

// PeerAudit reads another province's side of the flows between it and this
// node's province, from that province's node (peer.Client).
type PeerAudit interface {
	// AuditEntries returns the peer node's entries of flows between the two
	// provinces, from <= time < to (a zero bound is open).
	AuditEntries(ctx context.Context, province string, from, to time.Time) ([]audit.Entry, error)
}

// Services are what the local API's endpoints call.
type Services struct {
	// Province is the node's province code.
	Province string
	Exchange *exchange.Exchange
	Audit    Auditing
	// Peers reads other provinces' audit entries, for reconciliation.
	Peers  PeerAudit
	Status StatusFunc
	// Submitted, if set, hears every submission's results (metrics).
	Submitted func([]exchange.SubmitResult)
	Now       func() time.Time
	// DeadLetters are the envelopes delivery gave up on.
	DeadLetters DeadLetters
}

// StatusFunc reports the node's state for operators.
type StatusFunc func(ctx context.Context) any

// Set holds every endpoint of the local API.
type Set struct {
	Submit     endpoint.Endpoint
	Record     endpoint.Endpoint
	Inbox      endpoint.Endpoint
	InboxItem  endpoint.Endpoint
	AuditQuery endpoint.Endpoint
	AuditStats endpoint.Endpoint
	AuditHead  endpoint.Endpoint
	AuditRaw   endpoint.Endpoint
	AuditProof endpoint.Endpoint
	NodeStatus endpoint.Endpoint
	Referrals  endpoint.Endpoint
	PolicyEval endpoint.Endpoint
	PolicyShow endpoint.Endpoint

	// AuditExport, AuditVerify and AuditReconcile are `laborlink audit
	// export|verify|reconcile` on the node, for the console (auditops.go).
	AuditExport    endpoint.Endpoint
	AuditVerify    endpoint.Endpoint
	AuditReconcile endpoint.Endpoint

	// DeadLetterList, DeadLetterRequeue and DeadLetterDiscard are
	// `laborlink deadletters list|requeue|discard` (deadletters.go).
	DeadLetterList    endpoint.Endpoint
	DeadLetterRequeue endpoint.Endpoint
	DeadLetterDiscard endpoint.Endpoint
}

// PolicyEvalRequest is a record to dry-run through the export decision.
type PolicyEvalRequest struct{ Record json.RawMessage }

// ReferralsRequest filters the province's referral cases.
type ReferralsRequest struct {
	Status  string
	Overdue bool
}

// ReferralsResponse lists cases with their deadlines and overdue flags.
type ReferralsResponse struct {
	Cases []store.Case `json:"cases"`
}

// SubmitRequest carries one record or a batch.
type SubmitRequest struct {
	Records []json.RawMessage
	// Single is true when the body was one record rather than {"records": [...]}.
	Single bool
}

// SubmitResponse answers per record.
type SubmitResponse struct {
	Results []exchange.SubmitResult `json:"results"`
	single  bool
}

// RecordRequest names a record by envelope id or reference.
type RecordRequest struct{ Key string }

// InboxItemRequest names one received envelope by its id and, when From
// is set, the province that sent it: ids are each origin's own, and
// without From the first stored under the id is the one.
type InboxItemRequest struct{ ID, From string }

// InboxRequest pages the inbox.
type InboxRequest struct {
	After uint64
	Limit int
}

// InboxResponse is one page of the inbox; Next is the cursor for the next page.
type InboxResponse struct {
	Items []store.Incoming `json:"items"`
	Next  uint64           `json:"next"`
}

// AuditQueryRequest filters the audit log.
type AuditQueryRequest struct{ Filter audit.Filter }

// AuditQueryResponse holds the matching entries.
type AuditQueryResponse struct {
	Entries []audit.Entry `json:"entries"`
}

// AuditHeadRequest asks for a signed head of at least MinSize entries; 0
// for the newest head, however many it covers.
type AuditHeadRequest struct{ MinSize int64 }

// AuditRawRequest asks for stored entries by position, for verification.
type AuditRawRequest struct{ Start, End int64 }

// AuditProofRequest asks for an inclusion proof (Index, Size) or a
// consistency proof (Old, Size).
type AuditProofRequest struct {
	Index, Old, Size int64
	Consistency      bool
}

// AuditProofResponse holds the proof's hashes.
type AuditProofResponse struct {
	Hashes []tlog.Hash `json:"hashes"`
}

// MakeSet builds the endpoints over the services. Each endpoint checks the
// caller's kind and province: the province's own callers, but for the
// auditors of other provinces on the audit routes (auditscope.go).
// OwnProvince refuses the others before any endpoint runs; the endpoints
// hold without it.
func MakeSet(s Services) Set {
	x, a, status, submitted, now := s.Exchange, s.Audit, s.Status, s.Submitted, s.Now
	own := audit.Province(s.Province)
	// ownCaller admits a caller of kinds of the node's province.
	ownCaller := func(ctx context.Context, kinds ...pki.Kind) (pki.Identity, error) {
		return auth.RequireProvince(ctx, s.Province, kinds...)
	}
	return Set{
		Submit: func(ctx context.Context, req any) (any, error) {
			r := req.(SubmitRequest)
			id, err := ownCaller(ctx, pki.KindSystem)
			if err != nil {
				return nil, err
			}
			res, err := x.Submit(ctx, id, r.Records)
			if err != nil {
				return nil, err
			}
			if submitted != nil {
				submitted(res)
			}
			return SubmitResponse{Results: res, single: r.Single}, nil
		},
		Record: func(ctx context.Context, req any) (any, error) {
			id, err := ownCaller(ctx, pki.KindSystem, pki.KindOperator)
			if err != nil {
				return nil, err
			}
			return x.Record(ctx, id, req.(RecordRequest).Key)
		},
		Inbox: func(ctx context.Context, req any) (any, error) {
			if _, err := ownCaller(ctx, pki.KindSystem); err != nil {
				return nil, err
			}
			r := req.(InboxRequest)
			items, err := x.Inbox(ctx, r.After, r.Limit)
			if err != nil {
				return nil, err
			}
			resp := InboxResponse{Items: items, Next: r.After}
			if len(items) > 0 {
				resp.Next = items[len(items)-1].Seq
			}
			return resp, nil
		},
		InboxItem: func(ctx context.Context, req any) (any, error) {
			if _, err := ownCaller(ctx, pki.KindSystem); err != nil {
				return nil, err
			}
			r := req.(InboxItemRequest)
			return x.InboxItem(ctx, r.From, r.ID)
		},
		AuditQuery: func(ctx context.Context, req any) (any, error) {
			f := req.(AuditQueryRequest).Filter
			if err := requireAuditOf(ctx, own, &f, pki.KindAuditor, pki.KindOperator); err != nil {
				return nil, err
			}
			es, err := a.Query(ctx, f)
			if err != nil {
				return nil, err
			}
			return AuditQueryResponse{Entries: es}, nil
		},
		AuditStats: func(ctx context.Context, req any) (any, error) {
			f := req.(AuditQueryRequest).Filter
			if err := requireAuditOf(ctx, own, &f, pki.KindAuditor, pki.KindOperator); err != nil {
				return nil, err
			}
			return a.Stats(ctx, f, now())
		},
		AuditHead: func(ctx context.Context, req any) (any, error) {
			// Sizes and hashes only: an auditor of another province reads
			// it as it reads its flows (requireAuditOf), an operator does not.
			if err := requireAuditOf(ctx, own, new(audit.Filter), pki.KindAuditor, pki.KindOperator); err != nil {
				return nil, err
			}
			r, _ := req.(AuditHeadRequest)
			// A head beyond the log would be waited for until entries
			// come, which they may never do.
			if n := a.Size(); r.MinSize > n {
				return nil, badRequest("min_size %d is beyond the log's %d entries", r.MinSize, n)
			}
			return a.RecentHead(ctx, r.MinSize)
		},
		AuditRaw: func(ctx context.Context, req any) (any, error) {
			if err := requireOwnAuditor(ctx, own, "reading raw entries", pki.KindAuditor); err != nil {
				return nil, err
			}
			r := req.(AuditRawRequest)
			return a.RawEntries(ctx, r.Start, r.End)
		},
		AuditProof: func(ctx context.Context, req any) (any, error) {
			if _, err := auth.Require(ctx, pki.KindAuditor); err != nil {
				return nil, err
			}
			r := req.(AuditProofRequest)
			if n := a.Size(); r.Size > n {
				return nil, badRequest("size %d is beyond the log's %d entries; take it from a signed head (GET /api/v1/audit/head)", r.Size, n)
			}
			if r.Consistency {
				p, err := a.ConsistencyProof(ctx, r.Old, r.Size)
				return AuditProofResponse{Hashes: p}, err
			}
			p, err := a.InclusionProof(ctx, r.Index, r.Size)
			return AuditProofResponse{Hashes: p}, err
		},
		Referrals: func(ctx context.Context, req any) (any, error) {
			id, err := ownCaller(ctx, pki.KindSystem, pki.KindOperator)
			if err != nil {
				return nil, err
			}
			r := req.(ReferralsRequest)
			cs, err := x.Cases(ctx, id, r.Status, r.Overdue)
			if err != nil {
				return nil, err
			}
			return ReferralsResponse{Cases: cs}, nil
		},
		PolicyEval: func(ctx context.Context, req any) (any, error) {
			id, err := ownCaller(ctx, pki.KindSystem, pki.KindAdmin, pki.KindOperator)
			if err != nil {
				return nil, err
			}
			return x.Evaluate(ctx, id, req.(PolicyEvalRequest).Record)
		},
		PolicyShow: func(ctx context.Context, _ any) (any, error) {
			if _, err := ownCaller(ctx, pki.KindSystem, pki.KindAdmin, pki.KindOperator, pki.KindAuditor); err != nil {
				return nil, err
			}
			return x.Revisions(), nil
		},
		NodeStatus: func(ctx context.Context, _ any) (any, error) {
			if _, err := ownCaller(ctx, pki.KindOperator, pki.KindAuditor, pki.KindAdmin, pki.KindSystem); err != nil {
				return nil, err
			}
			return status(ctx), nil
		},
		AuditExport:    makeAuditExport(own, a, now),
		AuditVerify:    makeAuditVerify(own, a),
		AuditReconcile: makeAuditReconcile(own, a, s.Peers),

		DeadLetterList:    makeDeadLetterList(s.Province, s.DeadLetters),
		DeadLetterRequeue: makeDeadLetterRequeue(s.Province, s.DeadLetters),
		DeadLetterDiscard: makeDeadLetterDiscard(s.Province, s.DeadLetters),
	}
}
