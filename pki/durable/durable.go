// Package durable writes the files the project says it has written: keys,
// certificates, CRLs, CA records, configs, backups and saved heads. A file
// is written whole or not at all, and is on disk when a write returns nil.
//
// Each write goes to a temporary file in the target's directory, which is
// given its mode, filled, fsynced and closed, then put in place by a
// rename (or, where an existing file must not be replaced, a link), and
// the directory is fsynced: a rename is a change to the directory, and
// until the directory is on disk a crash may bring back the old file, or
// no file at all, after the command said it had written the new one.
package durable

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Policy says what a write does where a file already exists at its path.
type Policy int

const (
	// Replace puts the new file in place of an existing one, which readers
	// see whole until the moment they see the new one whole.
	Replace Policy = iota
	// Exclusive refuses with an error that is fs.ErrExist, as O_EXCL does,
	// where the path exists, even one made while the new file was being
	// written: for files never to be overwritten, such as a key.
	Exclusive
)

// fsync syncs a file or a directory to disk. Tests replace it
// (SetSyncForTest) to make a sync fail, or to see what was synced when.
var fsync = (*os.File).Sync

// SetSyncForTest makes every sync of the package call fn instead of
// fsync(2) until restore is called. It is for tests: of this package, to
// see that a directory is synced after the rename; of callers, to see that
// a write which could not be made durable is reported as failed rather
// than announced as written. It must not be used while another goroutine
// writes through the package.
func SetSyncForTest(fn func(*os.File) error) (restore func()) {
	old := fsync
	fsync = fn
	return func() { fsync = old }
}

// WriteFile writes data to path, replacing any file there, with mode perm
// exactly (not through the umask: a key's 0600 and the modes docs/pki.md
// lists must not depend on the shell a command ran from).
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Stream(path, perm, Replace, writeAll(path, data))
}

// CreateFile writes data to path, which must not exist, as WriteFile does;
// where it exists the error is fs.ErrExist and the file is left as it was.
func CreateFile(path string, data []byte, perm fs.FileMode) error {
	return Stream(path, perm, Exclusive, writeAll(path, data))
}

// writeAll is the fill of a write whose content is in memory.
func writeAll(path string, data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
}

// Stream writes to path, under policy p, what fill writes, for content
// that is not held in memory (a backup). An error from fill is returned as
// it is, for the caller to say what it was writing; the package's own
// errors name path. On any error the temporary file is removed; path then
// holds what it held before, except after a failed sync of the directory,
// where a replaced file may already hold the new content (which is whole,
// but may not survive a crash) and a file made under Exclusive is removed
// again, so that the caller may make it afresh.
func Stream(path string, perm fs.FileMode, p Policy, fill func(io.Writer) error) error {
	tmp, err := writeTemp(path, perm, fill)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // gone already, unless placing it failed
	if err := place(tmp, path, p); err != nil {
		return err
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		if p == Exclusive {
			os.Remove(path)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeTemp writes a temporary file beside path (hidden, named after it,
// so that one a crash leaves behind says whose it was) and returns its
// name once it is filled, synced and closed.
func writeTemp(path string, perm fs.FileMode, fill func(io.Writer) error) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	err = fillFile(f, path, perm, fill)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", path, cerr)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// fillFile gives f its mode before its content, so that a key is never
// readable by others, even briefly, then fills and syncs it.
func fillFile(f *os.File, path string, perm fs.FileMode, fill func(io.Writer) error) error {
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fill(f); err != nil {
		return err
	}
	if err := fsync(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// place moves the finished temporary file tmp to path under policy p.
func place(tmp, path string, p Policy) error {
	if p == Replace {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	// A link, unlike a rename, fails where path exists, even one made
	// since the caller looked: O_EXCL for a file that appears whole.
	if err := os.Link(tmp, path); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) {
			err = &fs.PathError{Op: "create", Path: path, Err: le.Err}
		}
		return err
	}
	// Removed before the directory is synced, so that a crash does not
	// bring the second name back. The file is in place either way: a
	// failure here would leave it there, unsynced, with an error that says
	// it was not written, and a retry refused as existing.
	removeTemp(tmp)
	return nil
}

// removeTemp removes a temporary file whose content is in place under its
// own name (tests make it fail).
var removeTemp = os.Remove

// SyncDir syncs the directory dir, and with it the names in it: after a
// file is created in dir by other means than this package (a database
// file its library creates), so that a crash does not lose its name.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = fsync(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// MkdirAll makes dir and any parents it lacks with mode perm, as
// os.MkdirAll does, then syncs the directory holding each one it made: a
// file written durably into a new directory would otherwise be lost with
// the directory's own name.
func MkdirAll(dir string, perm fs.FileMode) error {
	missing := missingDirs(dir)
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	for _, d := range missing {
		if err := SyncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("create directory %s: %w", dir, err)
		}
	}
	return nil
}

// missingDirs lists dir and those of its parents that do not exist,
// deepest first.
func missingDirs(dir string) []string {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			return missing
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			return missing
		}
	}
}
