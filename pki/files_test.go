package pki

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/laborlink/laborlink/pki/durable"
)

// TestWritesAreReportedOnlyOnceDurable: a rotated key or a new CRL whose
// directory could not be synced may not survive a crash, so the operation
// fails rather than report it written.
func TestWritesAreReportedOnlyOnceDurable(t *testing.T) {
	f := newFederation(t, "51")
	ca, err := f.CA("51")
	if err != nil {
		t.Fatal(err)
	}
	issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	errSync := errors.New("directory sync failed")
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"key rotation", func() error {
			_, err := ca.Issue(IssueRequest{Kind: KindNode, Name: "gw-1", Force: true})
			return err
		}},
		{"CRL", func() error {
			_, err := WriteCRL(ca.Dir, time.Hour)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restore := durable.SetSyncForTest(func(f *os.File) error {
				if fi, err := f.Stat(); err == nil && fi.IsDir() {
					return errSync
				}
				return f.Sync()
			})
			defer restore()
			if err := tc.op(); !errors.Is(err, errSync) {
				t.Errorf("with the directory sync failing: %v, want that failure", err)
			}
		})
	}
}

// TestInitRootSyncsTheDirectoryItMakes: a root made in a new directory is
// not lost with the directory's name.
func TestInitRootSyncsTheDirectoryItMakes(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "root")
	var synced []string
	defer durable.SetSyncForTest(func(f *os.File) error {
		synced = append(synced, f.Name())
		return f.Sync()
	})()
	if _, err := InitRoot(dir, RootOptions{Domain: testDomain}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{parent, dir} {
		if !slices.Contains(synced, want) {
			t.Errorf("%s was not synced (synced %q)", want, synced)
		}
	}
}
