package boltfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/laborlink/laborlink/pki/durable"
)

// TestANewFilesDirectoryIsSynced: bbolt syncs the file it creates, not
// the directory that names it, and until that is on disk a crash may lose
// the whole database with everything committed to it. Open syncs the
// directory of a file it created, fails if it cannot, and leaves an
// existing file's directory alone.
func TestANewFilesDirectoryIsSynced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.db")
	var synced []string
	fail := false
	defer durable.SetSyncForTest(func(f *os.File) error {
		synced = append(synced, f.Name())
		if fail {
			return errors.New("fsync: input/output error")
		}
		return f.Sync()
	})()

	db, err := Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if !slices.Equal(synced, []string{dir}) {
		t.Errorf("opening a new file synced %q; want its directory %q", synced, dir)
	}

	synced = nil
	db, err = Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if len(synced) > 0 {
		t.Errorf("opening an existing file synced %q; want nothing", synced)
	}

	fail = true
	other := filepath.Join(dir, "other.db")
	if db, err := Open(other, 0o600, nil); err == nil {
		db.Close()
		t.Fatal("a new file whose directory could not be synced opened; want an error")
	}
}
