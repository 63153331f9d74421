package store

import (
	"context"
	"log/slog"
	"path/filepath"
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
