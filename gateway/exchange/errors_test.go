package exchange

import (
	"errors"
	"fmt"
	"testing"

	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/peer"
)

// TestForbiddenIsAuthForbidden: an error of CodeForbidden, however
// wrapped, is an auth.ErrForbidden, so a transport that knows only auth's
// errors (the peer API) answers it 403; an error of any other code is not,
// unless it wraps one.
func TestForbiddenIsAuthForbidden(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"forbidden", Errorf(CodeForbidden, "no"), true},
		{"forbidden, wrapped", fmt.Errorf("receive: %w", Errorf(CodeForbidden, "no")), true},
		{"forbidden, with a cause", &Error{Code: CodeForbidden, Message: "signing chain refused", Err: errors.New("revoked")}, true},
		{"invalid", Errorf(CodeInvalid, "bad"), false},
		{"unavailable", &Error{Code: CodeUnavailable, Message: "store", Err: errors.New("io")}, false},
		{"internal, wrapping a refusal", &Error{Code: CodeInternal, Message: "x", Err: auth.ErrForbidden}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := errors.Is(c.err, auth.ErrForbidden); got != c.want {
				t.Errorf("errors.Is(%v, auth.ErrForbidden) = %v, want %v", c.err, got, c.want)
			}
			if errors.Is(c.err, auth.ErrUnauthenticated) {
				t.Errorf("%v is auth.ErrUnauthenticated", c.err)
			}
		})
	}
}

// TestUnavailableIsPeerUnavailable: an error of CodeUnavailable, however
// wrapped, is a peer.ErrUnavailable, so the peer API answers it 503 (the
// node cannot take the batch for now) and not 500 (a fault of the node's).
func TestUnavailableIsPeerUnavailable(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"unavailable", Errorf(CodeUnavailable, "registry replica behind"), true},
		{"unavailable, wrapped", fmt.Errorf("receive: %w", &Error{Code: CodeUnavailable, Message: "store", Err: errors.New("io")}), true},
		{"internal", Errorf(CodeInternal, "bug"), false},
		{"forbidden", Errorf(CodeForbidden, "no"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := errors.Is(c.err, peer.ErrUnavailable); got != c.want {
				t.Errorf("errors.Is(%v, peer.ErrUnavailable) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}
