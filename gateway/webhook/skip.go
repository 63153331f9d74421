package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/laborlink/laborlink/gateway/store"
)

// skippedCounter and lastSkippedMark are where skips are kept in the store,
// so that State knows them after a restart.
const (
	skippedCounter  = "webhook/skipped"
	lastSkippedMark = "webhook/last-skipped"
)

// Skip is an inbox item the system refused alone for good, as State shows
// it: its id and the refusal, never its content.
type Skip struct {
	EnvelopeID string `json:"envelope_id"`
	// Status is the refusal, as "422 Unprocessable Entity".
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

// refusesItems tells whether a status refuses the items pushed, for good,
// rather than the request: any 4xx but those a wrong URL, credentials or
// request form earn (every item would earn them alike, and skipping would
// empty the push of the whole inbox) and those that mean "later". A 413
// refuses items too: a batch is pushed again in halves first (see push),
// and an item too large alone stays too large.
func refusesItems(code int) bool {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusMethodNotAllowed, http.StatusProxyAuthRequired, http.StatusGone,
		http.StatusLengthRequired, http.StatusRequestURITooLong, http.StatusUnsupportedMediaType,
		http.StatusMisdirectedRequest, http.StatusUpgradeRequired, http.StatusRequestHeaderFieldsTooLarge:
		return false
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return code >= 400 && code <= 499
}

// skip moves the cursor past item, which the system refused alone with
// code, and counts it in the same commit. Like a push, it is recorded even
// if ctx has just ended: the system has answered. It refuses instead, with
// the cursor left before item, when the system has refused
// Config.MaxConsecutiveSkips items in a row (see pause) and does not take
// the next item either (see takesNext).
func (p *Pusher) skip(ctx context.Context, item store.Incoming, code int) error {
	if err := p.pause(code); err != nil && !p.takesNext(ctx, item) {
		return err
	}
	skipped, err := p.inbox.Counter(skippedCounter)
	if err != nil {
		return err
	}
	last, err := json.Marshal(Skip{EnvelopeID: item.EnvelopeID, Status: statusText(code), At: time.Now().UTC()})
	if err != nil {
		return err
	}
	err = p.inbox.RecordAnd(context.WithoutCancel(ctx), store.Progress{
		Counters: map[string]uint64{cursorCounter: item.Seq, skippedCounter: skipped + 1},
		Marks:    map[string]string{lastSkippedMark: string(last)},
	}, nil)
	if err != nil {
		return fmt.Errorf("skip inbox item %s: %w", item.EnvelopeID, err)
	}
	p.mu.Lock()
	p.refusedInARow++
	p.mu.Unlock()
	p.log.Warn("the provincial system refused an inbox item for good; skipped it, it stays in the inbox for the system to pull",
		"envelope_id", item.EnvelopeID, "status", statusText(code), "url", redacted(p.cfg.URL))
	return nil
}

// pause returns an error, and marks the push paused, when the system has
// refused Config.MaxConsecutiveSkips items alone since it last accepted
// one, and now refuses another with code: a system that refuses everything
// is misconfigured, and skipping would walk the whole inbox. The error is
// a failure like any other, so the item is retried with backoff.
func (p *Pusher) pause(code int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refusedInARow < p.cfg.MaxConsecutiveSkips {
		return nil
	}
	p.paused = true
	return fmt.Errorf("the provincial system refused the last %d items one by one and accepted none; not skipping more until it accepts one (last answer %s)",
		p.refusedInARow, statusText(code))
}

// takesNext offers the system, paused at item, the inbox item after it
// alone, and reports whether the system took it; if so it does not refuse
// everything, and the push is no longer paused. Without it a run of items
// refused for good longer than the limit would stop the push for good:
// retried, the first of them never lets the system accept one. The item
// offered is pushed again in its turn (delivery is at least once).
func (p *Pusher) takesNext(ctx context.Context, item store.Incoming) bool {
	next, err := p.inbox.Inbox(item.Seq, 1)
	if err != nil || len(next) == 0 {
		return false
	}
	if code, err := p.post(ctx, next); err != nil || code < 200 || code > 299 {
		return false
	}
	p.accepted()
	return true
}

// Skipped reads how many items were skipped since the node's store was
// made: State's Skipped, for a scrape that wants no more than the count.
func (p *Pusher) Skipped() (uint64, error) {
	return p.inbox.Counter(skippedCounter)
}

// lastSkip reads the latest item skipped, nil before the first.
func (p *Pusher) lastSkip() (*Skip, error) {
	mark, err := p.inbox.Mark(lastSkippedMark)
	if err != nil || mark == "" {
		return nil, err
	}
	var last Skip
	if err := json.Unmarshal([]byte(mark), &last); err != nil {
		return nil, fmt.Errorf("the webhook's last skip in the store: %w", err)
	}
	return &last, nil
}
