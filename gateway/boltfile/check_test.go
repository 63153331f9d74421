package boltfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/gateway/boltfile/bolttest"
)

var bucket = []byte("b")

// writeFile makes a bbolt file of n keys at path, in transactions of 1000
// keys so that the two meta pages hold different transactions.
func writeFile(t *testing.T, path string, pageSize, n int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true, PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for lo := 0; lo < n; lo += 1000 {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			for i := lo; i < min(lo+1000, n); i++ {
				if err := b.Put(fmt.Appendf(nil, "%08d", i), make([]byte, 200)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// metaOffsets returns the offsets of the newer and the older meta page of
// the file at path, whose pages are pageSize bytes.
func metaOffsets(t *testing.T, path string, pageSize int64) (newer, older int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m0, err := readMeta(f, 0)
	if err != nil || m0 == nil {
		t.Fatalf("meta 0: %v, %v", m0, err)
	}
	m1, err := readMeta(f, pageSize)
	if err != nil || m1 == nil {
		t.Fatalf("meta 1: %v, %v", m1, err)
	}
	if m1.txid > m0.txid {
		return pageSize, 0
	}
	return 0, pageSize
}

// flipChecksum breaks the checksum of the meta page at off.
func flipChecksum(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off+headerSize+checksumStart] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// inUse returns how many bytes the pages in use of the file at path take,
// by the meta bbolt would read it at.
func inUse(t *testing.T, path string, pageSize int64) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := newestMeta(f, pageSize)
	if err != nil || m == nil {
		t.Fatalf("newest meta: %v, %v", m, err)
	}
	return int64(m.pgid) * pageSize
}

// txOf opens the file with bbolt (creating it if missing) and returns the transaction it reads at
// and its number of keys, or bbolt's error.
func txOf(path string) (txid, keys int, err error) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		txid = tx.ID()
		if b := tx.Bucket(bucket); b != nil {
			keys = b.Stats().KeyN
		}
		return nil
	})
	return txid, keys, err
}

// TestCheckAcceptsWhatBboltOpens: files bbolt opens pass, including one
// whose newer meta is broken, which bbolt reads at the older transaction.
func TestCheckAcceptsWhatBboltOpens(t *testing.T) {
	for _, pageSize := range []int{4096, 16 << 10} {
		t.Run(fmt.Sprintf("page size %d", pageSize), func(t *testing.T) {
			dir := t.TempDir()
			for _, tc := range []struct {
				name     string
				prepare  func(path string)
				wantKeys int
				wantTx   int
			}{
				{name: "missing", prepare: func(string) {}, wantTx: 1},
				{name: "empty", prepare: func(path string) {
					if err := os.WriteFile(path, nil, 0o600); err != nil {
						t.Fatal(err)
					}
				}, wantTx: 1},
				{name: "healthy", prepare: func(path string) { writeFile(t, path, pageSize, 5000) }, wantKeys: 5000, wantTx: 6},
				{name: "newer meta broken", prepare: func(path string) {
					writeFile(t, path, pageSize, 5000)
					newer, _ := metaOffsets(t, path, int64(pageSize))
					flipChecksum(t, path, newer)
				}, wantKeys: 4000, wantTx: 5},
				{name: "cut to its pages in use", prepare: func(path string) {
					writeFile(t, path, pageSize, 5000)
					bolttest.Truncate(t, path, func(int64) int64 { return inUse(t, path, int64(pageSize)) })
				}, wantKeys: 5000, wantTx: 6},
				{name: "older meta broken", prepare: func(path string) {
					writeFile(t, path, pageSize, 5000)
					_, older := metaOffsets(t, path, int64(pageSize))
					flipChecksum(t, path, older)
				}, wantKeys: 5000, wantTx: 6},
				// The page size is then found by looking for the second meta.
				{name: "first meta broken", prepare: func(path string) {
					writeFile(t, path, pageSize, 5000)
					flipChecksum(t, path, 0)
				}, wantKeys: 4000, wantTx: 5}, // transaction 6 was on page 0
			} {
				t.Run(tc.name, func(t *testing.T) {
					path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".db")
					tc.prepare(path)
					if err := Check(path); err != nil {
						t.Fatalf("Check: %v", err)
					}
					txid, keys, err := txOf(path)
					if err != nil {
						t.Fatalf("bbolt refuses what Check passed: %v", err)
					}
					if keys != tc.wantKeys || txid != tc.wantTx {
						t.Errorf("bbolt reads %d keys at transaction %d, want %d at %d", keys, txid, tc.wantKeys, tc.wantTx)
					}
				})
			}
		})
	}
}

// TestCheckRefusesDamagedFiles: a file cut short, with no valid meta, or
// not bbolt at all is refused with an error that names it and says what
// to do. Each is one bbolt either refuses too or reads past the file's end
// on (which crashes the test binary, hence it is not opened here).
func TestCheckRefusesDamagedFiles(t *testing.T) {
	for _, pageSize := range []int{4096, 16 << 10} {
		t.Run(fmt.Sprintf("page size %d", pageSize), func(t *testing.T) {
			dir := t.TempDir()
			for _, tc := range []struct {
				name      string
				prepare   func(path string)
				bboltToo  bool // bbolt refuses it itself
				wantInErr string
			}{
				{name: "cut to half", prepare: func(path string) {
					writeFile(t, path, pageSize, 20000)
					bolttest.Truncate(t, path, func(n int64) int64 { return n / 2 })
				}, wantInErr: "pages of"},
				{name: "cut by a byte of its pages in use", prepare: func(path string) {
					writeFile(t, path, pageSize, 20000)
					bolttest.Truncate(t, path, func(int64) int64 { return inUse(t, path, int64(pageSize)) - 1 })
				}, wantInErr: "pages of"},
				{name: "cut to the meta pages", prepare: func(path string) {
					writeFile(t, path, pageSize, 20000)
					bolttest.Truncate(t, path, func(int64) int64 { return 2 * int64(pageSize) })
				}, wantInErr: "pages of"},
				{name: "cut inside the second meta", prepare: func(path string) {
					writeFile(t, path, pageSize, 20000)
					bolttest.Truncate(t, path, func(int64) int64 { return int64(pageSize) + 100 })
				}, bboltToo: true, wantInErr: "shorter than its two meta pages"},
				{name: "both metas broken", prepare: func(path string) {
					writeFile(t, path, pageSize, 5000)
					flipChecksum(t, path, 0)
					flipChecksum(t, path, int64(pageSize))
				}, bboltToo: true, wantInErr: "no valid meta page"},
				{name: "not bbolt", prepare: func(path string) {
					if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 4000)), 0o600); err != nil {
						t.Fatal(err)
					}
				}, bboltToo: true, wantInErr: "no valid meta page"},
				{name: "a few bytes", prepare: func(path string) {
					if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
						t.Fatal(err)
					}
				}, bboltToo: true, wantInErr: "no valid meta page"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".db")
					tc.prepare(path)
					err := Check(path)
					if !errors.Is(err, ErrDamaged) {
						t.Fatalf("Check = %v, want ErrDamaged", err)
					}
					for _, s := range []string{path, "truncated or damaged", tc.wantInErr, "restore it from a backup"} {
						if !strings.Contains(err.Error(), s) {
							t.Errorf("error %q does not say %q", err, s)
						}
					}
					if tc.bboltToo {
						if _, _, err := txOf(path); err == nil {
							t.Error("bbolt opens it")
						}
					}
				})
			}
		})
	}
}

// TestCheckPassesReadErrorsOn: a path that cannot be read is no verdict on
// its contents.
func TestCheckPassesReadErrorsOn(t *testing.T) {
	err := Check(t.TempDir()) // a directory: open works, reading does not
	if err == nil || errors.Is(err, ErrDamaged) {
		t.Fatalf("Check(directory) = %v, want a read error", err)
	}
}
