package store

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// held is a commit the committer stopped after db.Update: written, and
// seen by readers through the shared mapping, but not yet known durable, as
// while bbolt syncs the file after writing the meta page.
type held struct {
	at      chan struct{}
	release chan error // what the commit then ends with
}

// holdCommit stops s's next commit after db.Update until the test
// releases it; the commits after it go on.
func holdCommit(t *testing.T, s *Store) *held {
	t.Helper()
	h := &held{at: make(chan struct{}), release: make(chan error)}
	// A test that fails with a commit held lets it go, so that the store
	// can close (cleanups run last registered first).
	ended := make(chan struct{})
	t.Cleanup(func() { close(ended) })
	// Set before anything is queued: the queue orders it before the loop
	// reads it.
	once := false // read and written by the committer's loop alone
	s.c.afterUpdate = func(err error) error {
		if err != nil || once {
			return err
		}
		once = true
		select {
		case h.at <- struct{}{}:
		case <-ended:
			return nil
		}
		select {
		case err := <-h.release:
			return err
		case <-ended:
			return nil
		}
	}
	return h
}

// visible checks that the held commit is what a plain read transaction
// sees: the gap the store's reads must not act on.
func visible(t *testing.T, s *Store) {
	t.Helper()
	var id int
	s.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
	if synced := s.c.marks.synced.Load(); int64(id) <= synced {
		t.Fatalf("the held commit is not visible: transaction %d, durable %d", id, synced)
	}
}

// readResult is what a read returned: whether it saw what the held commit
// wrote.
type readResult struct {
	saw bool
	err error
}

// readWhileHeld runs read while a commit is held, and returns once read
// either returned (failing the test if it saw what the commit wrote) or
// waits for the commit; then the result comes on the channel.
func readWhileHeld(t *testing.T, s *Store, read func() (bool, error)) <-chan readResult {
	t.Helper()
	got := make(chan readResult, 1)
	go func() {
		saw, err := read()
		got <- readResult{saw, err}
	}()
	for {
		select {
		case r := <-got:
			if r.saw {
				t.Fatalf("the read returned what a commit wrote before the commit was durable (err %v)", r.err)
			}
			t.Fatalf("the read returned before the commit was durable, without what it wrote (err %v)", r.err)
		default:
		}
		s.c.marks.mu.Lock()
		waiting := s.c.marks.waiting
		s.c.marks.mu.Unlock()
		if waiting > 0 {
			return got
		}
		time.Sleep(time.Millisecond)
	}
}

// durabilityCase is a write and a read of what it wrote.
type durabilityCase struct {
	name  string
	write func(context.Context, *Store) error
	read  func(*Store) (bool, error)
}

var (
	enqueueOne = func(ctx context.Context, s *Store) error {
		_, err := s.Enqueue(ctx, []Outgoing{{EnvelopeID: "01JOUT", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`)}})
		return err
	}
	receiveOne = func(ctx context.Context, s *Store) error {
		_, err := s.Receive(ctx, []Incoming{{EnvelopeID: "01JIN", From: "44", Type: "transfer", Envelope: []byte(`{}`), Record: []byte(`{}`), Receipt: []byte(`{}`)}})
		return err
	}
)

func durabilityCases() []durabilityCase {
	return []durabilityCase{
		{"Pending", enqueueOne, func(s *Store) (bool, error) {
			q, err := s.Pending("44", 10, nil)
			return len(q) > 0, err
		}},
		{"PendingFull", enqueueOne, func(s *Store) (bool, error) {
			q, err := s.PendingFull("44", 1, nil)
			return len(q) > 0, err
		}},
		{"Status", enqueueOne, func(s *Store) (bool, error) {
			_, err := s.Status("01JOUT")
			return err == nil, err
		}},
		{"States", enqueueOne, func(s *Store) (bool, error) {
			st, err := s.States([]string{"01JOUT"})
			return err == nil && st[0] != "", err
		}},
		{"Lookup", enqueueOne, func(s *Store) (bool, error) {
			id, err := s.Lookup("51/transfer/T-1")
			return err == nil && id != "", err
		}},
		{"LookupAll", enqueueOne, func(s *Store) (bool, error) {
			ids, err := s.LookupAll([]string{"51/transfer/T-1"})
			return err == nil && ids[0] != "", err
		}},
		{"Received", receiveOne, func(s *Store) (bool, error) {
			got, _, err := s.Received("44", []string{"01JIN"})
			return err == nil && got[0], err
		}},
		{"Inbox", receiveOne, func(s *Store) (bool, error) {
			in, err := s.Inbox(0, 10)
			return len(in) > 0, err
		}},
		{"InboxHead", receiveOne, func(s *Store) (bool, error) {
			head, err := s.InboxHead()
			return head > 0, err
		}},
		{"InboxItem", receiveOne, func(s *Store) (bool, error) {
			_, err := s.InboxItem("01JIN")
			return err == nil, err
		}},
		{"Counter", func(ctx context.Context, s *Store) error {
			_, err := s.Increment(ctx, "quota", 1)
			return err
		}, func(s *Store) (bool, error) {
			n, err := s.Counter("quota")
			return n > 0, err
		}},
	}
}

// TestReadsWaitForTheCommitToBeDurable: bbolt shows a commit to readers
// before it has synced the file. A read the node acts on (a delivery
// worker sending what Pending returned, a destination answering
// "duplicate" from Received) or shows (a status, the inbox) returns what a
// commit wrote only once the commit is durable: an origin that sent an
// envelope a power cut then took back would have it resubmitted under a
// new id, and the destination would hold the record twice.
func TestReadsWaitForTheCommitToBeDurable(t *testing.T) {
	for _, tc := range durabilityCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := openWith(t, Options{})
			h := holdCommit(t, s)
			ctx := context.Background()
			wrote := make(chan error, 1)
			go func() { wrote <- tc.write(ctx, s) }()
			<-h.at
			visible(t, s)

			got := readWhileHeld(t, s, func() (bool, error) { return tc.read(s) })
			h.release <- nil
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			if r := <-got; !r.saw || r.err != nil {
				t.Errorf("once the commit was durable the read saw it: %v, err %v; want true, nil", r.saw, r.err)
			}
		})
	}
}

// TestReadsDoNotWaitForOtherWriters: the audit log commits to the file on
// its own, past the committer's last commit; a read that sees its
// transaction has nothing of the store's to wait for.
func TestReadsDoNotWaitForOtherWriters(t *testing.T) {
	s := openWith(t, Options{})
	ctx := context.Background()
	if err := enqueueOne(ctx, s); err != nil {
		t.Fatal(err)
	}
	err := s.DB().Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("audit"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	visible(t, s)
	got := make(chan error, 1)
	go func() {
		_, err := s.Pending("44", 10, nil)
		got <- err
	}()
	for {
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
			return
		default:
		}
		s.c.marks.mu.Lock()
		waiting := s.c.marks.waiting
		s.c.marks.mu.Unlock()
		if waiting > 0 {
			t.Fatal("a read waits for another writer's commit, which the store never publishes")
		}
		time.Sleep(time.Millisecond)
	}
}

// logged counts a logger's records by level.
type logged struct {
	mu sync.Mutex
	n  map[slog.Level]int
}

func (l *logged) Enabled(context.Context, slog.Level) bool { return true }
func (l *logged) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n[r.Level]++
	return nil
}
func (l *logged) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logged) WithGroup(string) slog.Handler      { return l }

func (l *logged) count(level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[level]
}

// failedWith checks that err is the store's failure after a commit failed
// with cause.
func failedWith(t *testing.T, what string, err, cause error) {
	t.Helper()
	if !errors.Is(err, ErrFailed) || !errors.Is(err, cause) || !strings.Contains(err.Error(), "restart") {
		t.Errorf("%s: %v; want ErrFailed, naming %q and saying to restart", what, err, cause)
	}
}

// TestACommitThatFailsStopsTheStore: a commit whose sync fails stays
// visible to readers though its writers are told it failed. The store
// then stops for good: the writers of the commit and every later read and
// write fail with ErrFailed, naming the cause, nothing later is written,
// the failure is logged once at error level, and Failed says why until
// the node restarts.
func TestACommitThatFailsStopsTheStore(t *testing.T) {
	log := &logged{n: map[slog.Level]int{}}
	s := openWith(t, Options{Log: slog.New(log)})
	h := holdCommit(t, s)
	ctx := context.Background()
	cause := errors.New("fdatasync: input/output error")

	wrote := make(chan error, 1)
	go func() { wrote <- enqueueOne(ctx, s) }()
	<-h.at
	visible(t, s)
	h.release <- cause
	failedWith(t, "the commit's writer", <-wrote, cause)
	failedWith(t, "Failed", s.Failed(), cause)

	// Later writes fail without a commit; reads that feed delivery, import
	// and the API fail too.
	before := s.c.marks.latest.Load()
	_, err := s.Enqueue(ctx, []Outgoing{{EnvelopeID: "01JOUT2", Ref: "51/transfer/T-2", Type: "transfer", Peer: "44", Envelope: []byte(`{}`)}})
	failedWith(t, "a later Enqueue", err, cause)
	failedWith(t, "a later Receive", receiveOne(ctx, s), cause)
	if s.c.marks.latest.Load() != before {
		t.Error("a write was committed after the store failed")
	}
	for _, tc := range durabilityCases() {
		saw, err := tc.read(s)
		if saw {
			t.Errorf("%s after the failure returned what the failed commit wrote", tc.name)
		}
		failedWith(t, tc.name+" after the failure", err, cause)
	}
	if d := s.Depth(); len(d) != 0 {
		t.Errorf("depth %v: the failed commit's queue count was kept", d)
	}
	if n := log.count(slog.LevelError); n != 1 {
		t.Errorf("the failure was logged %d times at error level; want once", n)
	}
}

// TestAReadWaitingOnACommitThatFailsFails: a read that saw a commit
// whose sync then fails returns the failure, not what the commit wrote.
func TestAReadWaitingOnACommitThatFailsFails(t *testing.T) {
	s := openWith(t, Options{})
	h := holdCommit(t, s)
	ctx := context.Background()
	cause := errors.New("fdatasync: input/output error")
	wrote := make(chan error, 1)
	go func() { wrote <- enqueueOne(ctx, s) }()
	<-h.at
	got := readWhileHeld(t, s, func() (bool, error) {
		q, err := s.Pending("44", 10, nil)
		return len(q) > 0, err
	})
	h.release <- cause
	<-wrote
	r := <-got
	if r.saw {
		t.Fatal("the read waiting on the failed commit returned what it wrote")
	}
	failedWith(t, "the read waiting on the failed commit", r.err, cause)
}

// TestWritesQueuedBehindAFailedCommitFail: writes waiting in the queue as
// a commit fails are not committed on top of it.
func TestWritesQueuedBehindAFailedCommitFail(t *testing.T) {
	s := openWith(t, Options{})
	h := holdCommit(t, s)
	ctx := context.Background()
	first := make(chan error, 1)
	go func() { first <- enqueueOne(ctx, s) }()
	<-h.at
	// Queued while the first commit is held: the committer takes it once
	// that commit has ended.
	second := make(chan error, 1)
	ran := false
	go func() {
		second <- s.c.do(ctx, func(*bolt.Tx) error { ran = true; return nil })
	}()
	for len(s.c.queue) == 0 {
		time.Sleep(time.Millisecond)
	}
	h.release <- errors.New("fdatasync: input/output error")
	if err := <-first; !errors.Is(err, ErrFailed) {
		t.Fatalf("the failed commit's writer: %v; want ErrFailed", err)
	}
	if err := <-second; !errors.Is(err, ErrFailed) {
		t.Errorf("a write queued behind the failed commit: %v; want ErrFailed", err)
	}
	if ran {
		t.Error("a write queued behind the failed commit ran in a transaction")
	}
}
