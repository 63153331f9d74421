package node

import (
	"context"
	"log/slog"
	"net"
	"strings"
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

// TestOpenNamesTheListenerItCannotBind: a listener whose address is taken
// fails Open with an error that starts with its setting, raft.listen
// (bound by the registry) like the others, as docs/configuration.md says
// of start-up problems.
func TestOpenNamesTheListenerItCannotBind(t *testing.T) {
	n, _ := singleNode(t)
	cfg := n.cfg
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key string
		set func(*Config, string)
	}{
		{"listen", func(c *Config, a string) { c.Listen = a }},
		{"raft.listen", func(c *Config, a string) { c.Raft.Listen = a }},
		{"ops_listen", func(c *Config, a string) { c.OpsListen = a }},
	} {
		t.Run(tt.key, func(t *testing.T) {
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			c := cfg
			tt.set(&c, taken.Addr().String())
			n, err := Open(context.Background(), c, slog.New(slog.DiscardHandler))
			if err == nil {
				n.Close()
				t.Fatalf("opened with %s taken", tt.key)
			}
			if !strings.HasPrefix(err.Error(), tt.key+": ") || !strings.Contains(err.Error(), taken.Addr().String()) {
				t.Errorf("Open: %v; want an error starting with %q and naming %s", err, tt.key+": ", taken.Addr())
			}
		})
	}
}
