package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/go-kit/kit/endpoint"

	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// The dead letters of `laborlink deadletters list|requeue|discard`:
// envelopes delivery gave up on, which operators read (with their reasons,
// never their payload) and requeue once the peer is fixed, or discard when
// the peer will never take them. A discard of all of a peer's takes only
// those a listing showed: the listing's through, the latest burial it
// shows, bounds it, so a dead letter buried since, which the operator has
// not seen, is not dropped with its personal data unread.

// DeadLetters is the node's side of the dead letters.
type DeadLetters interface {
	// DeadLetters lists them for peer, or for every peer when it is "".
	DeadLetters(peer string) ([]store.DeadLetter, error)
	// Requeue puts r.Peer's dead letters that r.Pick() names back in the
	// outbox, audits the requeue as the act of the certificate
	// r.CallerSerial, and wakes the peer's delivery worker; it returns how
	// many went back. An unknown envelope id wraps store.ErrNotFound.
	Requeue(ctx context.Context, r RequeueRequest) (int, error)
	// Discard deletes r.Peer's dead letters that r.Pick() names, with the
	// personal data of their envelopes, and audits the discard as Requeue
	// does; it answers how many went and how many of the peer's are left.
	// An unknown envelope id wraps store.ErrNotFound.
	Discard(ctx context.Context, r DiscardRequest) (DiscardResponse, error)
}

// DeadLettersRequest names the peer province whose dead letters to list;
// "" is every peer.
type DeadLettersRequest struct{ Peer string }

// DeadLettersResponse lists dead letters, by peer and oldest first.
type DeadLettersResponse struct {
	DeadLetters []store.DeadLetter `json:"dead_letters"`
	// Through is the latest burial position among them (0 when none has
	// one): the through of a requeue or discard of all that takes what
	// this list shows and nothing buried after it.
	Through uint64 `json:"through"`
}

// RequeueRequest names what to requeue: one envelope of a peer's dead
// letters, or all of them, those buried through Through when it is set.
type RequeueRequest struct {
	Peer       string  `json:"peer"`
	EnvelopeID string  `json:"envelope_id,omitempty"`
	All        bool    `json:"all,omitempty"`
	Through    *uint64 `json:"through,omitempty"`
	// CallerSerial is the serial (hex) of the certificate the request came
	// with, read from the connection and never from the body: the audit
	// log names the operator by it, as operator identities name people.
	CallerSerial string `json:"-"`
}

// Pick is the store's pick of the dead letters r names: every one of the
// peer's for all without through.
func (r RequeueRequest) Pick() store.DeadPick {
	switch {
	case r.EnvelopeID != "":
		return store.DeadPick{EnvelopeID: r.EnvelopeID}
	case r.Through != nil:
		return store.DeadPick{Through: *r.Through}
	}
	return store.DeadPick{Through: store.EveryBurial}
}

// RequeueResponse says how many dead letters went back to the outbox.
type RequeueResponse struct {
	Requeued int `json:"requeued"`
}

// DiscardRequest names what to discard as RequeueRequest names what to
// requeue: one envelope of a peer's dead letters, or all of them buried
// through Through, which all requires (decodeDiscard).
type DiscardRequest RequeueRequest

// DiscardResponse says how many dead letters were discarded, and how many
// of the peer's are left: after a discard of all, those buried after its
// through, which the list it came from did not show.
type DiscardResponse struct {
	Discarded int `json:"discarded"`
	Left      int `json:"left"`
}

// deadLetterKinds are who may read, requeue and discard dead letters: those
// who run the node and those who look after its agreements with the peer,
// of the node's province.
var deadLetterKinds = []pki.Kind{pki.KindOperator, pki.KindAdmin}

func makeDeadLetterList(province string, d DeadLetters) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		if _, err := auth.RequireProvince(ctx, province, deadLetterKinds...); err != nil {
			return nil, err
		}
		peer := req.(DeadLettersRequest).Peer
		if err := notOwnProvince(peer, province); err != nil {
			return nil, err
		}
		ds, err := d.DeadLetters(peer)
		if err != nil {
			return nil, err
		}
		resp := DeadLettersResponse{DeadLetters: ds}
		for _, dl := range ds {
			resp.Through = max(resp.Through, dl.Burial)
		}
		return resp, nil
	}
}

// makeDeadLetterRequeue serves POST /api/v1/deadletters/requeue.
func makeDeadLetterRequeue(province string, d DeadLetters) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		n, err := actOnDeadLetters(ctx, province, req.(RequeueRequest), d.Requeue)
		if err != nil {
			return nil, err
		}
		return RequeueResponse{Requeued: n}, nil
	}
}

// makeDeadLetterDiscard serves POST /api/v1/deadletters/discard.
func makeDeadLetterDiscard(province string, d DeadLetters) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		return actOnDeadLetters(ctx, province, req.(DiscardRequest), d.Discard)
	}
}

// actOnDeadLetters checks that the caller may act on dead letters and that
// r names another province than the node's own, then acts.
func actOnDeadLetters[R RequeueRequest | DiscardRequest, T any](ctx context.Context, province string, r R, act func(context.Context, R) (T, error)) (T, error) {
	var none T
	if _, err := auth.RequireProvince(ctx, province, deadLetterKinds...); err != nil {
		return none, err
	}
	if err := notOwnProvince(RequeueRequest(r).Peer, province); err != nil {
		return none, err
	}
	return act(ctx, r)
}

// notOwnProvince refuses a peer that is the node's own province. Nothing
// is ever sent there: an empty list, "requeued 0" or "discarded 0" would
// read as "nothing was dead".
func notOwnProvince(peer, province string) error {
	if peer == province {
		return badRequest("peer is %s, this node's own province: dead letters are envelopes for other provinces", peer)
	}
	return nil
}

func decodeDeadLetters(_ context.Context, r *http.Request) (any, error) {
	peer := r.URL.Query().Get("peer")
	if peer != "" && !pki.ValidProvince(peer) {
		return nil, badRequest("peer must be a province code such as 44, got %q", peer)
	}
	return DeadLettersRequest{Peer: peer}, nil
}

// maxRequeueBody bounds a requeue or discard request: a peer and an
// envelope id, or a burial position.
const maxRequeueBody = 4096

func decodeRequeue(_ context.Context, r *http.Request) (any, error) {
	req, err := decodeDeadLetterAct(r, "requeue")
	if err != nil {
		return nil, err
	}
	return req, nil
}

// decodeDiscard reads a discard request, which with all must say through:
// a discard drops the envelopes and their personal data for good, so it
// takes only what a listing showed. The body of a client from before
// through was asked for is refused, with this error, not taken as all.
func decodeDiscard(_ context.Context, r *http.Request) (any, error) {
	req, err := decodeDeadLetterAct(r, "discard")
	if err != nil {
		return nil, err
	}
	if req.All && req.Through == nil {
		return nil, badRequest("all needs through, the through of the list of the dead letters you mean to discard (GET /api/v1/deadletters?peer=%s), so that those buried after you listed are kept", req.Peer)
	}
	return DiscardRequest(req), nil
}

// decodeDeadLetterAct reads the body of a request to act on dead letters,
// whose act ("requeue", "discard") its errors name, and the caller's
// certificate serial from the connection.
func decodeDeadLetterAct(r *http.Request, act string) (RequeueRequest, error) {
	var req RequeueRequest
	if err := decodeSmall(r, maxRequeueBody, &req, `a `+act+` request such as {"peer":"44","all":true,"through":17}`, false); err != nil {
		return req, err
	}
	switch {
	case !pki.ValidProvince(req.Peer):
		return req, badRequest("peer must be a province code such as 44, got %q", req.Peer)
	case req.EnvelopeID == "" && !req.All:
		return req, badRequest("name the envelope_id to %s, or set all to %s every dead letter for %s", act, act, req.Peer)
	case req.EnvelopeID != "" && req.All:
		return req, badRequest("envelope_id and all exclude each other")
	case req.Through != nil && !req.All:
		return req, badRequest("through bounds all: it goes with all, not with envelope_id")
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		req.CallerSerial = r.TLS.PeerCertificates[0].SerialNumber.Text(16)
	}
	return req, nil
}

// DeadLetters lists the node's dead letters for peer, or for every peer
// when it is "", with the through that bounds an act on all of them.
func (c *Client) DeadLetters(ctx context.Context, peer string) (DeadLettersResponse, error) {
	var r DeadLettersResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/deadletters?peer="+url.QueryEscape(peer), nil, &r)
	return r, err
}

// Requeue puts the dead letters r names back in the node's outbox, and
// returns how many went back.
func (c *Client) Requeue(ctx context.Context, r RequeueRequest) (int, error) {
	var resp RequeueResponse
	err := c.actOnDeadLetters(ctx, "/api/v1/deadletters/requeue", r, &resp)
	return resp.Requeued, err
}

// Discard deletes the dead letters r names from the node, which will never
// send them, and answers how many went and how many of the peer's are left.
func (c *Client) Discard(ctx context.Context, r DiscardRequest) (DiscardResponse, error) {
	var resp DiscardResponse
	err := c.actOnDeadLetters(ctx, "/api/v1/deadletters/discard", RequeueRequest(r), &resp)
	return resp, err
}

// actOnDeadLetters posts r to path and reads the answer into out.
func (c *Client) actOnDeadLetters(ctx context.Context, path string, r RequeueRequest, out any) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, body, out)
}
