package boltfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/pki/durable"
)

// Open checks the file at path (see Check), then opens it with bolt.Open
// and the given mode and options (nil means bbolt's defaults).
//
// As a backstop for damage Check cannot see, a fault or panic inside
// bolt.Open on this goroutine (bbolt walks every page when it rebuilds an
// unsynced freelist) is returned as an error wrapping ErrDamaged, and the
// file is unlocked and closed. What bbolt had mapped stays mapped, and a
// goroutine of its freelist walk may stay blocked: the process is expected
// to stop on the error rather than open files in a loop. Faults in reads
// after Open returns, and panics on bbolt's other goroutines, are not
// caught.
//
// A file it creates has its directory synced before Open returns, so that
// its name, and what is then committed to it, survives a crash.
func Open(path string, mode os.FileMode, opts *bolt.Options) (*bolt.DB, error) {
	if err := Check(path); err != nil {
		return nil, err
	}
	_, err := os.Lstat(path)
	created := errors.Is(err, fs.ErrNotExist)
	db, err := openRecovering(path, mode, opts, bolt.Open)
	if err != nil || !created {
		return db, err
	}
	if err := durable.SyncDir(filepath.Dir(path)); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: sync the directory of the new file: %w", path, err)
	}
	return db, nil
}

// openRecovering lets tests stand in for bolt.Open.
func openRecovering(path string, mode os.FileMode, opts *bolt.Options, open func(string, os.FileMode, *bolt.Options) (*bolt.DB, error)) (db *bolt.DB, err error) {
	if opts == nil {
		opts = bolt.DefaultOptions
	}
	o := *opts
	openFile := o.OpenFile
	if openFile == nil {
		openFile = os.OpenFile
	}
	var file *os.File
	o.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := openFile(name, flag, perm)
		file = f
		return f, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if file != nil {
			unlock(file)
			file.Close()
		}
		db, err = nil, fmt.Errorf("bbolt file %s %w (reading it failed: %v); restore it from a backup", path, ErrDamaged, r)
	}()
	return open(path, mode, &o)
}
