package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/gateway/boltfile"
	"github.com/laborlink/laborlink/gateway/boltfile/bolttest"
)

// TestTruncatedStoreIsRefused: a store file cut short (an interrupted copy
// or restore, a full disk) is refused by name. bbolt, which rebuilds the
// freelist of a store file by walking every page, used to read past the
// end of the file there and kill the process.
func TestTruncatedStoreIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = s.DB().Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("audit"))
		if err != nil {
			return err
		}
		for i := range 20000 {
			if err := b.Put(fmt.Appendf(nil, "%08d", i), make([]byte, 200)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	bolttest.Truncate(t, path, bolttest.Half)
	s, err = Open(path, Options{NoSync: true})
	if err == nil {
		s.Close()
		t.Fatal("a store file cut to half its size opened")
	}
	if !errors.Is(err, boltfile.ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "restore it from a backup") {
		t.Errorf("err = %v; want ErrDamaged naming %s and what to do", err, path)
	}
}
