package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/httpbody"
	"github.com/laborlink/laborlink/pki"
)

// AuditPath is where a node serves another province's node the audit
// entries of the flows between their two provinces, for reconciliation.
const AuditPath = "/peer/v1/audit/entries"

// maxAuditAnswer bounds the entries one answer may carry: a few hundred
// bytes each, so about a million.
const maxAuditAnswer = 256 << 20

// errBadQuery is wrapped by errors about an audit request's parameters.
var errBadQuery = errors.New("bad query")

// AuditLog is the node's audit log as the peer API reads it.
type AuditLog interface {
	Query(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

// AuditRequest bounds the entries asked for: From <= Time < To, a zero
// bound is open.
type AuditRequest struct{ From, To time.Time }

// AuditResponse holds the entries of flows between the two provinces, in
// log order.
type AuditResponse struct {
	Entries []audit.Entry `json:"entries"`
}

// MakeAuditEndpoint serves a node of province P the entries of log whose
// origin and destination are P and province (this node's), in either
// direction: what P's own node sent here or received from here. Nothing
// about a third province leaves, nor entries that name no pair
// (certificates, policy, receipts, which name only their destination). It
// admits node certificates only.
func MakeAuditEndpoint(province string, log AuditLog) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		from, err := auth.Require(ctx, pki.KindNode)
		if err != nil {
			return nil, err
		}
		r := request.(AuditRequest)
		es, err := log.Query(ctx, audit.Filter{From: r.From, To: r.To, Between: &audit.Pair{Origin: audit.Province(from.Province), Destination: audit.Province(province)}})
		if err != nil {
			return nil, err
		}
		if es == nil {
			es = []audit.Entry{}
		}
		return AuditResponse{Entries: es}, nil
	}
}

// NewAuditHandler serves AuditPath for the node of province.
func NewAuditHandler(province string, log AuditLog, opts ...HandlerOption) http.Handler {
	c := newHandlerConfig(opts)
	encodeError := errorEncoder(c.log, AuditPath)
	mux := http.NewServeMux()
	mux.Handle("GET "+AuditPath, nodesOnly(encodeError, newPerProvince(c.maxPerProvince), kithttp.NewServer(
		MakeAuditEndpoint(province, log),
		decodeAuditRequest,
		kithttp.EncodeJSONResponse,
		kithttp.ServerBefore(auth.FromRequest),
		kithttp.ServerErrorEncoder(encodeError),
	)))
	return mux
}

func decodeAuditRequest(_ context.Context, r *http.Request) (any, error) {
	from, to, err := audit.ParseWindow(r.URL.Query())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadQuery, err)
	}
	return AuditRequest{From: from, To: to}, nil
}

// newAuditClientEndpoint asks the node at base for its entries of flows with
// this node's province, and checks, as the deliver client does, that the
// server is a node of province.
func newAuditClientEndpoint(base *url.URL, s server, client *http.Client) endpoint.Endpoint {
	return kithttp.NewClient(http.MethodGet, base.JoinPath(AuditPath), encodeAuditRequest, decodeAuditResponse(s), kithttp.SetClient(client)).Endpoint()
}

func encodeAuditRequest(_ context.Context, r *http.Request, request any) error {
	req := request.(AuditRequest)
	q := url.Values{}
	if !req.From.IsZero() {
		q.Set("from", req.From.UTC().Format(time.RFC3339Nano))
	}
	if !req.To.IsZero() {
		q.Set("to", req.To.UTC().Format(time.RFC3339Nano))
	}
	r.URL.RawQuery = q.Encode()
	return nil
}

func decodeAuditResponse(s server) kithttp.DecodeResponseFunc {
	province := s.province
	return func(_ context.Context, r *http.Response) (any, error) {
		if err := s.checkAnswer(r); err != nil {
			return nil, err
		}
		body, err := httpbody.ReadAll(io.LimitReader(r.Body, maxAuditAnswer+1), r.ContentLength, maxAuditAnswer)
		if err != nil {
			return nil, fmt.Errorf("read audit entries from %s: %w", province, err)
		}
		if len(body) > maxAuditAnswer {
			return nil, fmt.Errorf("audit entries from %s are over %d bytes: ask for a shorter time window", province, maxAuditAnswer)
		}
		var resp AuditResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			return nil, fmt.Errorf("decode audit entries from %s: %w", province, err)
		}
		return resp, nil
	}
}

// AuditEntries fetches, from the node of the peer province, its audit
// entries of flows between that province and this node's, From <= Time <
// To (zero: open). The request does not go through the peer's delivery
// breaker: reading a log says little about delivery, and an auditor should
// hear the peer's own answer.
func (c *Client) AuditEntries(ctx context.Context, peer string, from, to time.Time) ([]audit.Entry, error) {
	r, err := c.remote(peer)
	if err != nil {
		return nil, err
	}
	resp, err := r.audit(ctx, AuditRequest{From: from, To: to})
	if err != nil {
		return nil, err
	}
	return resp.(AuditResponse).Entries, nil
}
