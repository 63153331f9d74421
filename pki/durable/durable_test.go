package durable

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// errInjected is the failure the tests inject.
var errInjected = errors.New("injected failure")

// syncs records what the package syncs, in order, calling each through to
// check, until the test ends.
func syncs(t *testing.T, check func(f *os.File) error) *[]string {
	t.Helper()
	var names []string
	t.Cleanup(SetSyncForTest(func(f *os.File) error {
		names = append(names, f.Name())
		if check != nil {
			return check(f)
		}
		return f.Sync()
	}))
	return &names
}

// isDir reports whether f, handed to the sync hook, is a directory.
func isDir(t *testing.T, f *os.File) bool {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.IsDir()
}

// wantOnly fails unless dir holds exactly the names want: no temporary
// file is left behind.
func wantOnly(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", dir, got, want)
	}
}

// wantContent fails unless path holds content.
func wantContent(t *testing.T, path, content string) {
	t.Helper()
	if b, err := os.ReadFile(path); err != nil || string(b) != content {
		t.Errorf("%s holds %q (%v), want %q", path, b, err, content)
	}
}

// TestWriteFileMode: the file has the mode asked for, exactly, whether
// it is new or replaces one of another mode.
func TestWriteFileMode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing fs.FileMode // 0: no file there
		perm     fs.FileMode
	}{
		{"new key", 0, 0o600},
		{"new certificate", 0, 0o644},
		{"key over a certificate", 0o644, 0o600},
		{"certificate over a key", 0o600, 0o644},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.pem")
			if tc.existing != 0 {
				if err := os.WriteFile(path, []byte("old"), tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFile(path, []byte("new"), tc.perm); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.perm {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tc.perm)
			}
			wantContent(t, path, "new")
		})
	}
}

// TestWriteFileReplacesWhole: at every step of a replacement the path
// holds the old content or the new, never a mix or nothing, and the new
// content is in place before the directory is synced.
func TestWriteFileReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	const old, new = `{"old":true}`, `{"new":true,"longer":"than the old"}`
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	seen := func(step string) string {
		b, err := os.ReadFile(path)
		if err != nil || (string(b) != old && string(b) != new) {
			t.Errorf("%s: the file holds %q (%v), neither the old content nor the new", step, b, err)
		}
		return string(b)
	}
	names := syncs(t, func(f *os.File) error {
		got := seen("sync of " + f.Name())
		if isDir(t, f) && got != new {
			t.Errorf("the directory is synced while the file still holds %q", got)
		}
		return f.Sync()
	})
	err := Stream(path, 0o644, Replace, func(w io.Writer) error {
		seen("fill")
		if _, err := io.WriteString(w, new[:10]); err != nil {
			return err
		}
		seen("fill, half written")
		_, err := io.WriteString(w, new[10:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wantContent(t, path, new)
	// The temporary file, then the directory, after the rename.
	if len(*names) != 2 || !strings.HasPrefix(filepath.Base((*names)[0]), ".state.json.tmp") || (*names)[1] != dir {
		t.Errorf("synced %q, want the temporary file then %s", *names, dir)
	}
	wantOnly(t, dir, "state.json")
}

// TestCreateFileRefusesAnExistingFile: an exclusive write never replaces
// a file, one already there or one made while it was writing, and leaves
// no temporary file.
func TestCreateFileRefusesAnExistingFile(t *testing.T) {
	t.Run("there before", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "audit.key")
		if err := os.WriteFile(path, []byte("the key"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := CreateFile(path, []byte("another key"), 0o600); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("CreateFile over an existing file: %v, want fs.ErrExist naming %s", err, path)
		}
		wantContent(t, path, "the key")
		wantOnly(t, dir, "audit.key")
	})
	t.Run("made meanwhile", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "backup.json")
		err := Stream(path, 0o600, Exclusive, func(w io.Writer) error {
			if err := os.WriteFile(path, []byte("another's"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := io.WriteString(w, "mine")
			return err
		})
		if !errors.Is(err, fs.ErrExist) {
			t.Errorf("Stream over a file made meanwhile: %v, want fs.ErrExist", err)
		}
		wantContent(t, path, "another's")
		wantOnly(t, dir, "backup.json")
	})
	t.Run("absent", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "audit.key")
		names := syncs(t, nil)
		if err := CreateFile(path, []byte("the key"), 0o600); err != nil {
			t.Fatal(err)
		}
		wantContent(t, path, "the key")
		wantOnly(t, dir, "audit.key")
		if len(*names) != 2 || (*names)[1] != dir {
			t.Errorf("synced %q, want the temporary file then %s", *names, dir)
		}
	})
}

// TestFailedWriteLeavesNoTemporaryFile: whatever step fails, the error is
// returned, the temporary file is gone, and the path holds what the
// failure allows: the old content until the rename, and after a failed
// sync of the directory the new content where it replaced, nothing where
// it was to be created.
func TestFailedWriteLeavesNoTemporaryFile(t *testing.T) {
	failFill := func(w io.Writer) error {
		io.WriteString(w, "half")
		return errInjected
	}
	failSyncOf := func(dir bool) func(t *testing.T) {
		return func(t *testing.T) {
			syncs(t, func(f *os.File) error {
				if isDir(t, f) == dir {
					return errInjected
				}
				return f.Sync()
			})
		}
	}
	for _, tc := range []struct {
		name   string
		policy Policy
		old    bool // a file is there before
		setup  func(t *testing.T)
		fill   func(io.Writer) error
		want   string // "" for no file
	}{
		{"fill fails", Replace, true, nil, failFill, "old"},
		{"fill fails, exclusive", Exclusive, false, nil, failFill, ""},
		{"file sync fails", Replace, true, failSyncOf(false), nil, "old"},
		{"file sync fails, exclusive", Exclusive, false, failSyncOf(false), nil, ""},
		{"directory sync fails", Replace, true, failSyncOf(true), nil, "new"},
		{"directory sync fails, exclusive", Exclusive, false, failSyncOf(true), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			if tc.old {
				if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.setup != nil {
				tc.setup(t)
			}
			fill := tc.fill
			if fill == nil {
				fill = writeAll(path, []byte("new"))
			}
			if err := Stream(path, 0o600, tc.policy, fill); !errors.Is(err, errInjected) {
				t.Errorf("Stream: %v, want the injected failure", err)
			}
			if tc.want == "" {
				wantOnly(t, dir)
				return
			}
			wantContent(t, path, tc.want)
			wantOnly(t, dir, "f")
		})
	}
	t.Run("rename fails", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "f")
		if err := os.MkdirAll(filepath.Join(path, "not empty"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(path, []byte("new"), 0o600); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("WriteFile over a directory: %v, want an error naming %s", err, path)
		}
		wantOnly(t, dir, "f")
	})
}

// TestMkdirAllSyncsTheParentsOfWhatItMade: each directory made is synced
// into its parent; one that exists costs no sync.
func TestMkdirAllSyncsTheParentsOfWhatItMade(t *testing.T) {
	base := t.TempDir()
	names := syncs(t, nil)
	dir := filepath.Join(base, "pki", "p51")
	if err := MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v, %v", dir, fi, err)
	}
	if want := []string{filepath.Join(base, "pki"), base}; !slices.Equal(*names, want) {
		t.Errorf("synced %q, want %q", *names, want)
	}
	*names = nil
	if err := MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if len(*names) != 0 {
		t.Errorf("MkdirAll of an existing directory synced %q", *names)
	}
	syncs(t, func(*os.File) error { return errInjected })
	if err := MkdirAll(filepath.Join(dir, "out"), 0o700); !errors.Is(err, errInjected) {
		t.Errorf("MkdirAll with a failing sync: %v, want the injected failure", err)
	}
}

// TestCreateFileInPlaceIsWrittenThoughItsTemporaryNameStays: a file made
// under Exclusive is in place once linked. A failure to remove its
// temporary name then must not report it unwritten: it would stay at its
// path, its directory unsynced, and a retry would be refused as existing.
func TestCreateFileInPlaceIsWrittenThoughItsTemporaryNameStays(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit-key")
	synced := syncs(t, nil)
	old := removeTemp
	removeTemp = func(string) error { return errInjected }
	t.Cleanup(func() { removeTemp = old })
	if err := CreateFile(path, []byte("key"), 0o600); err != nil {
		t.Fatalf("CreateFile with its temporary name left: %v; want it written", err)
	}
	wantContent(t, path, "key")
	if !slices.Contains(*synced, dir) {
		t.Errorf("synced %q; want the directory %q once the file is in place", *synced, dir)
	}
}
