package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/httpbody"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// Client calls a node's local API with a client certificate; the CLI and
// the development federation use it.
type Client struct {
	base string
	http *http.Client
	// stream is http without its timeout, for answers that take as long as
	// they take to send (an export), which the caller's context bounds.
	stream *http.Client
}

// ClientOption changes how a Client connects to its node.
type ClientOption func(*http.Transport)

// HTTP1 makes a transport speak HTTP/1.1 only: one request at a time on each
// connection, a connection per concurrent request (kept for reuse). A node
// serves both protocols; in Go, an HTTP/1.1 exchange of one small record
// costs less CPU than an HTTP/2 one (HTTP/2 flushes headers and body apart
// and adds a frame scheduler): a business system submitting single records
// from a pool of connections costs its node less per record
// (docs/performance.md has the measured runs).
func HTTP1(tr *http.Transport) {
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // non-nil: no HTTP/2 upgrade
	if tr.TLSClientConfig != nil {
		tr.TLSClientConfig = tr.TLSClientConfig.Clone()
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, 64)
}

// NewClient returns a client for the node at base ("https://host:port"),
// presenting t's certificate and accepting only a node of province, or of
// any province when it is empty. It speaks HTTP/2 unless an option says
// otherwise.
func NewClient(base string, t *pki.TLS, province string, opts ...ClientOption) (*Client, error) {
	if _, err := url.Parse(base); err != nil {
		return nil, fmt.Errorf("node address %q: %w", base, err)
	}
	cfg, err := t.ClientConfig(pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: province})
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	for _, o := range opts {
		o(tr)
	}
	rt := pki.RefusalHints{Next: tr}
	return &Client{base: base, http: &http.Client{Transport: rt, Timeout: 60 * time.Second}, stream: &http.Client{Transport: rt}}, nil
}

// Submit sends records (each a JSON document) as one batch. The answer is
// read by readSubmitAnswer when it has the shape the node writes, and by
// encoding/json otherwise; the results' strings may then share one copy
// of the answer, which a caller keeping one of them keeps whole.
func (c *Client) Submit(ctx context.Context, records ...json.RawMessage) ([]exchange.SubmitResult, error) {
	const method, path = http.MethodPost, "/api/v1/records"
	data, err := c.read(ctx, method, path, BatchBody(records))
	if err != nil {
		return nil, err
	}
	if results, ok := readSubmitAnswer(data); ok {
		return results, nil
	}
	var resp SubmitResponse
	err = decodeAnswer(method, path, data, &resp)
	return resp.Results, err
}

// BatchBody writes the body of a submission, {"records":[...]}, around the
// records as they are: the node reads and checks every record, and answers a
// malformed one with a 400, so a second pass here to validate and compact
// them would only cost.
func BatchBody(records []json.RawMessage) []byte {
	n := len(`{"records":[]}`) + 5*len(records)
	for _, r := range records {
		n += len(r)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"records":[`...)
	for i, r := range records {
		if i > 0 {
			b = append(b, ',')
		}
		if len(r) == 0 {
			r = json.RawMessage("null") // as json.Marshal writes it; the node refuses it by name
		}
		b = append(b, r...)
	}
	return append(b, "]}"...)
}

// Record reads a submitted record's state by envelope id or reference.
func (c *Client) Record(ctx context.Context, key string) (exchange.RecordView, error) {
	var v exchange.RecordView
	path := "/api/v1/records/" + url.PathEscape(key)
	if looksLikeRef(key) {
		path = "/api/v1/records?ref=" + url.QueryEscape(key)
	}
	err := c.do(ctx, http.MethodGet, path, nil, &v)
	return v, err
}

// Inbox reads a page of the inbox after the cursor.
func (c *Client) Inbox(ctx context.Context, after uint64, limit int) (InboxResponse, error) {
	var r InboxResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/inbox?after="+strconv.FormatUint(after, 10)+"&limit="+strconv.Itoa(limit), nil, &r)
	return r, err
}

// AuditEntries queries the audit log; query holds the filter parameters.
func (c *Client) AuditEntries(ctx context.Context, query url.Values) ([]audit.Entry, error) {
	var r AuditQueryResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/audit/entries?"+query.Encode(), nil, &r)
	return r.Entries, err
}

// AuditStats reads the audit aggregates.
func (c *Client) AuditStats(ctx context.Context, query url.Values) (audit.Summary, error) {
	var s audit.Summary
	err := c.do(ctx, http.MethodGet, "/api/v1/audit/stats?"+query.Encode(), nil, &s)
	return s, err
}

// Referrals lists the province's referral cases.
func (c *Client) Referrals(ctx context.Context, status string, overdue bool) ([]store.Case, error) {
	var r ReferralsResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/referrals?status="+url.QueryEscape(status)+"&overdue="+strconv.FormatBool(overdue), nil, &r)
	return r.Cases, err
}

// PolicyEval dry-runs a record through the node's export decision.
func (c *Client) PolicyEval(ctx context.Context, record json.RawMessage) (exchange.DryRun, error) {
	var r exchange.DryRun
	err := c.do(ctx, http.MethodPost, "/api/v1/policy/eval", record, &r)
	return r, err
}

// PolicyRevisions reads the policy layers in force on the node.
func (c *Client) PolicyRevisions(ctx context.Context) (policy.Revisions, error) {
	var r policy.Revisions
	err := c.do(ctx, http.MethodGet, "/api/v1/policy", nil, &r)
	return r, err
}

// Status reads the node's status as raw JSON.
func (c *Client) Status(ctx context.Context) (json.RawMessage, error) {
	var s json.RawMessage
	err := c.do(ctx, http.MethodGet, "/api/v1/status", nil, &s)
	return s, err
}

// Get reads any API path into out.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out)
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	data, err := c.read(ctx, method, path, body)
	if err != nil {
		return err
	}
	return decodeAnswer(method, path, data, out)
}

// maxAnswer caps what is read of a successful answer.
const maxAnswer = 256 << 20

// read makes the request and reads its successful answer whole, into a
// buffer of the answer's declared length when it has one.
func (c *Client) read(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := httpbody.ReadAll(io.LimitReader(resp.Body, maxAnswer), resp.ContentLength, maxAnswer)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	return data, nil
}

// decodeAnswer decodes a successful answer into out.
func decodeAnswer(method, path string, data []byte, out any) error {
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, path, err)
	}
	return nil
}

// send makes the request and returns a successful response, whose body the
// caller closes; an error answer becomes an error naming the request.
func (c *Client) send(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	return c.sendWith(c.http, ctx, method, path, body)
}

// sendWith is send on hc.
func (c *Client) sendWith(hc *http.Client, ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb ErrorBody
	if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
		return nil, fmt.Errorf("%s %s: %s (%s)", method, path, eb.Error, resp.Status)
	}
	return nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
}

func looksLikeRef(key string) bool {
	for i := range len(key) {
		if key[i] == '/' {
			return true
		}
	}
	return false
}

// AuditHead asks the node for a signed head of its audit log of at least
// minSize entries, 0 for its newest head. The node signs at most one head
// a head interval (audit.head_interval): in between it serves its newest,
// which may not cover the last entries, and one of minSize entries that
// its newest does not cover takes up to that interval to answer.
func (c *Client) AuditHead(ctx context.Context, minSize int64) (audit.Head, error) {
	path := "/api/v1/audit/head"
	if minSize > 0 {
		path += fmt.Sprintf("?min_size=%d", minSize)
	}
	var h audit.Head
	err := c.do(ctx, http.MethodGet, path, nil, &h)
	return h, err
}

// AuditRaw fetches stored entries start <= position < end, as stored.
func (c *Client) AuditRaw(ctx context.Context, start, end int64) ([]audit.RawEntry, error) {
	var es []audit.RawEntry
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/audit/raw?start=%d&end=%d", start, end), nil, &es)
	return es, err
}

// InclusionProof fetches the proof that entry index is in the tree of size
// entries; with ConsistencyProof it makes the client an audit.ProofSource.
func (c *Client) InclusionProof(ctx context.Context, index, size int64) (tlog.RecordProof, error) {
	var r AuditProofResponse
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/audit/proof?index=%d&size=%d", index, size), nil, &r)
	return r.Hashes, err
}

// ConsistencyProof fetches the proof that the tree of old entries is a
// prefix of the tree of size entries.
func (c *Client) ConsistencyProof(ctx context.Context, old, size int64) (tlog.TreeProof, error) {
	var r AuditProofResponse
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/audit/proof?old=%d&size=%d", old, size), nil, &r)
	return r.Hashes, err
}

var _ audit.ProofSource = (*Client)(nil)

// AuditExport streams the entries that match query (the AuditEntries
// filters) to w, in format FormatCSV or FormatJSONL, as the node writes them.
// Only ctx bounds it: a large log's export takes as long as it takes.
func (c *Client) AuditExport(ctx context.Context, query url.Values, format string, w io.Writer) error {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("format", format)
	path := "/api/v1/audit/export?" + q.Encode()
	resp, err := c.sendWith(c.stream, ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// AuditVerify has the node check its stored log against its recent head
// (signed at most once a head interval, as AuditHead's) and, if not nil,
// the earlier signed head the caller kept. It is the node's own check: an
// independent one runs audit.Verify with the verifier key obtained out of
// band (`laborlink audit verify`).
func (c *Client) AuditVerify(ctx context.Context, earlier []byte) (audit.Report, error) {
	body, err := json.Marshal(AuditVerifyRequest{Earlier: string(earlier)})
	if err != nil {
		return audit.Report{}, err
	}
	var r audit.Report
	err = c.do(ctx, http.MethodPost, "/api/v1/audit/verify", body, &r)
	return r, err
}

// AuditReconcile has the node reconcile its log with that of province
// with's node, over from <= time < to (a zero bound is open).
func (c *Client) AuditReconcile(ctx context.Context, with string, from, to time.Time) (AuditReconcileResponse, error) {
	q := url.Values{"with": {with}}
	if !from.IsZero() {
		q.Set("from", from.Format(time.RFC3339Nano))
	}
	if !to.IsZero() {
		q.Set("to", to.Format(time.RFC3339Nano))
	}
	var r AuditReconcileResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/audit/reconcile?"+q.Encode(), nil, &r)
	return r, err
}
