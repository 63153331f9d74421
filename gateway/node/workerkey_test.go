package node

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestANodeKeepsItsWorkerKeyInAFileOfItsOwn: a new node makes the key of
// its worker digests in the file worker_key names, the node user's alone,
// and not in node.db, whose copies then hold no key; it digests under
// that file's key again once restarted.
func TestANodeKeepsItsWorkerKeyInAFileOfItsOwn(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "worker.key")
	n := singleNodeWith(t, gatewaytest.NewPKI(t, "51"), func(c *Config) { c.WorkerKey = keyFile })
	chars := []byte("510123X")
	digest := n.store.WorkerDigest(nil, chars)
	var inStore []byte
	n.store.DB().View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("keys")); b != nil {
			inStore = bytes.Clone(b.Get([]byte("worker-digest")))
		}
		return nil
	})
	if len(inStore) == 32 {
		t.Errorf("node.db holds a key of 32 bytes where earlier releases kept the worker key: %x", inStore)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatalf("worker_key: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("worker_key %s has mode %v, want 0600", keyFile, fi.Mode().Perm())
	}
	key, _ := os.ReadFile(keyFile)

	again, err := Open(context.Background(), n.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got := again.store.WorkerDigest(nil, chars); !bytes.Equal(got, digest) {
		t.Errorf("restarted, the node digests %x, before %x", got, digest)
	}
	wantFile(t, keyFile, key)
}

// TestANodeThatLostItsWorkerKeyRefusesToStart: a node whose store keeps
// digests of its transfers' workers does not make a new key in place of
// a missing one, under which every confirmation of those transfers would
// be refused: it refuses to start, naming the key file and what to do,
// and starts once the file is restored.
func TestANodeThatLostItsWorkerKeyRefusesToStart(t *testing.T) {
	n, _ := singleNode(t)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := n.cfg
	keyFile := filepath.Join(cfg.DataDir, store.WorkerKeyFile) // the default
	s, err := store.Open(filepath.Join(cfg.DataDir, "node.db"), store.Options{WorkerKeyFile: cfg.WorkerKey})
	if err != nil {
		t.Fatal(err)
	}
	w := store.SentWorker{Shown: "###***********####", Digest: s.WorkerDigest(nil, []byte("510123X")), ContractStart: "2026-03-01"}
	out := store.Outgoing{EnvelopeID: "01ENVELOPE", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`), Worker: &w}
	if _, err := s.Enqueue(context.Background(), []store.Outgoing{out}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	openRefused(t, cfg, keyFile, "restore")
	wantFile(t, keyFile, nil)

	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("with its worker key restored: %v", err)
	}
	again.Close()
}
