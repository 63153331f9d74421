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
// the peer will never take them.

// DeadLetters is the node's side of the dead letters.
type DeadLetters interface {
	// DeadLetters lists them for peer, or for every peer when it is "".
	DeadLetters(peer string) ([]store.DeadLetter, error)
	// Requeue puts peer's dead letter r.EnvelopeID, or all of r.Peer's when
	// it is "", back in the outbox, audits the requeue as the act of the
	// certificate r.CallerSerial, and wakes the peer's delivery worker; it
	// returns how many went back. An unknown envelope id wraps
	// store.ErrNotFound.
	Requeue(ctx context.Context, r RequeueRequest) (int, error)
	// Discard deletes peer's dead letter r.EnvelopeID, or all of r.Peer's
	// when it is "", with the personal data of their envelopes, and audits
	// the discard as Requeue does; it returns how many went. An unknown
	// envelope id wraps store.ErrNotFound.
	Discard(ctx context.Context, r DiscardRequest) (int, error)
}

// DeadLettersRequest names the peer province whose dead letters to list;
// "" is every peer.
type DeadLettersRequest struct{ Peer string }

// DeadLettersResponse lists dead letters, by peer and oldest first.
type DeadLettersResponse struct {
	DeadLetters []store.DeadLetter `json:"dead_letters"`
}

// RequeueRequest names what to requeue: one envelope of a peer's dead
// letters, or all of them.
type RequeueRequest struct {
	Peer       string `json:"peer"`
	EnvelopeID string `json:"envelope_id,omitempty"`
	All        bool   `json:"all,omitempty"`
	// CallerSerial is the serial (hex) of the certificate the request came
	// with, read from the connection and never from the body: the audit
	// log names the operator by it, as operator identities name people.
	CallerSerial string `json:"-"`
}

// RequeueResponse says how many dead letters went back to the outbox.
type RequeueResponse struct {
	Requeued int `json:"requeued"`
}

// DiscardRequest names what to discard as RequeueRequest names what to
// requeue: one envelope of a peer's dead letters, or all of them.
type DiscardRequest RequeueRequest

// DiscardResponse says how many dead letters were discarded.
type DiscardResponse struct {
	Discarded int `json:"discarded"`
}

// deadLetterKinds are who may read, requeue and discard dead letters: those
// who run the node and those who look after its agreements with the peer.
var deadLetterKinds = []pki.Kind{pki.KindOperator, pki.KindAdmin}

func makeDeadLetterList(d DeadLetters) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		if _, err := auth.Require(ctx, deadLetterKinds...); err != nil {
			return nil, err
		}
		ds, err := d.DeadLetters(req.(DeadLettersRequest).Peer)
		if err != nil {
			return nil, err
		}
		return DeadLettersResponse{DeadLetters: append([]store.DeadLetter{}, ds...)}, nil
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
		n, err := actOnDeadLetters(ctx, province, req.(DiscardRequest), d.Discard)
		if err != nil {
			return nil, err
		}
		return DiscardResponse{Discarded: n}, nil
	}
}

// actOnDeadLetters checks that the caller may act on dead letters and that
// r names another province than the node's own, then acts.
func actOnDeadLetters[R RequeueRequest | DiscardRequest](ctx context.Context, province string, r R, act func(context.Context, R) (int, error)) (int, error) {
	if _, err := auth.Require(ctx, deadLetterKinds...); err != nil {
		return 0, err
	}
	if peer := RequeueRequest(r).Peer; peer == province {
		// Nothing is ever sent to this node's own province: "requeued 0"
		// or "discarded 0" would read as "nothing was dead".
		return 0, badRequest("peer is %s, this node's own province: dead letters are envelopes for other provinces", peer)
	}
	return act(ctx, r)
}

func decodeDeadLetters(_ context.Context, r *http.Request) (any, error) {
	peer := r.URL.Query().Get("peer")
	if peer != "" && !pki.ValidProvince(peer) {
		return nil, badRequest("peer must be a province code such as 44, got %q", peer)
	}
	return DeadLettersRequest{Peer: peer}, nil
}

// maxRequeueBody bounds a requeue or discard request: a peer and an
// envelope id.
const maxRequeueBody = 4096

func decodeRequeue(_ context.Context, r *http.Request) (any, error) {
	req, err := decodeDeadLetterAct(r, "requeue")
	if err != nil {
		return nil, err
	}
	return req, nil
}

func decodeDiscard(_ context.Context, r *http.Request) (any, error) {
	req, err := decodeDeadLetterAct(r, "discard")
	if err != nil {
		return nil, err
	}
	return DiscardRequest(req), nil
}

// decodeDeadLetterAct reads the body of a request to act on dead letters,
// whose act ("requeue", "discard") its errors name, and the caller's
// certificate serial from the connection.
func decodeDeadLetterAct(r *http.Request, act string) (RequeueRequest, error) {
	var req RequeueRequest
	if err := decodeSmall(r, maxRequeueBody, &req, `a `+act+` request such as {"peer":"44","all":true}`, false); err != nil {
		return req, err
	}
	switch {
	case !pki.ValidProvince(req.Peer):
		return req, badRequest("peer must be a province code such as 44, got %q", req.Peer)
	case req.EnvelopeID == "" && !req.All:
		return req, badRequest("name the envelope_id to %s, or set all to %s every dead letter for %s", act, act, req.Peer)
	case req.EnvelopeID != "" && req.All:
		return req, badRequest("envelope_id and all exclude each other")
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		req.CallerSerial = r.TLS.PeerCertificates[0].SerialNumber.Text(16)
	}
	return req, nil
}

// DeadLetters lists the node's dead letters for peer, or for every peer
// when it is "".
func (c *Client) DeadLetters(ctx context.Context, peer string) ([]store.DeadLetter, error) {
	var r DeadLettersResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/deadletters?peer="+url.QueryEscape(peer), nil, &r)
	return r.DeadLetters, err
}

// Requeue puts peer's dead letter envelopeID, or all of peer's when it is
// "", back in the node's outbox, and returns how many went back.
func (c *Client) Requeue(ctx context.Context, peer, envelopeID string) (int, error) {
	var r RequeueResponse
	err := c.actOnDeadLetters(ctx, "/api/v1/deadletters/requeue", peer, envelopeID, &r)
	return r.Requeued, err
}

// Discard deletes peer's dead letter envelopeID, or all of peer's when it
// is "", from the node, which will never send them, and returns how many
// went.
func (c *Client) Discard(ctx context.Context, peer, envelopeID string) (int, error) {
	var r DiscardResponse
	err := c.actOnDeadLetters(ctx, "/api/v1/deadletters/discard", peer, envelopeID, &r)
	return r.Discarded, err
}

// actOnDeadLetters posts to path the request naming peer's dead letter
// envelopeID, or all of peer's when it is "", and reads the answer into out.
func (c *Client) actOnDeadLetters(ctx context.Context, path, peer, envelopeID string, out any) error {
	body, err := json.Marshal(RequeueRequest{Peer: peer, EnvelopeID: envelopeID, All: envelopeID == ""})
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path, body, out)
}
