package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/pki/durable"
)

// readKeyFile returns the key in the worker key file path, and fails t
// unless the file is the node user's alone and holds 32 bytes in hex.
func readKeyFile(t *testing.T, path string) []byte {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != workerKeySize {
		t.Fatalf("%s holds %q, want %d bytes in hex", path, data, workerKeySize)
	}
	return key
}

// randomKey is a worker key made at random.
func randomKey() []byte {
	k := make([]byte, workerKeySize)
	rand.Read(k)
	return k
}

// writeKeyFile writes key to the worker key file path as the node keeps
// it: in hex on one line, readable by the node's user alone.
func writeKeyFile(t *testing.T, path string, key []byte) {
	t.Helper()
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// legacyKey returns what the store file at path holds where an earlier
// release kept the worker key (bucket keys, key worker-digest): the key,
// workerKeyMoved once the key is in its file, nil if nothing.
func legacyKey(t *testing.T, path string) []byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var k []byte
	db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("keys")); b != nil {
			k = clone(b.Get([]byte("worker-digest")))
		}
		return nil
	})
	return k
}

// putLegacyKey writes key into the store file at path where an earlier
// release made and kept it: bucket keys, key worker-digest, the key's 32
// bytes as they are.
func putLegacyKey(t *testing.T, path string, key []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("keys"))
		if err != nil {
			return err
		}
		return b.Put([]byte("worker-digest"), key)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestTheWorkerKeyIsNotInTheStoreFile: a new store makes its worker key
// in its key file, and none of it is in the store file, whose copies
// (backups) then hold no key to test guessed ID numbers against the
// digests with.
func TestTheWorkerKeyIsNotInTheStoreFile(t *testing.T) {
	dir := t.TempDir()
	path, keyFile := filepath.Join(dir, "node.db"), filepath.Join(t.TempDir(), "worker.key")
	s := openAt(t, path, Options{WorkerKeyFile: keyFile})
	s.Close()
	key := readKeyFile(t, keyFile)
	if _, err := os.Stat(filepath.Join(dir, WorkerKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a key file beside the store file, though the options name another: %v", err)
	}
	if k := legacyKey(t, path); !bytes.Equal(k, workerKeyMoved) {
		t.Errorf("the store file holds %q where earlier releases kept the key, want %q", k, workerKeyMoved)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, key) || bytes.Contains(data, []byte(hex.EncodeToString(key))) {
		t.Error("the store file holds the worker key's bytes")
	}
}

// keepDigest enqueues a transfer whose status keeps a digest of its
// worker made with s's key.
func keepDigest(t *testing.T, s *Store, ref string) {
	t.Helper()
	w := SentWorker{Shown: "###***********####", Digest: s.WorkerDigest(nil, []byte("510123X")), ContractStart: "2026-03-01"}
	out := Outgoing{EnvelopeID: "01" + ref, Ref: "51/transfer/" + ref, Type: "transfer", Peer: "44", Envelope: []byte(`{}`), Worker: &w}
	if _, err := s.Enqueue(context.Background(), []Outgoing{out}); err != nil {
		t.Fatal(err)
	}
}

// TestAMissingWorkerKeyIsNotReplacedWhileDigestsAreKept: a store whose
// key file is missing makes no new key while it keeps digests made under
// the lost one, under which every confirmation of their transfers would
// be refused: it refuses to open, naming the file and what to do, and
// opens once the file is restored. A store that keeps no digest (its
// transfers showed none of the number) makes a new key.
func TestAMissingWorkerKeyIsNotReplacedWhileDigestsAreKept(t *testing.T) {
	dir := t.TempDir()
	path, keyFile := filepath.Join(dir, "node.db"), filepath.Join(dir, WorkerKeyFile)
	s := openAt(t, path, Options{NoSync: true})
	w := SentWorker{Shown: "******************", ContractStart: "2026-03-01"} // wholly masked: no digest
	if _, err := s.Enqueue(context.Background(), []Outgoing{{EnvelopeID: "01T0", Ref: "51/transfer/T-0", Type: "transfer", Peer: "44", Envelope: []byte(`{}`), Worker: &w}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{NoSync: true})
	key := readKeyFile(t, keyFile)
	keepDigest(t, s, "T-1")
	s.Close()

	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(path, Options{NoSync: true}); err == nil || !strings.Contains(err.Error(), keyFile) || !strings.Contains(err.Error(), "restore") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open without the key file, digests kept: %v; want a refusal naming %s and saying to restore it", err, keyFile)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused open left a key file: %v", err)
	}
	writeKeyFile(t, keyFile, key)
	s = openAt(t, path, Options{NoSync: true})
	kept, err := s.SentWorker("51/transfer/T-1")
	if err != nil || !bytes.Equal(kept.Digest, s.WorkerDigest(nil, []byte("510123X"))) {
		t.Errorf("with the key file restored, the digest kept %x (%v) does not match", kept.Digest, err)
	}
}

// TestAnEarlierReleasesWorkerKeyIsMovedToItsFile: a store file that holds
// the worker key, as earlier releases kept it, has it moved to the key
// file when it opens, written there first and then replaced in the store
// file by workerKeyMoved, so that the digests kept under it still match.
func TestAnEarlierReleasesWorkerKeyIsMovedToItsFile(t *testing.T) {
	dir := t.TempDir()
	path, keyFile := filepath.Join(dir, "node.db"), filepath.Join(dir, WorkerKeyFile)
	legacy := randomKey()
	putLegacyKey(t, path, legacy)

	// The key file's directory cannot be synced: the key stays in the
	// store file, and no key file is left.
	errSync := errors.New("directory sync failed")
	restore := durable.SetSyncForTest(func(f *os.File) error {
		if f.Name() == dir {
			return errSync
		}
		return f.Sync()
	})
	s, err := Open(path, Options{NoSync: true})
	restore()
	if err == nil {
		s.Close()
		t.Fatal("the store opened though its key file could not be written")
	}
	if !errors.Is(err, errSync) || !bytes.Equal(legacyKey(t, path), legacy) {
		t.Errorf("open with the directory not synced: %v; the store file holds %x, want %x", err, legacyKey(t, path), legacy)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a key file not synced was left: %v", err)
	}

	s = openAt(t, path, Options{NoSync: true})
	wantDigestUnder(t, s, legacy, "the store file's key")
	s.Close()
	if got := readKeyFile(t, keyFile); !bytes.Equal(got, legacy) {
		t.Errorf("the key file holds %x, want the store file's key %x", got, legacy)
	}
	if k := legacyKey(t, path); !bytes.Equal(k, workerKeyMoved) {
		t.Errorf("the store file holds %x where it kept the key, want %q", k, workerKeyMoved)
	}
}

// wantDigestUnder fails t unless s digests under key, which is what
// names.
func wantDigestUnder(t *testing.T, s *Store, key []byte, what string) {
	t.Helper()
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("510123X"))
	if got := s.WorkerDigest(nil, []byte("510123X")); !bytes.Equal(got, mac.Sum(nil)) {
		t.Errorf("digest %x, want the one under %s %x", got, what, mac.Sum(nil))
	}
}

// TestAWorkerKeyLeftInBothPlaces: a crash after the key file was written
// and before the key was replaced in the store file leaves it in both:
// the next open replaces it by workerKeyMoved. A key file that holds
// another key than the store file's is refused, naming both, since the
// digests were made under the store file's.
func TestAWorkerKeyLeftInBothPlaces(t *testing.T) {
	dir := t.TempDir()
	path, keyFile := filepath.Join(dir, "node.db"), filepath.Join(dir, WorkerKeyFile)
	s := openAt(t, path, Options{NoSync: true})
	s.Close()
	key := readKeyFile(t, keyFile)
	putLegacyKey(t, path, key)
	s = openAt(t, path, Options{NoSync: true})
	s.Close()
	if k := legacyKey(t, path); !bytes.Equal(k, workerKeyMoved) {
		t.Errorf("the store file holds %x where it kept the key it held with the key file, want %q", k, workerKeyMoved)
	}

	other := randomKey()
	putLegacyKey(t, path, other)
	if s, err := Open(path, Options{NoSync: true}); err == nil || !strings.Contains(err.Error(), keyFile) || !strings.Contains(err.Error(), path) {
		if s != nil {
			s.Close()
		}
		t.Errorf("open with another key in the key file than in the store file: %v; want a refusal naming both", err)
	}
	if !bytes.Equal(legacyKey(t, path), other) || !bytes.Equal(readKeyFile(t, keyFile), key) {
		t.Error("a refused open changed a key")
	}
}

// TestAStoreWhoseWorkerKeyMovedReopens: a store file that holds
// workerKeyMoved where earlier releases kept the key opens with the key
// in its file, and digests under it.
func TestAStoreWhoseWorkerKeyMovedReopens(t *testing.T) {
	dir := t.TempDir()
	path, keyFile := filepath.Join(dir, "node.db"), filepath.Join(dir, WorkerKeyFile)
	key := randomKey()
	putLegacyKey(t, path, workerKeyMoved)
	writeKeyFile(t, keyFile, key)
	s := openAt(t, path, Options{NoSync: true})
	wantDigestUnder(t, s, key, "the key file's key")
	s.Close()
	if k := legacyKey(t, path); !bytes.Equal(k, workerKeyMoved) {
		t.Errorf("the store file holds %q where earlier releases kept the key, want %q", k, workerKeyMoved)
	}
}

// TestAStoreWhoseWorkerKeyMovedRefusesToOpenWithoutItsFile: a store file
// whose key moved to its key file, and that keeps digests, refuses to
// open without the file, naming it, and makes no key in its place.
func TestAStoreWhoseWorkerKeyMovedRefusesToOpenWithoutItsFile(t *testing.T) {
	dir := t.TempDir()
	path, keyFile := filepath.Join(dir, "node.db"), filepath.Join(dir, WorkerKeyFile)
	s := openAt(t, path, Options{NoSync: true})
	keepDigest(t, s, "T-1")
	s.Close()
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	putLegacyKey(t, path, workerKeyMoved)
	if s, err := Open(path, Options{NoSync: true}); err == nil || !strings.Contains(err.Error(), keyFile) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open of a store whose key moved, without its key file: %v; want a refusal naming %s", err, keyFile)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused open left a key file: %v", err)
	}
	if k := legacyKey(t, path); !bytes.Equal(k, workerKeyMoved) {
		t.Errorf("a refused open left %x where earlier releases kept the key, want %q", k, workerKeyMoved)
	}
}

// earlierReleaseReadWorkerKey is how releases before the key file read
// the worker key, in the transaction that opened the store (readWorkerKey
// of the release before f812410), kept word for word to test what they
// do with a store file this release opened.
func earlierReleaseReadWorkerKey(tx *bolt.Tx) ([]byte, error) {
	b, err := tx.CreateBucketIfNotExists(bucketKeys)
	if err != nil {
		return nil, err
	}
	if k := b.Get(workerKeyName); k != nil {
		if len(k) != workerKeySize {
			return nil, fmt.Errorf("bucket %s: key %s has %d bytes, want %d: restore the data directory from a backup", bucketKeys, workerKeyName, len(k), workerKeySize)
		}
		return clone(k), nil
	}
	k := make([]byte, workerKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("make key %s: %w", workerKeyName, err)
	}
	return k, b.Put(workerKeyName, k)
}

// TestAnEarlierReleaseRefusesAStoreThisReleaseOpened: an earlier release
// started on a store file this release opened, whose key moved to its
// file or was made there, refuses to open it (and so to start) rather
// than make a new key, under which every confirmation of the transfers
// digested before would be refused worker_mismatch.
func TestAnEarlierReleaseRefusesAStoreThisReleaseOpened(t *testing.T) {
	legacy := randomKey()
	for _, tt := range []struct {
		name string
		put  []byte // the key an earlier release left in the store file
	}{
		{"moved", legacy},
		{"new", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.db")
			if tt.put != nil {
				putLegacyKey(t, path, tt.put)
			}
			s := openAt(t, path, Options{NoSync: true})
			s.Close()
			held := legacyKey(t, path)
			if len(held) == workerKeySize || bytes.Equal(held, legacy) {
				t.Errorf("the store file holds %x where earlier releases kept the key: a key to them", held)
			}
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				_, err := earlierReleaseReadWorkerKey(tx)
				return err
			})
			db.Close()
			if err == nil || !strings.Contains(err.Error(), "restore the data directory") {
				t.Fatalf("an earlier release opening the store: %v; want its refusal to restore the data directory", err)
			}
			// The operator guide quotes the refusal word for word.
			if guide, rerr := os.ReadFile(filepath.Join("..", "..", "docs", "operator-guide.md")); rerr != nil || !strings.Contains(string(guide), err.Error()) {
				t.Errorf("docs/operator-guide.md does not quote an earlier release's refusal, %q (%v)", err, rerr)
			}
			if k := legacyKey(t, path); !bytes.Equal(k, held) {
				t.Errorf("an earlier release left %x in the store file, before %x", k, held)
			}
		})
	}
}
