package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Code classifies a registry error so that callers, the HTTP API and the CLI
// can react to it without parsing messages.
type Code string

// The error codes. Each maps to one HTTP status in httpStatus.
const (
	// ENotFound: an unknown agreement, member or node.
	ENotFound Code = "not_found"
	// EInvalid: a malformed command or agreement.
	EInvalid Code = "invalid"
	// EUnauthenticated: the signature or certificate chain does not verify.
	EUnauthenticated Code = "signature_invalid"
	// EForbidden: the signer may not make this change (not a party, not a
	// member, wrong kind of certificate).
	EForbidden Code = "forbidden"
	// EConflict: the agreement is in the wrong state for the transition, a
	// member still has nodes or agreements and cannot be removed yet, the
	// command was already applied, or some node runs a release that does
	// not know the command yet (see CommandLevel).
	EConflict Code = "wrong_state"
	// EUnavailable: no leader is reachable, or this node cannot serve now.
	EUnavailable Code = "unavailable"
	// ENotLeader: only the leader serves this request (restore, leadership
	// transfer); the message names the leader's API address.
	ENotLeader Code = "not_leader"
	// EInternal: anything else.
	EInternal Code = "internal"
)

// Error is the registry's one error type: a code and a message that names
// the problem for a person (which agreement, which province, which state).
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other error and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// httpStatus is the one table from error codes to HTTP statuses.
func httpStatus(code Code) int {
	switch code {
	case ENotFound:
		return http.StatusNotFound
	case EInvalid:
		return http.StatusBadRequest
	case EUnauthenticated:
		return http.StatusUnauthorized
	case EForbidden:
		return http.StatusForbidden
	case EConflict:
		return http.StatusConflict
	case EUnavailable:
		return http.StatusServiceUnavailable
	case ENotLeader:
		return http.StatusMisdirectedRequest
	}
	return http.StatusInternalServerError
}

// decodeError reads an API error response.
func decodeError(resp *http.Response) error {
	var e Error
	if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Code != "" {
		return &e
	}
	return Errorf(EInternal, "%s %s: %s", resp.Request.Method, resp.Request.URL, resp.Status)
}
