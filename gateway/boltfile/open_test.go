//go:build unix

package boltfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var sink byte

// TestOpenTurnsAFaultIntoAnError stands a real fault in for one inside
// bolt.Open: the stand-in opens and locks the file through the options as
// bbolt does, maps it, and reads the map past the end of the empty file
// (SIGBUS). Open must return an error, release the lock, and leave the
// goroutine's fault setting as it found it.
func TestOpenTurnsAFaultIntoAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	var mapped []byte
	t.Cleanup(func() {
		if mapped != nil {
			syscall.Munmap(mapped)
		}
	})
	faulting := func(path string, mode os.FileMode, o *bolt.Options) (*bolt.DB, error) {
		f, err := o.OpenFile(path, os.O_RDWR|os.O_CREATE, mode)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			return nil, err
		}
		if mapped, err = syscall.Mmap(int(f.Fd()), 0, 1<<16, syscall.PROT_READ, syscall.MAP_SHARED); err != nil {
			return nil, err
		}
		sink = mapped[1<<15]
		return nil, errors.New("read past the end of the file without a fault")
	}
	for _, tc := range []struct {
		name string
		open func(string, os.FileMode, *bolt.Options) (*bolt.DB, error)
		want string
	}{
		{"fault", faulting, "invalid memory address"},
		{"panic", func(string, os.FileMode, *bolt.Options) (*bolt.DB, error) { panic("assertion failed: page 7") }, "assertion failed: page 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := openRecovering(path, 0o600, &bolt.Options{Timeout: time.Second}, tc.open)
			if db != nil || !errors.Is(err, ErrDamaged) {
				t.Fatalf("open = %v, %v; want ErrDamaged", db, err)
			}
			for _, s := range []string{path, tc.want, "restore it from a backup"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if debug.SetPanicOnFault(false) {
				t.Error("the goroutine still panics on faults")
			}
			db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 100 * time.Millisecond})
			if err != nil {
				t.Fatalf("the file is still locked: %v", err)
			}
			db.Close()
		})
	}
}

// TestOpenOpensAHealthyFile: Open is bolt.Open for a file Check passes,
// the caller's own OpenFile included.
func TestOpenOpensAHealthyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	writeFile(t, path, 4096, 100)
	var opened string
	db, err := Open(path, 0o600, &bolt.Options{OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
		opened = name
		return os.OpenFile(name, flag, mode)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if opened != path {
		t.Errorf("the caller's OpenFile opened %q, want %q", opened, path)
	}
	if debug.SetPanicOnFault(false) {
		t.Error("the goroutine panics on faults after Open")
	}
	err = db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucket).Stats().KeyN; n != 100 {
			t.Errorf("%d keys, want 100", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
