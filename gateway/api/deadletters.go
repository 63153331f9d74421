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

// The dead letters of `laborlink deadletters list|requeue`: envelopes
// delivery gave up on, which operators read (with their reasons, never
// their payload) and requeue once the peer is fixed.

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

// deadLetterKinds are who may read and requeue dead letters: those who run
// the node and those who look after its agreements with the peer.
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

func makeDeadLetterRequeue(province string, d DeadLetters) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		if _, err := auth.Require(ctx, deadLetterKinds...); err != nil {
			return nil, err
		}
		if r := req.(RequeueRequest); r.Peer == province {
			// Nothing is ever sent to this node's own province: "requeued
			// 0" would read as "nothing was dead".
			return nil, badRequest("peer is %s, this node's own province: dead letters are envelopes for other provinces", r.Peer)
		}
		n, err := d.Requeue(ctx, req.(RequeueRequest))
		if err != nil {
			return nil, err
		}
		return RequeueResponse{Requeued: n}, nil
	}
}

func decodeDeadLetters(_ context.Context, r *http.Request) (any, error) {
	peer := r.URL.Query().Get("peer")
	if peer != "" && !pki.ValidProvince(peer) {
		return nil, badRequest("peer must be a province code such as 44, got %q", peer)
	}
	return DeadLettersRequest{Peer: peer}, nil
}

// maxRequeueBody bounds a requeue request: a peer and an envelope id.
const maxRequeueBody = 4096

func decodeRequeue(_ context.Context, r *http.Request) (any, error) {
	var req RequeueRequest
	if err := decodeSmall(r, maxRequeueBody, &req, `a requeue request such as {"peer":"44","all":true}`, false); err != nil {
		return nil, err
	}
	switch {
	case !pki.ValidProvince(req.Peer):
		return nil, badRequest("peer must be a province code such as 44, got %q", req.Peer)
	case req.EnvelopeID == "" && !req.All:
		return nil, badRequest("name the envelope_id to requeue, or set all to requeue every dead letter for %s", req.Peer)
	case req.EnvelopeID != "" && req.All:
		return nil, badRequest("envelope_id and all exclude each other")
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
	body, err := json.Marshal(RequeueRequest{Peer: peer, EnvelopeID: envelopeID, All: envelopeID == ""})
	if err != nil {
		return 0, err
	}
	var r RequeueResponse
	err = c.do(ctx, http.MethodPost, "/api/v1/deadletters/requeue", body, &r)
	return r.Requeued, err
}
