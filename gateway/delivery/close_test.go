package delivery

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/laborlink/laborlink/gateway/store"
)

// closedOutbox is an empty outbox that notices being used after its
// manager's Close returned, as a store closed right after would be.
type closedOutbox struct{ closed, late atomic.Bool }

func (o *closedOutbox) use() {
	if o.closed.Load() {
		o.late.Store(true)
	}
}

func (o *closedOutbox) Pending(string, int, func(string) bool) ([]store.Queued, error) {
	o.use()
	return nil, nil
}

func (o *closedOutbox) CountPending(string, int, func(string) bool) (int, error) {
	o.use()
	return 0, nil
}

func (o *closedOutbox) MarkDelivered(context.Context, string, []store.Delivered) error {
	o.use()
	return nil
}

// TestNoWorkerOutlivesClose races Notify, as a node resuming its queues
// calls it, against Close: a worker started then must be one Close waits
// for, never one that runs on against a store closed after Close.
func TestNoWorkerOutlivesClose(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i := range 300 {
		o := &closedOutbox{}
		m, err := NewManager(testConfig(), o, &peer{received: map[string]int{}}, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for p := range 50 {
				m.Notify(fmt.Sprint(p))
			}
		})
		m.Close()
		o.closed.Store(true)
		wg.Wait()
		m.Close() // waits again for any worker Notify started behind the first
		if o.late.Load() {
			t.Fatalf("round %d: a worker used the outbox after Close returned", i)
		}
	}
}
