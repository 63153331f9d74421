package audit

import (
	"context"
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestCommitsOfTheLogsOwnGoThroughUpdate: a log sharing its file with the
// node's store makes each commit of its own through Config.Update (the
// store's committer), so that no commit of the file escapes the writer
// that stops everything once one fails: Open's, an append's and a head's.
// Update's error is the caller's.
func TestCommitsOfTheLogsOwnGoThroughUpdate(t *testing.T) {
	db, _ := newTestDB(t)
	var made int
	var fail error
	cfg := testConfig(t)
	cfg.Update = func(fn func(*bolt.Tx) error) error {
		made++
		if fail != nil {
			return fail
		}
		return db.Update(fn)
	}
	l, err := Open(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if made != 1 {
		t.Errorf("Open made %d commits through Update; want 1", made)
	}
	ctx := context.Background()
	if _, err := l.Append(ctx, sentEntry(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SignedHead(ctx); err != nil {
		t.Fatal(err)
	}
	if made != 3 {
		t.Errorf("an append and a head made %d commits through Update; want 2", made-1)
	}

	fail = errors.New("store failed")
	if _, err := l.Append(ctx, sentEntry(2)); !errors.Is(err, fail) {
		t.Errorf("an append whose commit failed: %v; want Update's error", err)
	}
	if _, err := l.SignedHead(ctx); !errors.Is(err, fail) {
		t.Errorf("a head whose commit failed: %v; want Update's error", err)
	}
	if l.Size() != 1 {
		t.Errorf("size %d after a failed append; want 1", l.Size())
	}
}
