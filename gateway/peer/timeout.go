package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// TimeoutError is a batch the peer did not answer within the client's
// timeout although the client had a connection to it: it was writing the
// batch, or waiting for the answer, when the time was up. On a slow link
// a large batch takes long to write, and a busy peer long to verify and
// store; the same batch again would most likely time out again, so the
// delivery worker halves its batches after one (delivery.Config.TimedOut).
// The peer may have stored the batch all the same: sent again, its
// envelopes are answered as duplicates, with the receipts it signed.
type TimeoutError struct {
	Province  string
	Envelopes int
	// Timeout is the client's, 0 when it has none (a context's deadline).
	Timeout time.Duration
	Err     error
}

func (e *TimeoutError) Error() string {
	within := ""
	if e.Timeout > 0 {
		within = " within " + e.Timeout.String()
	}
	return fmt.Sprintf("peer %s did not answer a batch of %d envelopes%s (it may have stored them, and answers them as duplicates when they come again): %v", e.Province, e.Envelopes, within, e.Err)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// TimedOut reports whether err is a *TimeoutError: the delivery workers'
// Config.TimedOut.
func TimedOut(err error) bool {
	var t *TimeoutError
	return errors.As(err, &t)
}

// reached traces a request to tell whether it got a connection to the
// peer, so that a timeout after that (writing the batch, waiting for or
// reading the answer) is told from one before it (a dial or a TLS
// handshake that did not complete), which says nothing of the batch. A
// request the transport starts again on another connection starts over
// (GetConn).
type reached struct{ conn atomic.Bool }

// trace returns ctx with the ClientTrace that keeps r; the transport may
// call it from its own goroutines, even after the request has returned.
func (r *reached) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn: func(string) { r.conn.Store(false) },
		GotConn: func(httptrace.GotConnInfo) { r.conn.Store(true) },
	})
}

// timedOut returns err, the error of a request carrying a batch of n
// envelopes to peer, as a *TimeoutError when it timed out once the
// request had a connection (see reached); otherwise as it came.
func timedOut(err error, peer string, n int, timeout time.Duration, conn *reached) error {
	var ne net.Error
	if !conn.conn.Load() || !errors.As(err, &ne) || !ne.Timeout() {
		return err
	}
	return &TimeoutError{Province: peer, Envelopes: n, Timeout: timeout, Err: err}
}
