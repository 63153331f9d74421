package audit

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "laborlink.test/p51/gw-1"

// testKeys is one checkpoint key pair shared by the tests of this package.
var testKeys = sync.OnceValue(func() [2]string {
	skey, vkey, err := GenerateKey(testOrigin)
	if err != nil {
		panic(err)
	}
	return [2]string{skey, vkey}
})

func testSigner(t testing.TB) note.Signer {
	t.Helper()
	s, err := note.NewSigner(testKeys()[0])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testVerifier(t testing.TB) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(testKeys()[1])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testConfig(t testing.TB) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Origin = testOrigin
	cfg.Signer = testSigner(t)
	cfg.SignInterval = -1
	return cfg
}

// newTestDB opens a bbolt file in t.TempDir; the test closes it.
func newTestDB(t testing.TB) (*bolt.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func newTestLog(t testing.TB) (*Log, *bolt.DB) {
	t.Helper()
	db, _ := newTestDB(t)
	l, err := Open(db, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, db
}

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// sentEntry is a typical allowed flow from 51 to 44.
func sentEntry(i int) Entry {
	return Entry{
		Time:             t0.Add(time.Duration(i) * time.Second),
		Kind:             KindSent,
		EnvelopeID:       envID(i),
		RecordType:       "transfer",
		Origin:           "51",
		Destination:      "44",
		AgreementID:      "AG-51-44-2026-001",
		AgreementVersion: 2,
		Purpose:          "employment-service",
		Decision:         Allow,
		Policy:           PolicyRevisions{Federation: "fed-7", Province: "p51-3"},
		PayloadDigest:    Digest{byte(i), byte(i >> 8), byte(i >> 16), 1},
		Size:             int64(900 + i%100),
		Peer:             "spiffe://p44.laborlink.test/node/gw-1",
	}
}

func envID(i int) string {
	return "01J" + string(rune('A'+i%26)) + "ENV" + time.Duration(i).String()
}

func appendN(t testing.TB, l *Log, n int) {
	t.Helper()
	for i := range n {
		if _, err := l.Append(context.Background(), sentEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// signedLog is a test log holding n sent entries (appendN), its database,
// and the head it signed over them.
func signedLog(t testing.TB, n int) (*Log, *bolt.DB, Head) {
	t.Helper()
	l, db := newTestLog(t)
	appendN(t, l, n)
	h, err := l.SignedHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l, db, h
}

func TestAppendAssignsPositionsAndSurvivesReopen(t *testing.T) {
	db, _ := newTestDB(t)
	l, err := Open(db, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	seen := make([]bool, 50)
	var mu sync.Mutex
	for i := range 50 {
		wg.Go(func() {
			idx, err := l.Append(context.Background(), sentEntry(i))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[idx] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	for i, ok := range seen {
		if !ok {
			t.Errorf("no append got position %d", i)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), sentEntry(0)); err != ErrClosed {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
	l2, err := Open(db, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.Size() != 50 {
		t.Fatalf("size after reopen = %d, want 50", l2.Size())
	}
	es, err := l2.Entries(context.Background(), 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range es {
		if e.Index != int64(i) {
			t.Errorf("entry at %d says index %d", i, e.Index)
		}
	}
}

func TestAppendRejectsInvalidEntry(t *testing.T) {
	l, _ := newTestLog(t)
	e := sentEntry(1)
	e.EnvelopeID = "510101199003071234"
	if _, err := l.Append(context.Background(), e); err == nil {
		t.Fatal("append accepted an ID-number-shaped envelope id")
	}
	if l.Size() != 0 {
		t.Fatalf("size = %d after a refused append", l.Size())
	}
}

// TestACommittedEntryIsReadAtOnce: a reader that starts once an entry's
// transaction committed reads the entry, even before the log's Size has
// grown (which happens in an OnCommit hook after the writer lock is
// released): the record state written in the same commit must never be
// seen without its entry.
func TestACommittedEntryIsReadAtOnce(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, 2)
	var seen []Entry
	var readErr error
	err := db.Update(func(tx *bolt.Tx) error {
		// Hooks run in the order they were added: this one before the
		// log's, as a reader woken by the commit may.
		tx.OnCommit(func() { seen, readErr = l.Query(context.Background(), Filter{}) })
		return l.AppendTx(tx, sentEntry(2))
	})
	if err != nil {
		t.Fatal(err)
	}
	if readErr != nil || len(seen) != 3 {
		t.Fatalf("read right after the commit: %d entries, %v; want 3", len(seen), readErr)
	}
}

// TestEachReadsTheLogAsItStarted: entries appended while Each goes through
// the log, between its chunks, are not read, so that an export of a busy
// log ends.
func TestEachReadsTheLogAsItStarted(t *testing.T) {
	defer func(n int64) { scanChunk = n }(scanChunk)
	scanChunk = 2
	l, _ := newTestLog(t)
	appendN(t, l, 5)
	seen := 0
	err := l.Each(context.Background(), Filter{}, func(Entry) error {
		seen++
		if seen > 50 {
			return errors.New("still reading")
		}
		_, err := l.Append(context.Background(), sentEntry(100+seen))
		return err
	})
	if err != nil || seen != 5 {
		t.Errorf("Each read %d entries (%v) of a log of 5 growing under it; want the 5", seen, err)
	}
}
