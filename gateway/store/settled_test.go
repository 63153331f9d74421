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

// TestAuditLogSignsNoHeadOverAFailedCommit: the audit log shares the
// store's file and commits on its own. A store commit whose sync fails
// has already let the next writer in, showing what it wrote: the audit
// entries of its records among it. A head the log signed then would
// commit its key to entries a restart may not find, a fork auditors
// holding the head would see, so the log waits for the store's verdict
// (Settled) and, the commit failed, signs nothing and appends nothing.
func TestAuditLogSignsNoHeadOverAFailedCommit(t *testing.T) {
	s := openWith(t, Options{})
	const origin = "fed.test/p51/gw-1"
	skey, _, err := audit.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(s.DB(), audit.Config{Origin: origin, Signer: signer, SignInterval: -1, Halted: s.Settled})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ctx := context.Background()

	h := holdCommit(t, s)
	entry := audit.Entry{Kind: audit.KindSent, EnvelopeID: "01JOUT", RecordType: "transfer", Origin: "51", Destination: "44", Decision: audit.Allow}
	enqueued := make(chan error, 1)
	go func() {
		_, err := s.EnqueueAnd(ctx, []Outgoing{{EnvelopeID: "01JOUT", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`)}},
			func(tx *bolt.Tx, _ []Enqueued) error { return l.AppendTx(tx, entry) })
		enqueued <- err
	}()
	<-h.at
	visible(t, s)

	signed := make(chan error, 1)
	go func() {
		_, err := l.SignedHead(ctx)
		signed <- err
	}()
	// The head's commit waits for the store's verdict; one signed
	// meanwhile is over the held commit.
	for waiting := 0; waiting == 0; {
		select {
		case err := <-signed:
			t.Fatalf("a head was signed (err %v) while the store's commit under it was not known durable", err)
		default:
		}
		s.c.marks.mu.Lock()
		waiting = s.c.marks.waiting
		s.c.marks.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
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
	if _, err := l.Append(ctx, entry); !errors.Is(err, ErrFailed) {
		t.Errorf("an append once the store failed: %v; want the store's failure", err)
	}
	heads, err := l.Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) > 0 {
		t.Errorf("heads signed over the failed commit: %d, the last of size %d", len(heads), heads[len(heads)-1].Size)
	}
}
