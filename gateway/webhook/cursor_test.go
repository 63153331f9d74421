package webhook

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/store"
)

// answerThenStop is a provincial system that takes the push and answers 200
// just as the node starts shutting down: the context ends between the
// answer and the cursor's commit.
type answerThenStop struct{ cancel context.CancelFunc }

func (a answerThenStop) RoundTrip(r *http.Request) (*http.Response, error) {
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	a.cancel()
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

// TestAnAcknowledgedPushMovesTheCursorDuringShutdown: once the system has
// answered 2xx the cursor is committed, even when the pusher's context ends
// meanwhile, so a graceful restart does not push the batch again. The store
// gives up on a write whose context has ended when it sees the end first,
// which is a matter of chance: hence a few rounds.
func TestAnAcknowledgedPushMovesTheCursorDuringShutdown(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 32 {
		in := []store.Incoming{incoming(i)}
		if _, err := s.Receive(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		p, err := New(Config{URL: "http://province.test/inbox", Client: &http.Client{Transport: answerThenStop{cancel}}}, s, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		n, err := p.once(ctx)
		cancel()
		cursor, cerr := s.Counter(cursorCounter)
		if cerr != nil {
			t.Fatal(cerr)
		}
		if cursor != uint64(i+1) {
			t.Fatalf("round %d: pushed %d, %v; cursor %d, want %d: the acknowledged item would be pushed again", i, n, err, cursor, i+1)
		}
	}
}
