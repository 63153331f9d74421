package webhook

import (
	"errors"
	"fmt"
	"time"

	"github.com/laborlink/laborlink/gateway/reqtrace"
)

// slowError is a push the system did not answer within the client's
// timeout although the client had a connection to it: it was writing the
// batch, or waiting for the answer, when the time was up. On a slow link
// a large batch takes long to write, and a busy system long to work
// through it; the same batch again would most likely time out again, so
// push halves the batch size after one (see slow). A batch written whole
// (sent) may have been processed all the same, perhaps each time it is
// pushed.
type slowError struct {
	items int
	// sent is whether the batch was written whole before the time was up:
	// only then may the system have processed it. A connection alone does
	// not mean the system took the request.
	sent    bool
	timeout time.Duration
	// next is the most items per push after the timeout (see slow); 0
	// until slow has lowered the size.
	next int
	err  error
}

func (e *slowError) Error() string {
	within := ""
	if e.timeout > 0 {
		within = " within " + e.timeout.String()
	}
	push, them := fmt.Sprintf("a push of %d items", e.items), "them"
	next := ""
	switch {
	case e.items == 1:
		push, them = "a push of 1 item", "it"
		next = "; if it needs longer for one item, raise the webhook timeout"
	case e.next > 0:
		next = fmt.Sprintf("; the next pushes carry at most %d items", e.next)
	}
	what := fmt.Sprintf("it did not answer %s%s (it may have processed %s all the same)", push, within, them)
	if !e.sent {
		what = fmt.Sprintf("it did not take %s%s (the time was up while the push was still being sent)", push, within)
	}
	return fmt.Sprintf("the provincial system timed out: %s%s: %v", what, next, e.err)
}

func (e *slowError) Unwrap() error { return e.err }

// slowedDown returns err, the error of a push of items, as a *slowError
// when the client timed out once the request had a connection: the time
// went on the batch, writing it or waiting for its answer. A timeout
// before that (a connection or TLS handshake that did not complete) says
// nothing of the batch size, which is left alone.
func (p *Pusher) slowedDown(err error, items int, pr *reqtrace.Progress) error {
	timedOut, sent := pr.TimedOut(err)
	if !timedOut {
		return err
	}
	return &slowError{items: items, sent: sent, timeout: p.cfg.Client.Timeout, err: err}
}

// slow returns err, the error of a push of n items taken at size, and
// when it is a *slowError halves size: the same push again would most
// likely time out again, for ever. Half the size, not half of n: a
// timeout on the few items pending says the system was slow rather than
// that batches are too large, and a size lowered to a few would push the
// items that follow a few at a time for the whole hold. Should n be too
// many for the time, each timeout halves the size again, until pushes
// carry fewer. One item alone lowers nothing: nothing smaller can be
// pushed. The pusher has one push in flight at a time, so no other push
// taken at the same size can have halved it already.
func (p *Pusher) slow(n, size int, err error) error {
	var slow *slowError
	if n < 2 || !errors.As(err, &slow) {
		return err
	}
	p.shrink(size/2, "did not answer in time")
	slow.next = p.batch.Current()
	return err
}
