package peer

import (
	"errors"
	"fmt"
	"time"
)

// TimeoutError is a batch the peer did not answer within the client's
// timeout although the client had a connection to it: it was writing the
// batch, or waiting for the answer, when the time was up. On a slow link
// a large batch takes long to write, and a busy peer long to verify and
// store; the same batch again would most likely time out again, so the
// delivery worker halves its batches after one (delivery.Config.TimedOut).
// A batch written whole (Sent) may have been stored all the same: sent
// again, its envelopes are answered as duplicates, with the receipts the
// peer signed.
type TimeoutError struct {
	Province  string
	Envelopes int
	// Timeout is the client's, 0 when it has none (a context's deadline).
	Timeout time.Duration
	// Sent is whether the batch was written whole before the time was up:
	// only then may the peer have stored it. A connection alone does not
	// mean the peer took the request.
	Sent bool
	Err  error
}

func (e *TimeoutError) Error() string {
	within := ""
	if e.Timeout > 0 {
		within = " within " + e.Timeout.String()
	}
	if !e.Sent {
		return fmt.Sprintf("peer %s did not take a batch of %d envelopes%s (the time was up while the batch was still being sent): %v", e.Province, e.Envelopes, within, e.Err)
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

// timedOut returns err, the error of a request carrying a batch of n
// envelopes to peer, as a *TimeoutError when it timed out once the
// request had a connection: the time went on the batch, writing it or
// waiting for its answer. A timeout before that (a dial or a TLS
// handshake that did not complete) says nothing of the batch, and err is
// returned as it came.
func (c *call) timedOut(err error, peer string, n int, timeout time.Duration) error {
	timedOut, sent := c.progress.TimedOut(err)
	if !timedOut {
		return err
	}
	return &TimeoutError{Province: peer, Envelopes: n, Timeout: timeout, Sent: sent, Err: err}
}
