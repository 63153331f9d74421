//go:build unix

package node

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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

// TestCheckFilesLeavesANamedPipeToTheNode: a one-shot writer on a named
// pipe (mkfifo; cmd > pipe &) hands its bytes to the first reader; the
// check must not be that reader, or the node's own read finds the pipe
// empty and waits for good.
func TestCheckFilesLeavesANamedPipeToTheNode(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "genesis.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	writer := make(chan error, 1)
	opening := make(chan struct{})
	go func() {
		close(opening)
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for a reader
		if err == nil {
			_, err = f.Write([]byte(`{"genesis":true}`))
			f.Close()
		}
		writer <- err
	}()
	<-opening
	time.Sleep(50 * time.Millisecond) // for the writer to be waiting in open: without, the test passes either way
	if err := (Config{Raft: RaftConfig{Genesis: fifo}}).CheckFiles(); err != nil {
		t.Fatalf("CheckFiles = %v", err)
	}
	got := make(chan []byte, 1)
	go func() { b, _ := os.ReadFile(fifo); got <- b }()
	select {
	case b := <-got:
		if string(b) != `{"genesis":true}` {
			t.Errorf("the node read %q from the pipe", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the node's read of the pipe waits: the check took the writer's bytes")
	}
	if err := <-writer; err != nil {
		t.Errorf("the pipe's writer: %v", err)
	}
}
