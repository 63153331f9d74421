package peer

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/sony/gobreaker/v2"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// Directory tells where a peer province's node listens, e.g. from the
// registry's member list.
type Directory interface {
	PeerURL(province string) (string, error)
}

// BreakerSettings tune the per-peer circuit breakers.
type BreakerSettings struct {
	// Failures is how many consecutive failed batches open the breaker. Default 5.
	Failures uint32
	// Open is how long an open breaker fails fast before letting one batch
	// probe the peer. Default 10s.
	Open time.Duration
	// OnStateChange, if set, hears every transition (for metrics and logs).
	OnStateChange func(peer string, from, to gobreaker.State)
}

// HTTPClients returns the HTTP client for calling a peer province: its TLS
// configuration must present this node's certificate and accept only a node
// of that province (pki.TLS.ClientConfig with PeerPolicy{Kinds: node,
// Province: p}), so a wrong server fails in the handshake.
type HTTPClients func(province string) (*http.Client, error)

// Client sends batches to peer nodes; it implements delivery.Sender. One
// long-lived HTTP/2 connection per peer avoids a TLS handshake per batch.
type Client struct {
	verifier *pki.Verifier
	chain    func() [][]byte
	dir      Directory
	clients  HTTPClients
	settings BreakerSettings
	// presenting tells what the HTTP clients made from now on present
	// (ClientOption Presenting); nil, a certificate never reloaded.
	presenting func() pki.Presented

	mu    sync.Mutex
	peers map[string]*remote
}

// ClientOption configures NewClient.
type ClientOption func(*Client)

// Presenting has the client reach each peer over a new HTTP client, from
// clients, once what the HTTP clients present falls behind presenting
// (pki.KeyPair.Presenting): after a rotation, the peer refuses every
// request on the connections made before (403) once the old certificate
// is revoked, and the refusal, which the breaker does not count, would be
// retried on the same connection for as long as the retries keep it open
// (see pki.Presented). The connections made before are closed as their
// requests end (see retire). presenting is called once per batch, and
// must be cheap.
func Presenting(presenting func() pki.Presented) ClientOption {
	return func(c *Client) { c.presenting = presenting }
}

type remote struct {
	url string
	// server is the peer as its certificate is verified again (see
	// gotConn and checkAnswer).
	server server
	// presented is what the client's connections present.
	presented pki.Presented
	// client is the HTTP client the endpoints share, and use what they do
	// with it, to close its connections when the peer moves (see retire).
	client   *http.Client
	use      use
	endpoint endpoint.Endpoint
	breaker  *gobreaker.CircuitBreaker[any]
	// audit reads the peer's audit entries over the same connections.
	audit endpoint.Endpoint
	// chain is the receipt chain the peer answered with last, parsed: it
	// sends the same one with every answer until its certificate changes.
	chain atomic.Pointer[parsedChain]
}

// parsedChain is a chain as it came (DER) and parsed.
type parsedChain struct {
	der   [][]byte
	certs []*x509.Certificate
}

// parseChain parses a receipt chain, or returns the last one parsed when
// it is the same. Only the parsing is saved: the chain is verified with
// every answer, as a revocation may come at any time.
func (r *remote) parseChain(peer string, der [][]byte) ([]*x509.Certificate, error) {
	if last := r.chain.Load(); last != nil && slices.EqualFunc(last.der, der, bytes.Equal) {
		return last.certs, nil
	}
	certs := make([]*x509.Certificate, len(der))
	for i, d := range der {
		var err error
		if certs[i], err = x509.ParseCertificate(d); err != nil {
			return nil, fmt.Errorf("peer %s receipt chain[%d]: %w", peer, i, err)
		}
	}
	r.chain.Store(&parsedChain{der: der, certs: certs})
	return certs, nil
}

var _ delivery.ProofSender = (*Client)(nil)

// NewClient returns a client that finds peers in dir and reaches them with
// the clients that clients returns. chain gives the signing certificate
// chain (DER, leaf first) sent with every batch: the current one, so that a
// rotated certificate goes out with the envelopes it signed.
//
// verifier checks the chain each destination signs its receipts with; an
// envelope counts as delivered only with a receipt that verifies.
func NewClient(verifier *pki.Verifier, chain func() [][]byte, dir Directory, clients HTTPClients, s BreakerSettings, opts ...ClientOption) *Client {
	if s.Failures == 0 {
		s.Failures = 5
	}
	if s.Open == 0 {
		s.Open = 10 * time.Second
	}
	c := &Client{verifier: verifier, chain: chain, dir: dir, clients: clients, settings: s, peers: make(map[string]*remote)}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Send delivers one batch to the peer province's node.
func (c *Client) Send(ctx context.Context, peer string, batch []store.Queued) ([]delivery.Outcome, error) {
	return c.SendWithProofs(ctx, peer, batch, nil, c.chain())
}

// SendWithProofs is Send with proofs[i], where there is one, added to
// batch[i] as the request is written, and chain, the chain of the key
// that signed them, in place of the client's current one
// (delivery.ProofSender).
func (c *Client) SendWithProofs(ctx context.Context, peer string, batch []store.Queued, proofs []*contracts.BatchProof, chain [][]byte) ([]delivery.Outcome, error) {
	body, unsigned, err := encodeBatch(chain, batch, proofs)
	if err != nil {
		return nil, err
	}
	r, err := c.remote(peer)
	if err != nil {
		return nil, err
	}
	if unsigned >= 0 {
		// Queued to be signed with its batch, and nothing signed it: a
		// wiring fault, retried rather than sent to be rejected for good.
		return nil, fmt.Errorf("envelope %s is not signed yet: the node's sender must sign batches (exchange.BatchSender)", batch[unsigned].EnvelopeID)
	}
	resp, err := r.endpoint(ctx, sendRequest{body: body, batch: batch})
	if err != nil {
		return nil, err
	}
	return resp.([]delivery.Outcome), nil
}

// sendRequest is a batch on its way to a peer: the body written for it,
// and the envelopes as queued, which the answer is held to.
type sendRequest struct {
	body  deliverBody
	batch []store.Queued
}

// checked wraps the peer's deliver endpoint (next) so that the answer is
// checked inside the breaker: an answer that breaks the protocol, for the
// batch or for some envelopes only, is the peer's fault as much as a 500
// is (see healthy). It takes a sendRequest and answers the batch's
// outcomes.
//
// A request that got a connection to the peer and then timed out is a
// *TimeoutError (see call.timedOut), which the breaker counts as the
// failure it is.
func (c *Client) checked(r *remote, peer string, next endpoint.Endpoint) tracked {
	return func(ctx context.Context, request any, call *call) (any, error) {
		req := request.(sendRequest)
		resp, err := next(ctx, req.body)
		if err != nil {
			return nil, call.timedOut(err, peer, len(req.batch), r.client.Timeout)
		}
		return c.outcomes(r, peer, resp.(answer), req.batch)
	}
}

// outcomes checks the peer's answer to batch and returns an outcome per
// envelope. What makes the answer untrustworthy as a whole (its receipts'
// chain, its count of results, the signature over a batch root of its
// receipts) fails the batch. An answer for one envelope that breaks the
// protocol (see receiptCheck.outcome), when the others hold, is a
// *delivery.BrokenAnswerError naming it and carrying the others'
// outcomes: each rests on its own receipt, verified under the answer's
// signed root, so a peer that mishandles one envelope does not hold up
// the rest of its queue.
func (c *Client) outcomes(r *remote, peer string, ans answer, batch []store.Queued) ([]delivery.Outcome, error) {
	results := ans.Results
	check, err := c.receiptCheck(r, peer, ans.Chain)
	if err != nil {
		return nil, err
	}
	if len(results) != len(batch) {
		return nil, fmt.Errorf("peer %s answered %d results for %d envelopes", peer, len(results), len(batch))
	}
	out := make([]delivery.Outcome, len(results))
	receipts := make([]*contracts.Receipt, 0, len(results))
	var broken []delivery.BrokenAnswer // nil unless the peer breaks the protocol
	for i, res := range results {
		o, rc, err := check.outcome(res, ans.receipt(i), batch[i])
		if err != nil {
			broken = append(broken, delivery.BrokenAnswer{EnvelopeID: batch[i].EnvelopeID, Err: err})
			continue
		}
		if rc != nil {
			receipts = append(receipts, rc)
		}
		out[i] = o
	}
	// Together: the receipts of one answer are signed together, and
	// verifying them as a batch costs one root signature check and one
	// tree between them (contracts.VerifyReceipts).
	if err := contracts.VerifyReceipts(receipts, check.roots); err != nil {
		if broken, err = check.unverified(receipts, broken, err); err != nil {
			return nil, err
		}
	}
	if len(broken) > 0 {
		return nil, &delivery.BrokenAnswerError{Peer: peer, Outcomes: holding(out, broken), Broken: broken}
	}
	return out, nil
}

// holding returns the outcomes of out whose envelopes are not broken, in
// order.
func holding(out []delivery.Outcome, broken []delivery.BrokenAnswer) []delivery.Outcome {
	held := make([]delivery.Outcome, 0, len(out)-len(broken))
	for _, o := range out {
		if o.EnvelopeID != "" && !slices.ContainsFunc(broken, func(b delivery.BrokenAnswer) bool { return b.EnvelopeID == o.EnvelopeID }) {
			held = append(held, o)
		}
	}
	return held
}

// BreakerState reports each known peer's breaker state.
func (c *Client) BreakerState() map[string]gobreaker.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]gobreaker.State, len(c.peers))
	for p, r := range c.peers {
		out[p] = r.breaker.State()
	}
	return out
}

// remote returns the peer's endpoint, building it (and its breaker) on first
// use and again when the directory moves the peer to a new address, or
// when the certificate this node presents was rotated (Presenting). The
// replaced remote is retired: its connections lead to the old address or
// present the old certificate, and its client is not used again, so they
// are closed, the idle ones at once and the others once the requests still
// in flight on them finish.
func (c *Client) remote(peer string) (*remote, error) {
	addr, err := c.dir.PeerURL(peer)
	if err != nil {
		return nil, fmt.Errorf("find peer %s: %w", peer, err)
	}
	var now pki.Presented
	if c.presenting != nil {
		now = c.presenting() // before the client is made: see pki.KeyPair.Presenting
	}
	r, old, err := c.remoteAt(peer, addr, now)
	if old != nil {
		// Outside the lock: closing a TLS connection may wait on its write.
		old.retire()
	}
	return r, err
}

// remoteAt returns the peer's remote at addr whose connections present
// what now says or a later certificate, building it if the peer has none
// such yet, and the one it replaced, if any. A remote replaced for the
// certificate alone hands its breaker on: the peer is no better or worse
// for it.
func (c *Client) remoteAt(peer, addr string, now pki.Presented) (r, replaced *remote, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.peers[peer]
	if ok && old.url == addr && !old.presented.Behind(now) {
		return old, nil, nil
	}
	var cb *gobreaker.CircuitBreaker[any]
	if ok && old.url == addr {
		cb = old.breaker
	}
	if r, err = c.newRemote(peer, addr, now, cb); err != nil {
		return nil, nil, err
	}
	c.peers[peer] = r
	return r, old, nil
}

// newRemote builds the endpoints of the peer at addr, and its breaker
// unless cb is one to keep.
func (c *Client) newRemote(peer, addr string, presented pki.Presented, cb *gobreaker.CircuitBreaker[any]) (*remote, error) {
	base, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("peer %s address %q: %w", peer, addr, err)
	}
	hc, err := c.clients(peer)
	if err != nil {
		return nil, fmt.Errorf("client for peer %s: %w", peer, err)
	}
	hc = noRedirects(peer, hc)
	srv := server{province: peer, verifier: c.verifier}
	ep := newClientEndpoint(base, srv, hc)
	if cb == nil {
		cb = c.newBreaker(peer)
	}
	r := &remote{url: addr, server: srv, presented: presented, client: hc, breaker: cb}
	// Tracked inside the breaker: a batch it fails fast never reaches
	// the client.
	r.endpoint = Breaker(cb)(r.track(c.checked(r, peer, ep)))
	r.audit = r.track(untraced(newAuditClientEndpoint(base, srv, hc)))
	return r, nil
}

// noRedirects returns a copy of hc, sharing its transport, that follows
// no redirect: the peer API never redirects, and following one would send
// a batch again wherever the answer points, over plain HTTP too, where its
// records would cross the network unencrypted to a server no certificate
// names.
func noRedirects(peer string, hc *http.Client) *http.Client {
	c := *hc
	c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		return fmt.Errorf("peer %s redirected the request to %s; the peer API does not redirect, so the redirect is not followed", peer, r.URL.Redacted())
	}
	return &c
}

// newBreaker returns a breaker for the peer, as the settings say.
func (c *Client) newBreaker(peer string) *gobreaker.CircuitBreaker[any] {
	failures := c.settings.Failures
	return gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:         peer,
		MaxRequests:  1,
		Timeout:      c.settings.Open,
		ReadyToTrip:  func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= failures },
		IsSuccessful: healthy,
		OnStateChange: func(name string, from, to gobreaker.State) {
			if c.settings.OnStateChange != nil {
				c.settings.OnStateChange(name, from, to)
			}
		},
	})
}

// healthy is the breaker's verdict on a call: only transport faults and
// the peer's own failures count against it, an answer that breaks the
// protocol for every envelope among them (see outcomes). A peer
// that refuses a batch (400: a bad batch; 401 or 403: a certificate it
// will not take) is up and answering; opening the breaker would only
// delay what the error says. Per-envelope denials come inside a 200 and
// are no errors at all.
func healthy(err error) bool {
	if _, _, refused := Refusal(err); err == nil || refused {
		return true
	}
	// An answer that holds for some envelopes is a peer at work that
	// mishandles others, which the worker sets apart: counted as a
	// failure, one record type it garbles would trip the breaker and
	// stall the whole queue while most of every batch gets through.
	var broken *delivery.BrokenAnswerError
	return errors.As(err, &broken) && len(broken.Outcomes) > 0
}

// receiptCheck checks one answer's receipts: for this envelope, from
// this node, and signed (roots).
type receiptCheck struct {
	peer     string
	receiver string
	roots    *contracts.RootVerifier
}

// receiptCheck checks the chain a peer signed its receipts with (a node of
// that province, verified like any other) and returns the check for the
// receipts of its answer.
func (c *Client) receiptCheck(r *remote, peer string, chainDER [][]byte) (*receiptCheck, error) {
	if len(chainDER) == 0 {
		return nil, fmt.Errorf("peer %s answered without the chain of its receipts", peer)
	}
	chain, err := r.parseChain(peer, chainDER)
	if err != nil {
		return nil, err
	}
	id, err := c.verifier.Verify(chain, x509.ExtKeyUsageAny)
	if err != nil {
		return nil, fmt.Errorf("peer %s receipt chain: %w", peer, err)
	}
	if id.Kind != pki.KindNode || id.Province != peer {
		return nil, fmt.Errorf("peer %s signed its receipts as %s", peer, id)
	}
	return &receiptCheck{peer: peer, receiver: id.URI(), roots: contracts.NewRootVerifier(chain[0].PublicKey)}, nil
}

// outcome reads the peer's result for the envelope sent: its outcome, and
// the receipt that proves it, when there is one, for its signature to be
// verified with the others'. An error says how the result breaks the
// protocol for this envelope: an answer for another envelope, a status
// there is none of, a receipt that is no proof of what the result says
// (see read).
func (k *receiptCheck) outcome(res Result, decoded *contracts.Receipt, sent store.Queued) (delivery.Outcome, *contracts.Receipt, error) {
	if res.EnvelopeID == "" && res.Status == StatusRejected {
		// The destination could not even read the envelope's id; results
		// are in request order, so this one is sent's. Rejecting it keeps
		// one unreadable envelope from blocking the peer's queue.
		res.EnvelopeID = sent.EnvelopeID
	}
	if res.EnvelopeID != sent.EnvelopeID {
		return delivery.Outcome{}, nil, fmt.Errorf("peer %s answered for envelope %s in place of %s", k.peer, res.EnvelopeID, sent.EnvelopeID)
	}
	var r *contracts.Receipt
	var digest string
	switch res.Status {
	case StatusStored, StatusDuplicate:
		var err error
		if r, err = k.read(res, decoded, sent); err != nil {
			return delivery.Outcome{}, nil, err
		}
		digest = r.PayloadDigest
	case StatusRejected:
		// Destinations send no receipt with a rejection; one that came
		// is kept as the rejection's proof, so it must be one.
		if len(res.Receipt) > 0 {
			var err error
			if r, err = k.read(res, nil, sent); err != nil {
				return delivery.Outcome{}, nil, err
			}
		}
	case StatusDeferred:
	default:
		return delivery.Outcome{}, nil, fmt.Errorf("peer %s answered envelope %s with unknown status %q", k.peer, res.EnvelopeID, res.Status)
	}
	return delivery.Outcome{EnvelopeID: res.EnvelopeID, Receipt: res.Receipt, Rejected: res.Status == StatusRejected, Deferred: res.Status == StatusDeferred, Reasons: res.Reasons, PayloadDigest: digest}, r, nil
}

// unverified sorts out the receipts of an answer when VerifyReceipts
// failed them with err, and returns broken with the envelopes whose
// receipts do not verify added. A batch root whose signature does not
// verify leaves nothing of the answer to trust, and fails it whole. A
// receipt that does not verify alone otherwise (its path does not lead to
// the signed root, or the signature of its own does not verify) is no
// proof for its envelope, and for its envelope alone.
func (k *receiptCheck) unverified(receipts []*contracts.Receipt, broken []delivery.BrokenAnswer, err error) ([]delivery.BrokenAnswer, error) {
	for _, r := range receipts {
		if r.Batch == nil || len(r.Signature) > 0 {
			continue
		}
		if rootErr := k.roots.Verify(r.Batch.Root, r.Batch.Signature); rootErr != nil {
			return nil, fmt.Errorf("peer %s: receipt for %s: the signature over its batch root does not verify, so no receipt of the answer is trusted: %w", k.peer, r.EnvelopeID, rootErr)
		}
	}
	n := len(broken)
	for _, r := range receipts {
		// read held each receipt to its envelope's id.
		if verr := r.VerifyWith(k.roots); verr != nil {
			broken = append(broken, delivery.BrokenAnswer{EnvelopeID: r.EnvelopeID, Err: fmt.Errorf("peer %s: %w", k.peer, verr)})
		}
	}
	if len(broken) == n {
		// Each verifies alone though not together: no answer to act on.
		return nil, fmt.Errorf("peer %s: %w", k.peer, err)
	}
	return broken, nil
}

// read decodes a result's receipt, unless decoded is it already (see
// answer), and checks that it answers the result's envelope, sent, from
// this node, as the result does: its id, its payload and, when the
// receipt binds it, the whole envelope; its signature is verified with
// the others'. A receipt whose status is not the result's (a "rejected" one
// under a stored result, or a "stored" one under a rejection), or for
// other content than sent, is no proof of what the result says: it breaks
// the protocol for that envelope, as an answer for another envelope does.
func (k *receiptCheck) read(res Result, decoded *contracts.Receipt, sent store.Queued) (*contracts.Receipt, error) {
	if len(res.Receipt) == 0 {
		return nil, fmt.Errorf("peer %s answered %s for envelope %s without a receipt", k.peer, res.Status, res.EnvelopeID)
	}
	r := decoded
	if r == nil {
		var err error
		if r, err = contracts.DecodeReceipt(res.Receipt); err != nil {
			return nil, fmt.Errorf("peer %s receipt for %s: %w", k.peer, res.EnvelopeID, err)
		}
	}
	if r.EnvelopeID != res.EnvelopeID || r.Receiver != k.receiver {
		return nil, fmt.Errorf("peer %s receipt for %s names envelope %s and receiver %s", k.peer, res.EnvelopeID, r.EnvelopeID, r.Receiver)
	}
	if string(r.Status) != string(res.Status) {
		return nil, fmt.Errorf("peer %s answered %s for envelope %s with a receipt saying %s", k.peer, res.Status, res.EnvelopeID, r.Status)
	}
	want, err := sentDigest(sent.Envelope)
	if err != nil {
		return nil, fmt.Errorf("envelope %s as sent to %s: %w", res.EnvelopeID, k.peer, err)
	}
	if string(want) != r.PayloadDigest {
		return nil, fmt.Errorf("peer %s receipt for %s is for payload %s, not the %s sent", k.peer, res.EnvelopeID, r.PayloadDigest, want)
	}
	// A receipt bound to the whole envelope must be bound to the one sent,
	// not to another of its id and payload; one without the binding comes
	// from a destination of an earlier release and binds what it says.
	if r.EnvelopeDigest != "" {
		d, err := sentSigningDigest(sent)
		if err != nil {
			return nil, fmt.Errorf("envelope %s as sent to %s: %w", res.EnvelopeID, k.peer, err)
		}
		if !r.MatchesDigest(d) {
			return nil, fmt.Errorf("peer %s receipt for %s is for envelope digest %s, not the %s sent: another envelope under its id and payload", k.peer, res.EnvelopeID, r.EnvelopeDigest, contracts.FormatDigest(d))
		}
	}
	return r, nil
}
