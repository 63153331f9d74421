package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestCommitDelayGathersOnlyWritesWithCompany: a group that already holds
// several writes waits for more to join its transaction; a lone write does
// not wait at all.
func TestCommitDelayGathersOnlyWritesWithCompany(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const delay = 10 * time.Second // long enough that no test run waits it out by chance
	c := newCommitter(db, delay, 0, slog.New(slog.DiscardHandler))
	defer c.close()
	ctx := context.Background()

	// A lone write commits at once: it would otherwise take the delay.
	done := make(chan error, 1)
	go func() { done <- c.do(ctx, func(*bolt.Tx) error { return nil }) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(delay / 2):
		t.Fatal("a lone write waited for company")
	}

	// Hold a committer in a first transaction while two writes queue; its
	// delay is shorter, as this part waits it out.
	c = newCommitter(db, 2*time.Second, 0, slog.New(slog.DiscardHandler))
	defer c.close()
	release := make(chan struct{})
	started := make(chan struct{})
	go c.do(ctx, func(*bolt.Tx) error { close(started); <-release; return nil })
	<-started
	txOf := make(chan int, 3)
	write := func() { c.do(ctx, func(tx *bolt.Tx) error { txOf <- tx.ID(); return nil }) }
	go write()
	go write()
	for len(c.queue) < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	// The two form a group with company, which waits rather than commits.
	for len(c.queue) > 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if len(txOf) > 0 {
		t.Fatal("a group of two committed without waiting for company")
	}
	// A third write, sent now, joins their transaction.
	go write()
	first, second, third := <-txOf, <-txOf, <-txOf
	if first != second || second != third {
		t.Errorf("transactions %d, %d, %d: the third write did not join the waiting group", first, second, third)
	}
}

// TestAWriteThatPanicsStopsTheStore: a write that panics in its group
// commit, in its function inside the shared transaction or in what it does
// once committed, stops the store as a failed commit does instead of the
// process: every writer of its group is answered with ErrFailed saying it
// panicked, the panic is logged with its stack but not its value, and the
// file holds what was committed before and, for a panic in the
// transaction, nothing of the group, which is rolled back.
func TestAWriteThatPanicsStopsTheStore(t *testing.T) {
	const personal = "张三 110101199003071234" // what a panic value may hold
	for _, tc := range []struct {
		name  string
		write func(context.Context, *committer) error
		says  string // the failure names the panic by this
		// kept: the group's other writes are in the file after a reopen
		kept bool
	}{
		{"in the transaction", func(ctx context.Context, c *committer) error {
			return c.do(ctx, func(*bolt.Tx) error { panic(personal) })
		}, "panicked (with a string)", false},
		{"once committed", func(ctx context.Context, c *committer) error {
			return c.doThen(ctx, func(*bolt.Tx) error { return nil }, func() {
				var m map[string]int
				//lint:ignore SA5000 the runtime error this test needs: a bug in an after
				m[personal]++
			})
		}, "panicked (assignment to entry in nil map)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.db")
			var log bytes.Buffer
			s := openAt(t, path, Options{Log: slog.New(slog.NewTextHandler(&log, nil))})
			ctx := context.Background()
			enqueue := func(i int) error {
				_, err := s.Enqueue(ctx, []Outgoing{outgoing(i, "44")})
				return err
			}
			if err := enqueue(1); err != nil {
				t.Fatal(err)
			}

			// Hold the committer in a transaction while the panicking
			// write and two others queue, so that they share the next.
			started, release := make(chan struct{}), make(chan struct{})
			held := make(chan error, 1)
			go func() { held <- s.c.do(ctx, func(*bolt.Tx) error { close(started); <-release; return nil }) }()
			<-started
			answers := make(chan error, 3)
			go func() { answers <- enqueue(2) }()
			go func() { answers <- tc.write(ctx, s.c) }()
			go func() { answers <- enqueue(3) }()
			for len(s.c.queue) < 3 {
				time.Sleep(time.Millisecond)
			}
			close(release)
			if err := <-held; err != nil {
				t.Fatalf("the commit before the panic: %v", err)
			}
			for range 3 {
				err := <-answers
				if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "restart") {
					t.Errorf("a writer of the group: %v; want ErrFailed saying it %s and to restart", err, tc.says)
				}
				if err != nil && strings.Contains(err.Error(), personal) {
					t.Errorf("the failure holds the panic's value: %v", err)
				}
			}
			if err := s.Failed(); !errors.Is(err, ErrFailed) {
				t.Errorf("Failed = %v; want ErrFailed", err)
			}
			if err := enqueue(4); !errors.Is(err, ErrFailed) {
				t.Errorf("a later write: %v; want ErrFailed", err)
			}
			logged := log.String()
			if !strings.Contains(logged, "store failed") || !strings.Contains(logged, "commit_test.go:") {
				t.Errorf("log %q; want the failure with the stack of the panic", logged)
			}
			if strings.Contains(logged, personal) {
				t.Errorf("log %q holds the panic's value", logged)
			}

			s.Close()
			s = openAt(t, path, Options{})
			q, err := s.Pending("44", 10, nil)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range q {
				ids = append(ids, m.EnvelopeID)
			}
			want := []string{outgoing(1, "44").EnvelopeID}
			if tc.kept {
				want = append(want, outgoing(2, "44").EnvelopeID, outgoing(3, "44").EnvelopeID)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("after a reopen the outbox holds %v; want %v", ids, want)
			}
		})
	}
}
