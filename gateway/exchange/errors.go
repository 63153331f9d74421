package exchange

import (
	"errors"
	"fmt"

	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/peer"
)

// Code classifies errors so each transport maps them to its status in one place.
type Code string

// The error codes of the exchange.
const (
	// CodeInvalid: the request or a record in it is malformed or invalid.
	CodeInvalid Code = "invalid"
	// CodeForbidden: the caller may not do this (wrong kind or province).
	CodeForbidden Code = "forbidden"
	// CodeNotFound: no such record or envelope.
	CodeNotFound Code = "not_found"
	// CodeUnavailable: a dependency (store, registry) cannot serve now.
	CodeUnavailable Code = "unavailable"
	// CodeInternal: a fault of this node.
	CodeInternal Code = "internal"
)

// Error is an error with a code and a message meant for the caller.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Summary is the error's message without its cause: this node's own words,
// which the peer API tells a calling node with a fault (peer.Summarized),
// where the cause (a store's data file and fault) stays in this node's log.
func (e *Error) Summary() string { return e.Message }

// Is makes an error of CodeForbidden an auth.ErrForbidden, which every
// transport answers 403, so that the peer API, which cannot know this
// package's codes, refuses a caller the exchange refuses as the local API
// does, rather than failing with 500 (which the origin would retry, and
// count against its breaker, for ever). An error of CodeUnavailable is a
// peer.ErrUnavailable, which the peer API answers 503: the node is not
// at fault, and the origin sends again.
func (e *Error) Is(target error) bool {
	switch target {
	case auth.ErrForbidden:
		return e.Code == CodeForbidden
	case peer.ErrUnavailable:
		return e.Code == CodeUnavailable
	}
	return false
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, CodeInternal for errors without one.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
