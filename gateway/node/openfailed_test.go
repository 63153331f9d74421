package node

import (
	"context"
	"log/slog"
	"net"
	"testing"
)

// TestFailedOpenReleasesTheAPIListener: an Open that fails after binding
// the API address (here at ops_listen, taken) leaves it free, so that the
// node can be opened again in the same process.
func TestFailedOpenReleasesTheAPIListener(t *testing.T) {
	n, _ := singleNode(t)
	cfg := n.cfg
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg.OpsListen = taken.Addr().String()
	if n, err := Open(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		n.Close()
		t.Fatal("opened with ops_listen taken")
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatalf("after a failed Open the API address %s is still bound: %v", cfg.Listen, err)
	}
	ln.Close()
}
