package node

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/pki/durable"
)

// stoppedSignedNode starts province 51's node, signs a head of its audit
// log, closes it, and returns its configuration, its key file's bytes and
// its verifier key file's.
func stoppedSignedNode(t *testing.T) (Config, []byte, []byte) {
	t.Helper()
	n, _ := singleNode(t)
	if _, err := n.audit.SignedHead(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	skey, err := os.ReadFile(n.cfg.Audit.Key)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := os.ReadFile(n.cfg.Audit.Key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return n.cfg, skey, vkey
}

// openRefused opens a node with cfg and wants it refused with an error
// that says each of want.
func openRefused(t *testing.T, cfg Config, want ...string) {
	t.Helper()
	n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		n.Close()
		t.Fatal("the node started")
	}
	for _, s := range want {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}

// wantFile fails unless path holds data, or is missing if data is nil.
func wantFile(t *testing.T, path string, data []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	switch {
	case data == nil && !errors.Is(err, os.ErrNotExist):
		t.Errorf("%s: %v, want no such file", path, err)
	case data != nil && !bytes.Equal(got, data):
		t.Errorf("%s holds %q (%v), want %q", path, got, err, data)
	}
}

// TestANodeThatLostItsAuditKeyRefusesToStart: a node whose audit log holds
// heads does not make a new checkpoint key in place of a missing one, which
// no head it signs from then on would verify with for its auditors: it
// refuses to start, naming the key file and what to do, and leaves the
// verifier key file as it was. With the key restored, it starts.
func TestANodeThatLostItsAuditKeyRefusesToStart(t *testing.T) {
	cfg, skey, vkey := stoppedSignedNode(t)
	if err := os.Remove(cfg.Audit.Key); err != nil {
		t.Fatal(err)
	}
	openRefused(t, cfg, cfg.Audit.Key, "restore")
	wantFile(t, cfg.Audit.Key, nil)
	wantFile(t, cfg.Audit.Key+".pub", vkey)

	if err := os.WriteFile(cfg.Audit.Key, skey, 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("with its key restored: %v", err)
	}
	defer n.Close()
	if _, err := n.audit.SignedHead(t.Context()); err != nil {
		t.Error(err)
	}
}

// TestANodeGivenAnotherAuditKeyRefusesToStart: a key file that is not the
// one the log's heads were signed with (another node's, a new one) is
// refused at start, naming the file.
func TestANodeGivenAnotherAuditKeyRefusesToStart(t *testing.T) {
	cfg, _, vkey := stoppedSignedNode(t)
	other, _, err := audit.GenerateKey(originOf(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Audit.Key, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	openRefused(t, cfg, cfg.Audit.Key, "another key")
	wantFile(t, cfg.Audit.Key+".pub", vkey)
}

// TestANewAuditKeyNeverReplacesAVerifierKey: a node whose log is empty
// makes a key where there is none, but not over a verifier key file
// already beside it, which auditors may hold.
func TestANewAuditKeyNeverReplacesAVerifierKey(t *testing.T) {
	cfg, _, vkey := stoppedSignedNode(t)
	cfg.DataDir = filepath.Join(t.TempDir(), "data") // an empty log
	if err := os.Remove(cfg.Audit.Key); err != nil {
		t.Fatal(err)
	}
	openRefused(t, cfg, cfg.Audit.Key+".pub")
	wantFile(t, cfg.Audit.Key, nil)
	wantFile(t, cfg.Audit.Key+".pub", vkey)
}

// TestAVerifierKeyFileOfAnotherKeyIsRefused: the .pub file beside the
// audit key is what auditors are given; one that holds another key (a
// stale copy, another node's) would have them refuse every head, so the
// node refuses to start, naming it, and starts once it holds the key's.
func TestAVerifierKeyFileOfAnotherKeyIsRefused(t *testing.T) {
	cfg, _, vkey := stoppedSignedNode(t)
	_, other, err := audit.GenerateKey(originOf(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.Audit.Key+".pub", []byte(other+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	openRefused(t, cfg, cfg.Audit.Key+".pub", "another key")
	if err := os.WriteFile(cfg.Audit.Key+".pub", vkey, 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("with the key's own verifier key file: %v", err)
	}
	n.Close()
}

// originOf is the log name of the node cfg configures, read from its
// verifier key file.
func originOf(t *testing.T, cfg Config) string {
	t.Helper()
	data, err := os.ReadFile(cfg.Audit.Key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	name, _, _ := strings.Cut(string(data), "+")
	return name
}

// TestANewAuditKeyIsOnDiskBeforeTheNodeStarts: a new audit key whose
// directory could not be synced may vanish in a crash after the log
// signed heads with it, and could not be made again; the node refuses to
// start rather than sign with it, leaves neither file, and makes both at
// the next start.
func TestANewAuditKeyIsOnDiskBeforeTheNodeStarts(t *testing.T) {
	cfg, _, _ := stoppedSignedNode(t)
	cfg.DataDir = filepath.Join(t.TempDir(), "data") // an empty log
	for _, f := range []string{cfg.Audit.Key, cfg.Audit.Key + ".pub"} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	keyDir := filepath.Dir(cfg.Audit.Key)
	errSync := errors.New("directory sync failed")
	restore := durable.SetSyncForTest(func(f *os.File) error {
		if f.Name() == keyDir {
			return errSync
		}
		return f.Sync()
	})
	openRefused(t, cfg, "audit.key", errSync.Error())
	restore()
	wantFile(t, cfg.Audit.Key, nil)
	wantFile(t, cfg.Audit.Key+".pub", nil)

	n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("with the directory synced: %v", err)
	}
	n.Close()
	for _, f := range []string{cfg.Audit.Key, cfg.Audit.Key + ".pub"} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
}
