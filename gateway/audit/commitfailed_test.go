package audit

import (
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/mod/sumdb/tlog"
)

// TestACommitThatFailsIsTold: the log shares its file with the node's
// store, so a commit of its own that bbolt could not make durable is told
// to Config.CommitFailed (the node stops the store on it); an error of
// the log's own checks, which writes nothing, is not.
func TestACommitThatFailsIsTold(t *testing.T) {
	l, db, _ := signedLog(t, 10)
	var told []error
	l.cfg.CommitFailed = func(err error) { told = append(told, err) }

	// A damaged tree: SignedHead refuses in its transaction, nothing is
	// committed, and nothing is told.
	if err := db.Update(func(tx *bolt.Tx) error { return flipHash(tlog.StoredHashIndex(3, 0))(tx.Bucket([]byte(l.cfg.Bucket))) }); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1)
	if _, err := l.SignedHead(t.Context()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("SignedHead over a damaged tree: %v; want ErrCorrupt", err)
	}
	if len(told) != 0 {
		t.Fatalf("told %v of a refusal that committed nothing", told)
	}

	// The file gone from under the log: its next commit fails, and is told.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(t.Context(), sentEntry(20)); err == nil {
		t.Fatal("an append to a closed file succeeded")
	}
	if len(told) != 1 || !errors.Is(told[0], berrors.ErrDatabaseNotOpen) {
		t.Errorf("told %v; want the failed commit, once", told)
	}
}
