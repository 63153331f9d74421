// Package auth carries the caller's verified certificate identity from the
// TLS layer to the services, and decides what each kind of caller may do.
// The TLS configuration (package pki) has already verified the chain, name
// constraints and revocation; this package only reads the result.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/laborlink/laborlink/pki"
)

type ctxKey struct{}

// ErrUnauthenticated means the request carried no verified client identity.
var ErrUnauthenticated = errors.New("no verified client certificate")

// ErrForbidden is wrapped by every refusal of a known caller.
var ErrForbidden = errors.New("forbidden")

// WithIdentity returns a context carrying the caller's identity.
func WithIdentity(ctx context.Context, id pki.Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the caller's identity.
func FromContext(ctx context.Context) (pki.Identity, error) {
	id, ok := ctx.Value(ctxKey{}).(pki.Identity)
	if !ok {
		return pki.Identity{}, ErrUnauthenticated
	}
	return id, nil
}

// FromRequest puts the identity of an HTTPS request's client certificate in
// the context; it fits go-kit's httptransport.ServerBefore. A request without
// a usable certificate gets no identity, and Require refuses it.
func FromRequest(ctx context.Context, r *http.Request) context.Context {
	if _, err := FromContext(ctx); err == nil {
		return ctx // an outer handler read it already
	}
	if r.TLS == nil {
		return ctx
	}
	id, err := pki.PeerIdentity(*r.TLS)
	if err != nil {
		return ctx
	}
	return WithIdentity(ctx, id)
}

// Require returns the caller's identity if its kind is one of kinds.
func Require(ctx context.Context, kinds ...pki.Kind) (pki.Identity, error) {
	id, err := FromContext(ctx)
	if err != nil {
		return id, err
	}
	if !slices.Contains(kinds, id.Kind) {
		return id, fmt.Errorf("%w: %s certificates may not do this (allowed: %v)", ErrForbidden, id.Kind, kinds)
	}
	return id, nil
}

// RequireProvince returns the caller's identity if its kind is one of kinds
// and it belongs to the given province: a province's system may act only for
// its own province.
func RequireProvince(ctx context.Context, province string, kinds ...pki.Kind) (pki.Identity, error) {
	id, err := Require(ctx, kinds...)
	if err != nil {
		return id, err
	}
	if id.Province != province {
		return id, fmt.Errorf("%w: %s speaks for province %s, not %s", ErrForbidden, id, id.Province, province)
	}
	return id, nil
}
