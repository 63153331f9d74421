//go:build unix

package node

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCheckFilesOpensEachFile: a file that is there but cannot be read is
// named by its key, as a missing one is. A socket stands for it, since no
// one, root included, can open one as a file; a named pipe, which can be
// read once a writer comes, is let through without waiting for one.
func TestCheckFilesOpensEachFile(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "p51.crl")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fifo := filepath.Join(dir, "genesis.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	readable := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(readable, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		TLS:  TLSConfig{Root: readable, CRLs: []string{readable, sock}},
		Raft: RaftConfig{Genesis: fifo},
	}
	err = cfg.CheckFiles()
	if want := "tls.crls[1]: open " + sock; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("CheckFiles = %v; want it to say %q", err, want)
	}
	for _, key := range []string{"tls.root", "tls.crls[0]", "raft.genesis"} {
		if strings.Contains(err.Error(), key+":") {
			t.Errorf("CheckFiles names %s, which can be read: %v", key, err)
		}
	}
}
