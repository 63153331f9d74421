package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/httpbody"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// MaxBody bounds a submission: MaxSubmit records of the largest size.
const MaxBody = exchange.MaxSubmit * contracts.MaxRecordSize

// MaxRawEntries bounds the positions one GET /api/v1/audit/raw reads (end
// minus start), so that no request has the node hold its whole log in
// memory; a verifier reads a long log in ranges of at most this many.
const MaxRawEntries = 10_000

// route is one route of the local API: its pattern, "METHOD /path", and
// the endpoint that serves it with its request decoder and response encoder.
type route struct {
	pattern string
	serve   endpoint.Endpoint
	decode  kithttp.DecodeRequestFunc
	encode  kithttp.EncodeResponseFunc
}

// routes pairs each route with what serves it, in one table, so that a
// route and its handler cannot drift apart as the API grows.
func routes(s Set) []route {
	return []route{
		{"POST /api/v1/records", s.Submit, onlyParams(decodeSubmit), encodeSubmit},
		{"GET /api/v1/records", s.Record, onlyParams(decodeRecordByRef, "ref"), encodeJSON},
		{"GET /api/v1/records/{id}", s.Record, onlyParams(decodeRecordByID), encodeJSON},
		{"GET /api/v1/inbox", s.Inbox, onlyParams(decodeInbox, "after", "limit"), encodeJSON},
		{"GET /api/v1/inbox/{id}", s.InboxItem, onlyParams(decodeInboxItem, "from"), encodeJSON},
		{"GET /api/v1/audit/entries", s.AuditQuery, onlyParams(decodeAuditQuery, auditFilterParams...), encodeJSON},
		{"GET /api/v1/audit/stats", s.AuditStats, onlyParams(decodeAuditQuery, auditFilterParams...), encodeJSON},
		{"GET /api/v1/audit/head", s.AuditHead, onlyParams(decodeAuditHead, "min_size"), encodeJSON},
		{"GET /api/v1/audit/raw", s.AuditRaw, onlyParams(decodeAuditRaw, "start", "end"), encodeJSON},
		{"GET /api/v1/audit/proof", s.AuditProof, onlyParams(decodeAuditProof, "size", "index", "old"), encodeJSON},
		{"GET /api/v1/status", s.NodeStatus, onlyParams(decodeNothing), encodeJSON},
		{"GET /api/v1/referrals", s.Referrals, onlyParams(decodeReferrals, "status", "overdue"), encodeJSON},
		{"POST /api/v1/policy/eval", s.PolicyEval, onlyParams(decodePolicyEval), encodeJSON},
		{"GET /api/v1/policy", s.PolicyShow, onlyParams(decodeNothing), encodeJSON},
		{"GET /api/v1/audit/export", s.AuditExport, onlyParams(decodeAuditExport, append([]string{"format"}, auditFilterParams...)...), encodeAuditExport},
		{"POST /api/v1/audit/verify", s.AuditVerify, onlyParams(decodeAuditVerify), encodeJSON},
		{"GET /api/v1/audit/reconcile", s.AuditReconcile, onlyParams(decodeAuditReconcile, "with", "from", "to"), encodeJSON},
		{"GET /api/v1/deadletters", s.DeadLetterList, onlyParams(decodeDeadLetters, "peer"), encodeJSON},
		{"POST /api/v1/deadletters/requeue", s.DeadLetterRequeue, onlyParams(decodeRequeue), encodeJSON},
		{"POST /api/v1/deadletters/discard", s.DeadLetterDiscard, onlyParams(decodeDiscard), encodeJSON},
	}
}

// Routes lists every route of the local API, "METHOD /path"; api/openapi.yaml
// must describe exactly these (a test checks).
var Routes = patterns(routes(Set{}))

func patterns(rs []route) []string {
	ps := make([]string, len(rs))
	for i, r := range rs {
		ps[i] = r.pattern
	}
	return ps
}

// NewHandler serves the local API.
func NewHandler(s Set) http.Handler {
	opts := []kithttp.ServerOption{
		kithttp.ServerBefore(auth.FromRequest),
		kithttp.ServerErrorEncoder(encodeError),
	}
	mux := http.NewServeMux()
	rs := routes(s)
	for _, r := range rs {
		mux.Handle(r.pattern, kithttp.NewServer(r.serve, r.decode, r.encode, opts...))
	}
	handleNoRoute(mux, rs)
	return mux
}

// OwnProvince admits to the local API only callers of the node's own
// province, before anything is read: the local API serves the province's
// systems, auditors and operators, and what it holds (the inbox, records'
// states) is theirs alone. Other provinces reach the node through the peer
// and registry APIs only, with one exception: auditors of any province may
// reach the audit routes (identifiers, codes and digests, never content),
// since reconciling two provinces' logs is what cross-border auditing is;
// there they see only their province's flows with this one (auditscope.go).
func OwnProvince(province string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.FromRequest(r.Context(), r)
		id, err := auth.FromContext(ctx)
		crossAudit := err == nil && id.Kind == pki.KindAuditor && strings.HasPrefix(r.URL.Path, "/api/v1/audit/")
		if err == nil && id.Province != province && !crossAudit {
			err = fmt.Errorf("%w: %s belongs to province %s; this node's local API serves province %s", auth.ErrForbidden, id, id.Province, province)
		}
		if err != nil {
			encodeError(ctx, err, w)
			return
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// errBadRequest wraps problems with the request itself.
var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// decodeSmall reads a small JSON object of at most max bytes from r's body
// into v, refusing unknown members and trailing data; shape says what the
// body should look like, for the error. An empty body leaves v as it is
// when emptyOK.
func decodeSmall(r *http.Request, max int64, v any, shape string, emptyOK bool) error {
	body, err := httpbody.ReadRequest(r, max)
	if errors.Is(err, httpbody.ErrTooLarge) {
		return fmt.Errorf("%w; the body must be %s, at most %d bytes", err, shape, max)
	}
	if err != nil {
		return badRequest("read body: %v", err)
	}
	if emptyOK && len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err == nil {
		err = exactNames(body, v)
	}
	if err != nil {
		return badRequest("the body must be %s: %v", shape, err)
	}
	return nil
}

// exactNames refuses what encoding/json lets through into v, a pointer to
// a struct, from body: a member whose name matches a field's only when
// case is folded ("Peer" sets peer), and a member given twice (the last
// one wins). The API takes member names as written, as the record
// decoders do.
func exactNames(body []byte, v any) error {
	t := reflect.TypeOf(v).Elem()
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "-" && f.IsExported() {
			names = append(names, cmp.Or(name, f.Name))
		}
	}
	return contracts.RawObject(body, func(name string, _ json.RawMessage) error {
		if slices.Contains(names, name) {
			return nil
		}
		if i := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, name) }); i >= 0 {
			return fmt.Errorf("unknown field; member names are case-sensitive: did you mean %q?", names[i])
		}
		return nil
	})
}

func decodeSubmit(_ context.Context, r *http.Request) (any, error) {
	body, err := httpbody.ReadRequest(r, MaxBody)
	if errors.Is(err, httpbody.ErrTooLarge) {
		return nil, fmt.Errorf("%w; a submission holds at most %d records of at most %d bytes each: send fewer at once", err, exchange.MaxSubmit, contracts.MaxRecordSize)
	}
	if err != nil {
		return nil, badRequest("read body: %v", err)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, badRequest("the body is not a JSON object")
	}
	// A batch is an object whose one member is records; any other object
	// with a schema, or without records, is one record, read by the record
	// decoder (which names records as a member no record has). The records
	// are split while the body's syntax is checked, in one pass.
	var records json.RawMessage
	schema, others := false, 0
	batch, err := contracts.RawObjectSplit(body, "records", func(name string, v json.RawMessage) error {
		switch name {
		case "records":
			records = v
		case "schema":
			schema = true
		default:
			others++ // named only when refused: a record has a dozen
		}
		return nil
	})
	if err != nil {
		return nil, badRequest("the body is not a JSON object: %v", err)
	}
	if records == nil || schema {
		return SubmitRequest{Records: []json.RawMessage{body}, Single: true}, nil
	}
	// Read as one record, a batch with another member was answered 422
	// with one result, for record 0, its problem a schema missing.
	if others > 0 {
		return nil, badRequest("the body has records and %s: a batch is {\"records\": [...]} with no other member", strings.Join(membersBut(body, "records"), ", "))
	}
	if batch == nil {
		// Not an array: null is an empty batch, anything else refused.
		if batch, err = contracts.RawArray(records); err != nil {
			return nil, badRequest("records: %v", err)
		}
	}
	return SubmitRequest{Records: batch}, nil
}

// membersBut lists the member names of the JSON object body, quoted,
// but name.
func membersBut(body []byte, name string) []string {
	var names []string
	contracts.RawObject(body, func(n string, _ json.RawMessage) error {
		if n != name {
			names = append(names, strconv.Quote(n))
		}
		return nil
	})
	return names
}

// encodeSubmit answers a batch with 200 and per-record outcomes; a single
// record gets the status of its outcome as well.
func encodeSubmit(ctx context.Context, w http.ResponseWriter, resp any) error {
	r := resp.(SubmitResponse)
	status := http.StatusOK
	if r.single && len(r.Results) == 1 {
		switch r.Results[0].Outcome {
		case exchange.OutcomeAccepted:
			status = http.StatusAccepted
		case exchange.OutcomeInvalid:
			status = http.StatusUnprocessableEntity
		case exchange.OutcomeDenied, exchange.OutcomeForbidden:
			status = http.StatusForbidden
		case exchange.OutcomeUnavailable:
			status = http.StatusServiceUnavailable
		}
	}
	body, err := r.appendJSON(make([]byte, 0, 160*len(r.Results)+16))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	// Known, so that a client reads the answer into a buffer of its size
	// (net/http sets it by itself only for small answers).
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

func decodeRecordByID(_ context.Context, r *http.Request) (any, error) {
	return RecordRequest{Key: r.PathValue("id")}, nil
}

func decodeInboxItem(_ context.Context, r *http.Request) (any, error) {
	from := r.URL.Query().Get("from")
	if from != "" && !contracts.IsProvince(from) {
		return nil, badRequest("from %q is not a province code; want the 2 digits of the province that sent the envelope, such as 44", from)
	}
	return InboxItemRequest{ID: r.PathValue("id"), From: from}, nil
}

func decodeRecordByRef(_ context.Context, r *http.Request) (any, error) {
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		return nil, badRequest("ref is required, e.g. ?ref=51/transfer/T-0001")
	}
	return RecordRequest{Key: ref}, nil
}

func decodeInbox(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	req := InboxRequest{Limit: 100}
	var err error
	if s := q.Get("after"); s != "" {
		if req.After, err = strconv.ParseUint(s, 10, 64); err != nil {
			return nil, badRequest("after must be an inbox cursor (a number), got %q", s)
		}
	}
	if s := q.Get("limit"); s != "" {
		if req.Limit, err = strconv.Atoi(s); err != nil {
			return nil, badRequest("limit must be a number, got %q", s)
		}
	}
	return req, nil
}

// timeRange reads the from and to parameters (audit.ParseWindow).
func timeRange(r *http.Request) (from, to time.Time, err error) {
	if from, to, err = audit.ParseWindow(r.URL.Query()); err != nil {
		return from, to, badRequest("%v", err)
	}
	return from, to, nil
}

// auditFilterParams are the query parameters of an audit.Filter, as
// decodeAuditQuery reads them.
var auditFilterParams = []string{"from", "to", "pair", "between", "agreement", "kind", "type", "decision"}

// onlyParams has decode refuse a query parameter that is not one of names,
// or one given twice: decode reads the first value of the names it knows
// and nothing else, so a mistyped filter (decison=deny, kinds=denied)
// would be ignored and the whole log listed, counted or exported as if
// unfiltered. A route that takes a body takes no names: what it takes,
// such as the earlier head of a verify, sent in the query instead would
// be ignored and the request served without it. Nor does a route that
// takes nothing at all (status, policy, a record by envelope id).
func onlyParams(decode kithttp.DecodeRequestFunc, names ...string) kithttp.DecodeRequestFunc {
	return func(ctx context.Context, r *http.Request) (any, error) {
		q := r.URL.Query()
		var unknown []string
		for _, name := range slices.Sorted(maps.Keys(q)) {
			if !slices.Contains(names, name) {
				unknown = append(unknown, strconv.Quote(name))
			}
		}
		if len(unknown) > 0 {
			return nil, badRequest("unknown query parameter %s; %s", strings.Join(unknown, ", "), takesParams(r.Method, names))
		}
		for _, name := range names {
			if n := len(q[name]); n > 1 {
				return nil, badRequest("query parameter %q is given %d times; it takes one value", name, n)
			}
		}
		return decode(ctx, r)
	}
}

// takesParams says which query parameters a route of method takes, names,
// for the error that refuses another.
func takesParams(method string, names []string) string {
	switch {
	case len(names) > 0:
		return "this route takes " + strings.Join(names, ", ")
	case method == http.MethodGet || method == http.MethodHead:
		return "this route takes none"
	}
	return "this route takes none: send what it takes in its JSON body"
}

func decodeAuditQuery(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	var f audit.Filter
	var err error
	if f.From, f.To, err = timeRange(r); err != nil {
		return nil, err
	}
	if s := q.Get("pair"); s != "" {
		p, err := audit.ParsePair(s)
		if err != nil {
			return nil, badRequest("pair: %v", err)
		}
		f.Pair = &p
	}
	if s := q.Get("between"); s != "" {
		b, err := audit.ParseBetween(s)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		f.Between = &b
	}
	f.AgreementID = q.Get("agreement")
	f.Kind = audit.Kind(q.Get("kind"))
	f.RecordType = q.Get("type")
	f.Decision = audit.Decision(q.Get("decision"))
	if err := f.Check(); err != nil {
		return nil, badRequest("%v", err)
	}
	return AuditQueryRequest{Filter: f}, nil
}

func decodeAuditRaw(_ context.Context, r *http.Request) (any, error) {
	start, err1 := int64Param(r, "start", 0)
	end, err2 := int64Param(r, "end", -1)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	switch {
	case start < 0:
		return nil, badRequest("start must be 0 or more, got %d", start)
	case end < start:
		return nil, badRequest("end is required and must not be below start")
	case end-start > MaxRawEntries:
		return nil, badRequest("end - start must be at most %d, got %d; read the log in ranges", MaxRawEntries, end-start)
	}
	return AuditRawRequest{Start: start, End: end}, nil
}

func decodeAuditHead(_ context.Context, r *http.Request) (any, error) {
	n, err := int64Param(r, "min_size", 0)
	if err == nil && n < 0 {
		err = badRequest("min_size must be 0 or more, got %d", n)
	}
	return AuditHeadRequest{MinSize: n}, err
}

func decodeAuditProof(_ context.Context, r *http.Request) (any, error) {
	size, err := int64Param(r, "size", -1)
	if err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, badRequest("size (the tree size of a signed head) is required")
	}
	q := r.URL.Query()
	if q.Has("old") && q.Has("index") {
		return nil, badRequest("index (for an inclusion proof) and old (for a consistency proof) exclude each other: give one")
	}
	if q.Has("old") {
		old, err := int64Param(r, "old", 0)
		if err == nil && (old < 0 || old > size) {
			err = badRequest("old must be between 0 and size %d, got %d", size, old)
		}
		return AuditProofRequest{Old: old, Size: size, Consistency: true}, err
	}
	if !q.Has("index") {
		return nil, badRequest("index (for an inclusion proof) or old (for a consistency proof) is required")
	}
	index, err := int64Param(r, "index", -1)
	if err == nil && (index < 0 || index >= size) {
		err = badRequest("index must be 0 or more and below size %d, got %d", size, index)
	}
	return AuditProofRequest{Index: index, Size: size}, err
}

func int64Param(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, badRequest("%s must be a number, got %q", name, s)
	}
	return n, nil
}

func decodePolicyEval(_ context.Context, r *http.Request) (any, error) {
	body, err := httpbody.ReadRequest(r, contracts.MaxRecordSize)
	if errors.Is(err, httpbody.ErrTooLarge) {
		return nil, fmt.Errorf("%w; a dry run takes one record, and a record is at most %d bytes", err, contracts.MaxRecordSize)
	}
	if err != nil {
		return nil, badRequest("read body: %v", err)
	}
	// A record that is JSON but not a valid record is answered with its
	// problems, as the dry run's outcome; a body that is no JSON object is
	// a request error, as it is for a submission.
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || !json.Valid(body) {
		return nil, badRequest("the body must be one record, a JSON object")
	}
	return PolicyEvalRequest{Record: body}, nil
}

func decodeReferrals(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	req := ReferralsRequest{Status: q.Get("status")}
	if s := contracts.CaseStatus(req.Status); s != "" && !s.Known() {
		return nil, badRequest("status must be referred, accepted, investigating, resolved, closed or rejected, got %q", req.Status)
	}
	switch q.Get("overdue") {
	case "", "false":
	case "true":
		req.Overdue = true
	default:
		return nil, badRequest("overdue must be true or false, got %q", q.Get("overdue"))
	}
	return req, nil
}

func decodeNothing(context.Context, *http.Request) (any, error) { return nil, nil }

// encodeJSON writes resp as JSON, its empty lists as [] (emptyLists).
func encodeJSON(ctx context.Context, w http.ResponseWriter, resp any) error {
	return kithttp.EncodeJSONResponse(ctx, w, emptyLists(resp))
}

// ErrorBody is how the local API reports an error.
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func encodeError(_ context.Context, err error, w http.ResponseWriter) {
	status, code := statusOf(err)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(ErrorBody{Error: err.Error(), Code: code})
}

// statusOf is the one table from errors to HTTP statuses for this transport.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, errNoRoute):
		return http.StatusNotFound, string(exchange.CodeNotFound)
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed, "method_not_allowed"
	case errors.Is(err, errBadRequest), errors.Is(err, audit.ErrTooManyEntries):
		return http.StatusBadRequest, "invalid"
	case errors.Is(err, httpbody.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, errPeerUnavailable):
		return http.StatusBadGateway, "peer_unavailable"
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, string(exchange.CodeNotFound)
	case errors.Is(err, store.ErrFailed):
		// The node must restart to reopen its store: not this request's
		// fault, and another node (or this one, restarted) may take it.
		return http.StatusServiceUnavailable, string(exchange.CodeUnavailable)
	}
	switch code := exchange.ErrorCode(err); code {
	case exchange.CodeInvalid:
		return http.StatusBadRequest, string(code)
	case exchange.CodeForbidden:
		return http.StatusForbidden, string(code)
	case exchange.CodeNotFound:
		return http.StatusNotFound, string(code)
	case exchange.CodeUnavailable:
		return http.StatusServiceUnavailable, string(code)
	}
	return http.StatusInternalServerError, "internal"
}
