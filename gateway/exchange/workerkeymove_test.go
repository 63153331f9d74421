package exchange

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestConfirmationsMatchOnceTheWorkerKeyLeavesNodeDB: a transfer accepted
// by a release that kept the worker digest key in node.db (bucket keys,
// key worker-digest, no key file) is still matched in full by a
// confirmation of its worker once the store has moved the key to its
// file, and another worker's is still refused; node.db no longer holds
// the key.
func TestConfirmationsMatchOnceTheWorkerKeyLeavesNodeDB(t *testing.T) {
	const id = "44030519850607857X"
	dir := t.TempDir()
	path, keyFile := filepath.Join(dir, "node.db"), filepath.Join(dir, store.WorkerKeyFile)
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	w, err := sentWorker(workerTransfer(t, id), &policy.Decision{}, s.WorkerDigest) // sent in clear
	if err != nil {
		t.Fatal(err)
	}
	out := store.Outgoing{EnvelopeID: "01ENVELOPE", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`), Worker: w}
	if _, err := s.Enqueue(context.Background(), []store.Outgoing{out}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// node.db as an earlier release left it: the key in it, no key file.
	data, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("keys"))
		if err != nil {
			return err
		}
		return b.Put([]byte("worker-digest"), key)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kept, err := s.SentWorker(out.Ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ idNumber, refused, match string }{
		{id, "", WorkerMatchFull},
		{"440305198506071234", ReasonWorkerMismatch, WorkerMatchMismatch},
	} {
		var sum Confirmed
		if refused := checkWorker(&contracts.Confirmation{WorkerIDNumber: tt.idNumber}, &kept, s.WorkerDigest, &sum); refused != tt.refused || sum.WorkerMatch != tt.match {
			t.Errorf("a confirmation after the key moved: refused %q, worker_match %q; want %q, %q", refused, sum.WorkerMatch, tt.refused, tt.match)
		}
	}
	if got, err := os.ReadFile(keyFile); err != nil || strings.TrimSpace(string(got)) != hex.EncodeToString(key) {
		t.Errorf("the key file holds %q (%v), want node.db's key", got, err)
	}
	if err := s.DB().View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("keys")); b != nil && bytes.Equal(b.Get([]byte("worker-digest")), key) {
			t.Error("node.db still holds the worker key")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
