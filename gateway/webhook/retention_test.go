package webhook

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/store"
)

// TestWebhookPassesOverItemsPrunedBeforeIt: a node ran with
// inbox.retention and no webhook, which pruned the whole inbox; then
// webhook.url is set. The new pusher moves its cursor past the pruned
// items without posting them, envelope and record null, to a system that
// never had them.
func TestWebhookPassesOverItemsPrunedBeforeIt(t *testing.T) {
	s, _, _ := inboxWith(t, 3)
	defer s.Close()
	// What pruneOnce does without a webhook: upTo = MaxUint64.
	if n, err := s.PruneInbox(context.Background(), time.Now().Add(time.Hour), math.MaxUint64); err != nil || n != 3 {
		t.Fatalf("PruneInbox = %d, %v", n, err)
	}
	sys := newProvincialSystem(t, func([]string) int { return http.StatusOK })
	p, err := New(Config{URL: sys.URL}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.once(context.Background()); err != nil || n != 3 {
		t.Fatalf("once = %d, %v; want the cursor past the 3 pruned items", n, err)
	}
	if got, _ := sys.received(); len(got) > 0 {
		t.Errorf("the webhook pushed %d pruned items (envelope and record null) to the system: %v", len(got), got)
	}
	if st, err := p.State(); err != nil || st.Pushed != 3 || st.Pending != 0 || st.Skipped != 0 {
		t.Errorf("state %+v, %v; want pushed 3, nothing pending or skipped", st, err)
	}
}

// TestPrunedBacklogDoesNotStallTheWebhook: the same, with a system that
// refuses items without a record and a backlog of more pruned items than
// webhook.max_consecutive_skips: the entry that arrived after pruning is
// pushed, alone.
func TestPrunedBacklogDoesNotStallTheWebhook(t *testing.T) {
	s, _, _ := inboxWith(t, 15)
	defer s.Close()
	ctx := context.Background()
	if _, err := s.PruneInbox(ctx, time.Now().Add(time.Hour), math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	fresh := incoming(99)
	fresh.Record = []byte(`{"worker":"new"}`)
	if _, err := s.Receive(ctx, []store.Incoming{fresh}); err != nil {
		t.Fatal(err)
	}
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b Batch
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, it := range b.Items {
			if len(it.Record) == 0 || string(it.Record) == "null" {
				w.WriteHeader(http.StatusUnprocessableEntity)
				return
			}
		}
		for _, it := range b.Items {
			got = append(got, it.EnvelopeID)
		}
	}))
	defer srv.Close()
	p, err := New(Config{URL: srv.URL, Batch: 100}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		p.once(ctx)
	}
	if len(got) != 1 || got[0] != fresh.EnvelopeID {
		st, _ := p.State()
		t.Errorf("pushed %v, want only %s, which arrived after pruning: paused %v at %d of %d, last error %q", got, fresh.EnvelopeID, st.Paused, st.Pushed, st.Pushed+st.Pending, st.LastError)
	}
}
