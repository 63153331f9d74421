// Package webhook pushes a node's inbox to the province's own business
// system: what arrived from other provinces is POSTed, in arrival order and
// in batches, to a URL the province configures, with retries and backoff
// until the system answers 2xx. Delivery is at least once: the cursor moves
// only after a 2xx, so a crash in between repeats a batch; every item
// carries its envelope id for the receiver to deduplicate.
//
// A batch the system refuses for good (a 4xx that is about the items, such
// as 400, 409 or 422) is pushed again in halves, down to single items, so
// the items it takes still arrive; an item it refuses alone is skipped: the
// cursor moves past it, State counts it durably and names the last one, and
// the item stays in the inbox for the system to pull. A 4xx about the
// request rather than the items (401, 403, 404...) and 408, 429 or 5xx are
// retried, never skipped: they would refuse every item alike.
//
// A system that refuses every item alone, say because it expects another
// format, would still have the whole inbox skipped one item at a time. So
// once it has refused Config.MaxConsecutiveSkips items in a row and
// accepted none, the push stops skipping: the next refused item is a
// failure, retried with backoff with the cursor before it, and State says
// so (Paused, LastError) until the system accepts an item again. Each
// retry offers it the item after the refused one too: if it takes that,
// it refuses only the one, which is skipped, and the push goes on.
//
// A system that, once connected, does not take and answer a batch within
// the client's timeout is retried with half the batch size, however few
// items the batch carried, for Config.ShrinkHold, down to single items: a
// system, or a link to it, too slow for a full batch would otherwise be
// sent the same batch forever, the system perhaps processing it every
// time it had it whole. Once the hold is over the batch size doubles, and
// doubles again after each full batch taken, up to Config.Batch: a system
// still slow costs one timeout per hold, and one that is fast again is
// back to full batches within a few pushes.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/gateway/batchsize"
	"github.com/laborlink/laborlink/gateway/reqtrace"
	"github.com/laborlink/laborlink/gateway/store"
)

// cursorCounter is where the pushed position is kept in the store.
const cursorCounter = "webhook/cursor"

// Inbox is the part of the store the pusher reads and advances.
type Inbox interface {
	Inbox(after uint64, limit int) ([]store.Incoming, error)
	InboxHead() (uint64, error)
	Counter(name string) (uint64, error)
	Counters(names []string) ([]uint64, error)
	Mark(name string) (string, error)
	// RecordAnd moves the cursor, and with a skip records it in the same
	// commit.
	RecordAnd(ctx context.Context, p store.Progress, also func(*bolt.Tx) error) error
}

// Config says where and how to push.
type Config struct {
	// URL receives POSTs of {"items": [...]} (the local API's inbox items).
	URL string
	// Client sends the requests; its transport carries any TLS settings.
	// Its Timeout is how long the system may take to answer a batch: one
	// it does not take and answer in time, once connected, halves the
	// batch size for ShrinkHold, down to one item. Default: a client with
	// a 30s Timeout.
	Client *http.Client
	// Batch is the most items per request. Default 100.
	Batch int
	// Poll is how often an idle pusher looks for new items. Default 1s.
	Poll time.Duration
	// MaxBackoff caps the wait between retries. Default 1m.
	MaxBackoff time.Duration
	// MaxConsecutiveSkips is how many items in a row, with none accepted
	// in between, the push may skip as refused for good. Past it the
	// system is taken to be refusing everything, and the push retries the
	// next refused item instead of skipping it, until the system accepts
	// one. Default 10; negative is an error.
	MaxConsecutiveSkips int
	// ShrinkHold is how long a batch size halved after a 413 to a full
	// batch, or after a timeout, holds before the push tries twice as many
	// (then twice again after each full batch taken, up to Batch), so a
	// limit lowered or a system slowed for a while does not slow the push
	// until the node restarts. A 413 that one item too large alone
	// accounts for halves nothing. Default 10m.
	ShrinkHold time.Duration
	// Now is the clock ShrinkHold is measured by; nil is time.Now. Tests
	// set it so that a slow machine does not end the hold before they look.
	Now func() time.Time
}

// Pusher pushes the inbox to the configured URL until its context ends.
type Pusher struct {
	cfg   Config
	inbox Inbox
	log   *slog.Logger
	// batch is the most items per request now: Config.Batch, halved each
	// time the system answers 413 to a full batch that no item too large
	// alone accounts for, or times out on a batch, for Config.ShrinkHold,
	// then grown back (batchsize.Size), so a body limit smaller than a
	// full batch slows the push instead of costing a split of every batch,
	// and a system too slow for a full batch still gets the items one
	// smaller batch at a time.
	batch *batchsize.Size
	mu    sync.Mutex
	// failures, lastErr and lastPush are how the push stands (State).
	failures int
	lastErr  string
	lastPush time.Time
	// refusedInARow counts the items skipped since the system last
	// accepted one; paused is set when a skip was refused for reaching
	// Config.MaxConsecutiveSkips (see pause). A 2xx clears both. They live
	// in memory only: a restart lets the push skip at most another limit's
	// worth, items that stay in the inbox like every skipped one, and is
	// how an operator who has checked a run of refused items lets the push
	// move past them without raising the limit.
	refusedInARow int
	paused        bool
}

// State is how the push stands, for `laborlink status` and the metrics.
type State struct {
	// URL is where items go, without any user information or query.
	URL string `json:"url"`
	// Pushed is the inbox position the system has acknowledged up to;
	// Pending counts the items after it.
	Pushed  uint64 `json:"pushed"`
	Pending uint64 `json:"pending"`
	// Batch is the most items per request now (see Config.Batch).
	Batch int `json:"batch"`
	// Failures counts the failed pushes since the last that succeeded;
	// LastError is the latest one's error.
	Failures  int       `json:"failures"`
	LastError string    `json:"last_error,omitempty"`
	LastPush  time.Time `json:"last_push,omitzero"`
	// Skipped counts the items the system refused alone for good, since
	// the node's store was made; LastSkipped is the latest of them.
	Skipped     uint64 `json:"skipped"`
	LastSkipped *Skip  `json:"last_skipped,omitempty"`
	// Paused is true while the push has stopped skipping: the system
	// refused Config.MaxConsecutiveSkips items in a row alone, and has
	// accepted none since. The push retries the next item with backoff,
	// LastError says why, and it goes on by itself once the system
	// accepts an item.
	Paused bool `json:"paused"`
	// Unread says why the push's position and counts (pushed, pending,
	// skipped, last_skipped) could not be read from the node's store,
	// which leaves them zero; empty when they were read.
	Unread string `json:"unread,omitempty"`
}

// State reads how the push stands. When the store cannot be read it
// returns the error with what the pusher holds in memory (URL, batch,
// failures, the last error, paused), for a status page to show all the
// same, with Unread set.
//
// The store is read first: advance notes the system's answer before it
// moves the cursor, so that the cursor State reads is never ahead of the
// last push it then reads from memory.
func (p *Pusher) State() (State, error) {
	var st State
	err := p.readState(&st)
	p.mu.Lock()
	st.URL, st.Batch, st.Failures, st.LastError, st.LastPush, st.Paused = redacted(p.cfg.URL), p.batch.Current(), p.failures, p.lastErr, p.lastPush, p.paused
	p.mu.Unlock()
	if err != nil {
		st.Unread = err.Error()
		return st, err
	}
	return st, nil
}

// readState reads the push's position and counts into st.
func (p *Pusher) readState(st *State) error {
	counts, err := p.inbox.Counters([]string{cursorCounter, skippedCounter})
	if err != nil {
		return err
	}
	head, err := p.inbox.InboxHead()
	if err != nil {
		return err
	}
	last, err := p.lastSkip()
	if err != nil {
		return err
	}
	st.Pushed, st.Skipped, st.LastSkipped = counts[0], counts[1], last
	st.Pending = behind(head, st.Pushed)
	return nil
}

// Pushed reads the position through which the provincial system has
// acknowledged the inbox.
func (p *Pusher) Pushed() (uint64, error) { return p.inbox.Counter(cursorCounter) }

// Pending reads how many inbox items the system has not acknowledged:
// State's Pending, for a gauge sampled every few seconds that wants no
// more than the count.
func (p *Pusher) Pending() (uint64, error) {
	pushed, err := p.Pushed()
	if err != nil {
		return 0, err
	}
	head, err := p.inbox.InboxHead()
	if err != nil {
		return 0, err
	}
	return behind(head, pushed), nil
}

// Failures is State's Failures: the failed pushes since the last that
// succeeded. It reads nothing from the store.
func (p *Pusher) Failures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failures
}

// behind counts the inbox items after the cursor pushed up to head. The
// cursor is read first and the head only grows, so it is not past head;
// 0 all the same if it were.
func behind(head, pushed uint64) uint64 {
	if head > pushed {
		return head - pushed
	}
	return 0
}

// redacted is u without user information, query or fragment, which may
// hold credentials.
func redacted(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	parsed.User, parsed.RawQuery, parsed.Fragment = nil, "", ""
	return parsed.String()
}

// redactedError is err with the URL of any *url.Error in it redacted: a
// failed request's error quotes the URL it went to, query credentials
// included, and the error is logged and kept as State's LastError, which
// operators and auditors read. It also drops what net/http quotes of an
// answer it could not read (a malformed response's first line or header,
// a GOAWAY's debug data): a broken system or proxy may answer with the
// request it got, the items with their personal data.
func redactedError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redacted(ue.URL)
		text := ue.Err.Error()
		if i := answerShown(text); i >= 0 {
			ue.Err = errors.New(strings.TrimSpace(text[:i]) + " (not shown: it may hold personal data)")
		}
	}
	return err
}

// answerShown is where err text of net/http starts to quote an answer it
// could not read, or -1.
func answerShown(text string) int {
	if i := strings.Index(text, "debug="); i >= 0 {
		return i
	}
	i := strings.Index(text, "malformed ")
	if i < 0 {
		return -1
	}
	if j := strings.IndexAny(text[i:], ":\""); j >= 0 {
		return i + j
	}
	return len(text)
}

// New returns a pusher; Run starts it.
func New(cfg Config, inbox Inbox, log *slog.Logger) (*Pusher, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("webhook: no URL")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	cfg.Client = keepPost(cfg.Client)
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	if cfg.ShrinkHold <= 0 {
		cfg.ShrinkHold = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.MaxConsecutiveSkips < 0:
		return nil, fmt.Errorf("webhook: MaxConsecutiveSkips is %d; it must be a positive count of items, or 0 for the default", cfg.MaxConsecutiveSkips)
	case cfg.MaxConsecutiveSkips == 0:
		cfg.MaxConsecutiveSkips = 10
	}
	return &Pusher{cfg: cfg, inbox: inbox, log: log, batch: batchsize.New(cfg.Batch, cfg.ShrinkHold, cfg.Now)}, nil
}

// keepPost returns a copy of c that follows only redirects resending the
// POST with its body (307, 308). On a 301, 302 or 303 a client follows
// with a bodiless GET, whose 2xx would move the cursor past items that were
// never pushed; the redirect is answered as it came instead, and retried.
// A redirect to a URL that StaysEncrypted does not accept is refused,
// whatever the URL it came from: the inbox holds personal data, which must
// not leave the host in clear text. So is one to another scheme, host or
// port than the webhook URL's: the items go only to the system the
// operator configured, and another's 2xx would move the cursor past items
// that system never got.
func keepPost(c *http.Client) *http.Client {
	cc := *c
	next := c.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.Method != http.MethodPost {
			return http.ErrUseLastResponse
		}
		if !StaysEncrypted(req.URL) {
			return fmt.Errorf("refused a redirect to %s: the inbox holds personal data, which must not leave in clear text; if the system moved, set the webhook URL to its new https address", redacted(req.URL.String()))
		}
		if first := via[0].URL; req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
			return fmt.Errorf("refused a redirect to %s: the inbox holds personal data, which goes only to the webhook URL's %s://%s; if the system moved, set the webhook URL to its new address", redacted(req.URL.String()), first.Scheme, first.Host)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cc
}

// StaysEncrypted reports whether a push to u cannot cross a network in
// clear text: u is https, or plain http to a loopback host (localhost,
// 127.0.0.0/8, ::1), as in development or to a proxy on the same host.
func StaysEncrypted(u *url.URL) bool {
	switch {
	case u.Scheme == "https":
		return true
	case u.Scheme != "http":
		return false
	case strings.EqualFold(u.Hostname(), "localhost"):
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// Batch is the body of one push.
type Batch struct {
	Items []store.Incoming `json:"items"`
}

// Run pushes until ctx ends.
func (p *Pusher) Run(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := p.once(ctx)
		failures := p.note(n, err)
		wait := p.cfg.Poll
		switch {
		case err != nil:
			if failures == 1 || failures%10 == 0 {
				p.log.Warn("webhook push failing", "url", redacted(p.cfg.URL), "failures", failures, "err", err)
			}
			wait = min(p.cfg.MaxBackoff, 100*time.Millisecond<<min(failures, 20))
			wait = wait/2 + rand.N(wait/2+1)
		case n > 0:
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

// note records a push's outcome for State and returns the failures since
// the last push that succeeded. A push whose items were all skipped
// succeeded too: the system answered, and the cursor moved.
func (p *Pusher) note(moved int, err error) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err != nil:
		p.failures++
		p.lastErr = err.Error()
	case moved > 0:
		p.failures, p.lastErr = 0, ""
	}
	return p.failures
}

// once pushes the next batch, if any, and returns how many items the
// cursor moved past: pushed, or skipped as refused.
func (p *Pusher) once(ctx context.Context) (int, error) {
	cursor, err := p.inbox.Counter(cursorCounter)
	if err != nil {
		return 0, err
	}
	batch, _ := p.batch.Next()
	items, err := p.inbox.Inbox(cursor, batch)
	if err != nil || len(items) == 0 {
		return 0, err
	}
	// Retention prunes the inbox from its start and, with a webhook, no
	// further than the cursor: pruned items can only lead a batch.
	if n := pruned(items); n > 0 {
		return n, p.passOver(ctx, items[:n])
	}
	n, _, err := p.push(ctx, items, batch)
	return n, err
}

// push posts items, the next after the cursor, and moves the cursor past
// them once the system has them. A batch the system refuses for good, or
// answers 413, is pushed again in halves, down to single items, and the
// items it refuses alone are skipped; push returns how many items the
// cursor moved past. The halves are not left to later batches: one refused
// item must not slow the push for the rest of the inbox.
//
// size is the batch size items were taken at, which their halves carry
// on; only the items taken, not a half, can be a full batch of it. A 413
// to a full batch halves the size for the batches that follow (until
// Config.ShrinkHold has passed), unless the halves found an item too
// large alone, which may be all the 413 was about: a smaller batch would
// hold it as well. A 413 to a partial batch says no more than that it is
// too large; should full batches be too, one answers 413 in turn. A
// timeout halves the size however few items were pushed (see slow).
func (p *Pusher) push(ctx context.Context, items []store.Incoming, size int) (moved int, tooLarge bool, err error) {
	code, err := p.post(ctx, items)
	if err != nil {
		return 0, false, p.slow(len(items), size, err)
	}
	full := len(items) == size
	switch {
	case code >= 200 && code <= 299:
		if err := p.advance(ctx, items[len(items)-1].Seq); err != nil {
			return 0, false, err
		}
		if full {
			p.batch.Grow(size)
		}
		return len(items), false, nil
	case !refusesItems(code):
		return 0, false, fmt.Errorf("the provincial system answered %s", statusText(code))
	case len(items) == 1:
		if err := p.skip(ctx, items[0], code); err != nil {
			return 0, false, err
		}
		return 1, code == http.StatusRequestEntityTooLarge, nil
	}
	half := len(items) / 2
	n, tooLarge, err := p.push(ctx, items[:half], size)
	if err != nil {
		return n, tooLarge, err
	}
	m, tooLargeToo, err := p.push(ctx, items[half:], size)
	tooLarge = tooLarge || tooLargeToo
	if err == nil && code == http.StatusRequestEntityTooLarge && full && !tooLarge {
		p.shrink(size/2, "answered 413: the batch was too large")
	}
	return n + m, tooLarge, err
}

// shrink lowers the batch size to n for Config.ShrinkHold, after a full
// batch was too large for the system or a batch took it too long; why is
// what the system did, for the log.
func (p *Pusher) shrink(n int, why string) {
	if p.batch.Shrink(n) {
		p.log.Warn("the provincial system "+why+"; pushing fewer items per request", "url", redacted(p.cfg.URL), "items", max(n, 1), "for", p.cfg.ShrinkHold)
	}
}

// post sends items to the system and returns the status it answered; a
// *slowError when it had a connection to the system but did not have the
// answer in time.
func (p *Pusher) post(ctx context.Context, items []store.Incoming) (int, error) {
	body, err := json.Marshal(Batch{Items: items})
	if err != nil {
		return 0, err
	}
	var pr reqtrace.Progress
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, pr.Trace(nil)), http.MethodPost, p.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, redactedError(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return 0, p.slowedDown(redactedError(err), len(items), &pr)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// pruned is how many items lead items whose envelope and record
// retention dropped.
func pruned(items []store.Incoming) int {
	n := 0
	for n < len(items) && !items[n].PrunedAt.IsZero() {
		n++
	}
	return n
}

// passOver moves the cursor past items that retention pruned before any
// push had them, as it may when the webhook was configured since or was
// off for a while: there is nothing left to push, and they are neither
// posted empty nor counted as refused.
func (p *Pusher) passOver(ctx context.Context, items []store.Incoming) error {
	last := items[len(items)-1].Seq
	if err := p.inbox.RecordAnd(context.WithoutCancel(ctx), store.Progress{Counters: map[string]uint64{cursorCounter: last}}, nil); err != nil {
		return fmt.Errorf("move the webhook cursor past pruned items to %d: %w", last, err)
	}
	p.log.Warn("passed over inbox items that inbox.retention pruned before the webhook pushed them", "items", len(items), "through_seq", last)
	return nil
}

// advance moves the cursor to seq, which the system has. It records that
// even if ctx has just ended, or a graceful restart pushes the items again.
// The system's answer is noted before the commit, so that State never
// shows the cursor moved with no last push.
func (p *Pusher) advance(ctx context.Context, seq uint64) error {
	p.accepted()
	err := p.inbox.RecordAnd(context.WithoutCancel(ctx), store.Progress{Counters: map[string]uint64{cursorCounter: seq}}, nil)
	if err != nil {
		return fmt.Errorf("move the webhook cursor to %d: %w", seq, err)
	}
	return nil
}

// accepted notes that the system took items: a push, and the end of a run
// of refused items (see pause).
func (p *Pusher) accepted() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastPush = time.Now()
	p.refusedInARow, p.paused = 0, false
}

// statusText is a status as "422 Unprocessable Entity", in our words: the
// reason phrase the system sent might quote what it refused.
func statusText(code int) string {
	return fmt.Sprintf("%d %s", code, http.StatusText(code))
}
