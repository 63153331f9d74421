package store

import (
	"context"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"

	"github.com/laborlink/laborlink/gateway/audit"
)

// sharedAuditLog opens an audit log in s's file, committing and reading
// through the store as a node's does.
func sharedAuditLog(t *testing.T, s *Store) *audit.Log {
	t.Helper()
	const origin = "fed.test/p51/gw-1"
	skey, _, err := audit.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(s.DB(), audit.Config{Origin: origin, Signer: signer, SignInterval: -1, Update: s.Update, View: s.View})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

var sentAudit = audit.Entry{Kind: audit.KindSent, EnvelopeID: "01JOUT", RecordType: "transfer", Origin: "51", Destination: "44", Decision: audit.Allow}

// waitQueued returns once a write is queued for the committer.
func waitQueued(t *testing.T, s *Store, failIfDone <-chan error) {
	t.Helper()
	for len(s.c.queue) == 0 {
		select {
		case err := <-failIfDone:
			t.Fatalf("the write ended (err %v) while the commit before it was not known durable", err)
		default:
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAuditLogSignsNoHeadOverAFailedCommit: the audit log shares the
// store's file. A store commit whose sync fails has already let the next
// writer of the file in, showing what it wrote: the audit entries of its
// records among it. A head signed over it would commit the log's key to
// entries a restart may not find, a fork auditors holding the head would
// see, so the log's commits go through the store's committer, and after
// the failed commit sign nothing and append nothing.
func TestAuditLogSignsNoHeadOverAFailedCommit(t *testing.T) {
	s, l, h, enqueued := enqueueHeld(t)
	ctx := context.Background()

	signed := make(chan error, 1)
	go func() {
		_, err := l.SignedHead(ctx)
		signed <- err
	}()
	// The head's commit waits behind the held one.
	waitQueued(t, s, signed)
	h.release <- errors.New("fdatasync: input/output error")
	if err := <-enqueued; !errors.Is(err, ErrFailed) {
		t.Fatalf("the enqueue whose commit failed: %v; want ErrFailed", err)
	}
	if err := <-signed; !errors.Is(err, ErrFailed) {
		t.Errorf("the head over the failed commit: %v; want the store's failure", err)
	}
	if _, err := l.SignedHead(ctx); !errors.Is(err, ErrFailed) {
		t.Errorf("a head once the store failed: %v; want the store's failure", err)
	}
	if _, err := l.Append(ctx, sentAudit); !errors.Is(err, ErrFailed) {
		t.Errorf("an append once the store failed: %v; want the store's failure", err)
	}
	if _, err := l.Heads(ctx); !errors.Is(err, ErrFailed) {
		t.Errorf("the heads once the store failed: %v; want the store's failure", err)
	}
	// What the file shows, read past the store: no head.
	var heads int
	if err := s.DB().View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("audit")).Bucket([]byte("heads")); b != nil {
			heads = b.Stats().KeyN
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if heads > 0 {
		t.Errorf("heads signed over the failed commit: %d", heads)
	}
}

// TestAFailedAuditCommitFailsTheWritesBehindIt: a commit of the audit
// log's own whose sync fails stays visible, and bbolt lets the next
// writer of the file build on it. The store's writes waiting meanwhile
// are not answered accepted over it: the log commits through the store's
// committer, whose failed commit stops the store before the next.
func TestAFailedAuditCommitFailsTheWritesBehindIt(t *testing.T) {
	s := openWith(t, Options{})
	l := sharedAuditLog(t, s)
	ctx := context.Background()

	h := holdCommit(t, s)
	appended := make(chan error, 1)
	go func() {
		_, err := l.Append(ctx, sentAudit)
		appended <- err
	}()
	// The log's append, written and visible, its sync not yet done.
	select {
	case <-h.at:
	case err := <-appended:
		t.Fatalf("the log's append was committed (err %v) outside the store's committer", err)
	}
	visible(t, s)

	enqueued := make(chan error, 1)
	go func() { enqueued <- enqueueOne(ctx, s) }()
	waitQueued(t, s, enqueued)
	cause := errors.New("fdatasync: input/output error")
	before := s.c.marks.latest.Load()
	h.release <- cause
	if err := <-appended; !errors.Is(err, ErrFailed) || !errors.Is(err, cause) {
		t.Errorf("the append whose commit failed: %v; want ErrFailed naming %q", err, cause)
	}
	if err := <-enqueued; !errors.Is(err, ErrFailed) {
		t.Errorf("an enqueue queued behind the log's failed commit: %v; want ErrFailed", err)
	}
	if s.c.marks.latest.Load() != before {
		t.Error("a write was committed over the log's failed commit")
	}
	failedWith(t, "Failed", s.Failed(), cause)
}

// TestAuditReadsWaitForTheCommitToBeDurable: the audit entries of a
// store commit are visible as soon as bbolt has written its meta page,
// before its sync. An auditor, or a peer reconciling, shown them then
// would hold entries that a failed sync may take back, and find other
// entries at their positions once the node restarts: a rewrite of the
// log, to them. So the log's reads wait, as the store's do, and fail
// once the commit failed.
func TestAuditReadsWaitForTheCommitToBeDurable(t *testing.T) {
	reads := []struct {
		name string
		read func(context.Context, *audit.Log) (int, error)
	}{
		{"Query", func(ctx context.Context, l *audit.Log) (int, error) {
			es, err := l.Query(ctx, audit.Filter{})
			return len(es), err
		}},
		{"Entries", func(ctx context.Context, l *audit.Log) (int, error) {
			es, err := l.Entries(ctx, 0, 10)
			return len(es), err
		}},
		{"RawEntries", func(ctx context.Context, l *audit.Log) (int, error) {
			es, err := l.RawEntries(ctx, 0, 10)
			return len(es), err
		}},
		{"InclusionProof", func(ctx context.Context, l *audit.Log) (int, error) {
			// The entry is the first: a tree of one, whose proof is empty.
			if _, err := l.InclusionProof(ctx, 0, 1); err != nil {
				return 0, err
			}
			return 1, nil
		}},
	}
	for _, r := range reads {
		for _, fails := range []bool{false, true} {
			name := r.name
			if fails {
				name += " of a commit that fails"
			}
			t.Run(name, func(t *testing.T) {
				s, l, h, enqueued := enqueueHeld(t)
				ctx := context.Background()

				got := readWhileHeld(t, s, func() (bool, error) {
					n, err := r.read(ctx, l)
					return n > 0, err
				})
				var cause error
				if fails {
					cause = errors.New("fdatasync: input/output error")
				}
				h.release <- cause
				<-enqueued
				res := <-got
				switch {
				case fails && (res.saw || !errors.Is(res.err, ErrFailed)):
					t.Errorf("the read once the commit failed: saw %v, err %v; want nothing, ErrFailed", res.saw, res.err)
				case !fails && (!res.saw || res.err != nil):
					t.Errorf("the read once the commit was durable: saw %v, err %v; want the entry", res.saw, res.err)
				}
			})
		}
	}
}

// enqueueHeld opens a store sharing its file with an audit log, and
// enqueues a record with its audit entry in one commit, held once written
// and visible, before its sync: the commit's outcome is h's to release,
// and the enqueue's answer comes on enqueued.
func enqueueHeld(t *testing.T) (s *Store, l *audit.Log, h *held, enqueued chan error) {
	t.Helper()
	s = openWith(t, Options{})
	l = sharedAuditLog(t, s)
	h = holdCommit(t, s)
	enqueued = make(chan error, 1)
	go func() {
		_, err := s.EnqueueAnd(context.Background(), []Outgoing{{EnvelopeID: "01JOUT", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`)}},
			func(tx *bolt.Tx, _ []Enqueued) error { return l.AppendTx(tx, sentAudit) })
		enqueued <- err
	}()
	<-h.at
	visible(t, s)
	return s, l, h, enqueued
}
