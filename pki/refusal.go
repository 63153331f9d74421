package pki

import (
	"errors"
	"net/http"
	"strings"
	"syscall"
)

// RefusalHints wraps a client transport so that an error that may be a
// node refusing the client's certificate says what a node refuses. Under
// TLS 1.3 a client's side of the handshake ends before the server has
// checked the client's certificate, so the refusal arrives as an alert
// ("tls: bad certificate") or, when the client was already writing its
// request, as the connection closing under it; neither names a cause.
type RefusalHints struct{ Next http.RoundTripper }

func (h RefusalHints) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.Next.RoundTrip(req)
	if err != nil && mayBeRefusal(err) {
		err = &RefusedError{Err: err}
	}
	return resp, err
}

// CloseIdleConnections closes the idle connections of the transport it
// wraps, so http.Client.CloseIdleConnections still reaches them.
func (h RefusalHints) CloseIdleConnections() {
	if c, ok := h.Next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RefusedError is a transport error that may be a node refusing the
// client's certificate at the handshake.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string {
	return e.Err.Error() + " (the node may have refused this certificate at the TLS handshake: a node refuses a certificate that is expired, revoked, of a kind the route does not take, from a retired CA, or of a province that is not a member of the federation; its log names the reason)"
}

func (e *RefusedError) Unwrap() error { return e.Err }

func mayBeRefusal(err error) bool {
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "tls: bad certificate") || strings.Contains(s, "tls: certificate required") || strings.Contains(s, "tls: revoked certificate") || strings.Contains(s, "tls: unknown certificate authority")
}
