package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// slowError is a push the system did not answer within the client's
// timeout although the request reached it whole. The system may still be
// working through the batch, or have finished it after the client gave
// up; the same batch again would most likely time out again, each time
// perhaps processed, so push halves the batch size after one (see shrink).
type slowError struct {
	items   int
	timeout time.Duration
	err     error
}

func (e *slowError) Error() string {
	within := ""
	if e.timeout > 0 {
		within = " within " + e.timeout.String()
	}
	if e.items == 1 {
		return fmt.Sprintf("the provincial system timed out: it did not answer a push of 1 item%s (it may have processed it all the same); if it needs longer for one item, raise the webhook timeout: %v", within, e.err)
	}
	return fmt.Sprintf("the provincial system timed out: it did not answer a push of %d items%s (it may have processed them all the same); the next pushes carry half as many: %v", e.items, within, e.err)
}

func (e *slowError) Unwrap() error { return e.err }

// sentWhole traces a request to tell whether it was last written whole,
// so that a timeout after that is told from one before it (see
// slowedDown). A redirect's request starts over (GetConn).
type sentWhole struct{ sent atomic.Bool }

// trace is the ClientTrace that keeps s; the transport may call it from
// its own goroutines, even after Do has returned.
func (s *sentWhole) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn:      func(string) { s.sent.Store(false) },
		WroteRequest: func(w httptrace.WroteRequestInfo) { s.sent.Store(w.Err == nil) },
	}
}

// slowedDown returns err, the error of a push of items, as a *slowError
// when the client timed out after the request was written whole: the
// system had the batch and did not answer in time. A timeout before that
// (a connection or TLS handshake that did not complete) says nothing of
// the batch size, which is left alone.
func (p *Pusher) slowedDown(err error, items int, sent *sentWhole) error {
	var ne net.Error
	if !sent.sent.Load() || !errors.As(err, &ne) || !ne.Timeout() {
		return err
	}
	return &slowError{items: items, timeout: p.cfg.Client.Timeout, err: err}
}
