package exchange

import (
	"errors"
	"fmt"
	"testing"

	"github.com/laborlink/laborlink/gateway/auth"
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
