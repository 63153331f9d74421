package peer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/go-kit/kit/endpoint"
	"github.com/sony/gobreaker/v2"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/pki"
)

// ErrBadBatch is wrapped by errors about a batch's shape.
var ErrBadBatch = errors.New("bad batch")

// ErrUnavailable is what a Receiver's error is (by errors.Is) when the node
// cannot take the batch for now (its store failed, its registry replica
// has not caught up): the peer API answers 503, and the origin sends the
// batch again later. The exchange's errors of its unavailable code are.
var ErrUnavailable = errors.New("unavailable")

// MakeDeliverEndpoint turns a Receiver into the deliver endpoint. It admits
// node certificates only.
func MakeDeliverEndpoint(r Receiver) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(DeliverRequest)
		from, err := auth.Require(ctx, pki.KindNode)
		if err != nil {
			return nil, err
		}
		if len(req.Envelopes) == 0 || len(req.Envelopes) > contracts.MaxDeliveryBatch {
			return nil, fmt.Errorf("%w: %d envelopes; a batch holds 1 to %d", ErrBadBatch, len(req.Envelopes), contracts.MaxDeliveryBatch)
		}
		if len(req.Chain) == 0 {
			return nil, fmt.Errorf("%w: no signing certificate chain", ErrBadBatch)
		}
		chain := make([]*x509.Certificate, len(req.Chain))
		for i, der := range req.Chain {
			if chain[i], err = x509.ParseCertificate(der); err != nil {
				return nil, fmt.Errorf("%w: chain[%d]: %v", ErrBadBatch, i, err)
			}
		}
		resp, err := r.Receive(ctx, from, chain, req.Envelopes, req.Decoded)
		if err != nil {
			return nil, err
		}
		return resp, nil
	}
}

// Breaker wraps an endpoint in a circuit breaker: after repeated failures it
// fails fast for a while instead of calling a peer that is down. go-kit's own
// adapter targets gobreaker's v1 API, hence this small middleware.
func Breaker(cb *gobreaker.CircuitBreaker[any]) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			return cb.Execute(func() (any, error) { return next(ctx, request) })
		}
	}
}
