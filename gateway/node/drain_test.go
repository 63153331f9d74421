package node

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
)

// TestCloseCutsARequestPastTheDrain: a request still in flight when the
// drain time is up is cut, and Close reports no error: the node stopped as
// it should, and an error made it exit 1, which systemd records as a
// failed stop.
func TestCloseCutsARequestPastTheDrain(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-release:
		case <-r.Context().Done(): // the connection cut
		}
	})}
	go srv.Serve(ln)
	go http.Get("http://" + ln.Addr().String())
	<-started

	logs := &gatewaytest.Buffer{}
	n := &Node{log: slog.New(slog.NewTextHandler(logs, nil)), server: srv, ln: ln, drain: 50 * time.Millisecond}
	if err := n.Close(); err != nil {
		t.Errorf("Close with a request past the drain: %v; want nil, the request cut", err)
	}
	if !strings.Contains(logs.String(), "cut") {
		t.Errorf("no warning that a request was cut:\n%s", logs)
	}
}
