package pki

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/laborlink/laborlink/pki/durable"
)

// TestConcurrentIssuesAreAllListed: runs of issue at once on one CA each
// record their certificate; each read the state and wrote it back, so all
// but the last writer's certificates went unlisted (revoking one then
// needed --force). Two runs for one name: one writes, the other is
// refused, where both passed the check that the files were not there.
func TestConcurrentIssuesAreAllListed(t *testing.T) {
	f := newFederation(t, "51")
	ca, err := f.CA("51")
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	leaves := make([]*Leaf, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			leaves[i], errs[i] = ca.Issue(IssueRequest{Kind: KindSystem, Name: fmt.Sprintf("hr-%d", i)})
		})
	}
	wg.Wait()
	st, err := readState(ca.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, leaf := range leaves {
		if errs[i] != nil {
			t.Errorf("issue %d: %v", i, errs[i])
			continue
		}
		if _, ok := st.issued(leaf.Cert.SerialNumber); !ok {
			t.Errorf("certificate of %s (serial %s) is not in %s", leaf.Identity, serialString(leaf.Cert.SerialNumber), StateFile)
		}
	}

	for i := range n {
		wg.Go(func() {
			leaves[i], errs[i] = ca.Issue(IssueRequest{Kind: KindSystem, Name: "same"})
		})
	}
	wg.Wait()
	written := 0
	for i := range n {
		switch {
		case errs[i] == nil:
			written++
		case !strings.Contains(errs[i].Error(), "refusing to overwrite"):
			t.Errorf("issue %d of one name: %v; want refused as an overwrite", i, errs[i])
		}
	}
	if written != 1 {
		t.Errorf("%d runs issuing one name wrote it; want 1", written)
	}
}

// TestIssueRecordsBeforeItWrites: the state lists a certificate before its
// files are written, so a run cut off between the two (here a certificate
// and key that cannot be written) leaves a serial listed that no file carries,
// never a certificate out in the world that the CA does not list.
func TestIssueRecordsBeforeItWrites(t *testing.T) {
	f := newFederation(t, "51")
	ca, err := f.CA("51")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	errSync := errors.New("sync failed")
	defer durable.SetSyncForTest(func(f *os.File) error {
		if filepath.Dir(f.Name()) == out {
			return errSync
		}
		return f.Sync()
	})()
	before, err := readState(ca.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Issue(IssueRequest{Kind: KindSystem, Name: "hr", OutDir: out}); !errors.Is(err, errSync) {
		t.Fatalf("issue with its files failing: %v, want that failure", err)
	}
	after, err := readState(ca.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Issued) != len(before.Issued)+1 {
		t.Errorf("%s lists %d certificates after an issue cut off at its certificate; want %d", StateFile, len(after.Issued), len(before.Issued)+1)
	}
}
