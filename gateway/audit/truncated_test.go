package audit

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/boltfile"
	"github.com/laborlink/laborlink/gateway/boltfile/bolttest"
)

// TestTruncatedLogFileIsRefused: an audit file of its own cut short is
// refused by name. bbolt used to map past the end of the file and the
// first read of the log's format faulted (SIGBUS), killing the process.
func TestTruncatedLogFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	cfg := testConfig(t)
	l, err := OpenFile(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 900)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	bolttest.Truncate(t, path, func(n int64) int64 { return n * 2 / 3 })
	l, err = OpenFile(path, cfg)
	if err == nil {
		l.Close()
		t.Fatal("an audit file cut to two thirds of its size opened")
	}
	if !errors.Is(err, boltfile.ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "restore it from a backup") {
		t.Errorf("err = %v; want ErrDamaged naming %s and what to do", err, path)
	}
}
