package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestALogThatLostItsSizeIsRefused: a log whose meta bucket has no size,
// or one that is not a size, but that holds entries is refused on open with
// ErrCorrupt, naming the file, the buckets and the key, and its file is left
// byte for byte as it was. Read as empty, it would take its next appends
// over the entries it holds.
func TestALogThatLostItsSizeIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		size []byte // nil deletes the key
	}{
		{"missing", nil},
		{"short", []byte{0, 0, 0, 5}},
		{"negative", key(-1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := newTestDB(t)
			cfg := testConfig(t)
			l, err := Open(db, cfg)
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, l, 5)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			putMeta(t, db, cfg.Bucket, keySize, tc.size)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			l, err = OpenFile(path, cfg)
			if err == nil {
				l.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("err %v, want %v", err, ErrCorrupt)
			}
			for _, s := range []string{path, fmt.Sprintf("%q", cfg.Bucket), fmt.Sprintf("%q", bucketMeta), fmt.Sprintf("%q", keySize)} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %s", err, s)
				}
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, before) {
				t.Error("opening changed the log's file")
			}
		})
	}
}

// TestAnAppendToALogThatLostItsSizeFails: the size is checked wherever it
// is read, so an append in a transaction of a file whose size went missing
// after Open fails, and writes nothing over the entry at position 0.
func TestAnAppendToALogThatLostItsSizeFails(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, 3)
	putMeta(t, db, l.cfg.Bucket, keySize, nil)
	err := db.Update(func(tx *bolt.Tx) error { return l.AppendTx(tx, sentEntry(9)) })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("append: %v, want %v", err, ErrCorrupt)
	}
	putMeta(t, db, l.cfg.Bucket, keySize, key(3))
	es, err := l.Entries(t.Context(), 0, 4)
	if err != nil || len(es) != 3 || es[0].EnvelopeID != sentEntry(0).EnvelopeID {
		t.Errorf("entries after the failed append: %v, %v; want the 3 appended", es, err)
	}
}

// TestANewLogWithoutSizeOpensEmpty: a log never appended to has no size
// yet, and opens again as empty.
func TestANewLogWithoutSizeOpensEmpty(t *testing.T) {
	db, _ := newTestDB(t)
	cfg := testConfig(t)
	for range 2 {
		l, err := Open(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if n := l.Size(); n != 0 {
			t.Errorf("size %d, want 0", n)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if v := getMeta(t, db, cfg.Bucket, keySize); v != nil {
		t.Fatalf("a new log has size %x; the test wants one without", v)
	}
}
