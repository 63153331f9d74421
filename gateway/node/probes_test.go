package node

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
)

// probe answers the status and body of a GET of one of the node's ops paths.
func probe(t *testing.T, n *Node, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + n.OpsAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestReadyzFailsWhileTheAPIDrains: once Close has begun, a load balancer
// asking /readyz is told to send traffic elsewhere while the requests in
// flight finish; /healthz stays ok, since nothing needs restarting.
func TestReadyzFailsWhileTheAPIDrains(t *testing.T) {
	n, p := singleNode(t)
	cfg, err := p.TLS(p.Issue("51", pki.KindSystem, "hr")).ClientConfig(pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", n.Addr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A submission whose body is still coming: the server answers
	// "100 Continue" as its handler starts reading, so the request is in
	// flight, and Close waits for it, until the connection ends.
	fmt.Fprintf(conn, "POST /api/v1/records HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n", n.Addr())
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, "100") {
		t.Fatalf("awaiting 100 Continue: %q, %v", status, err)
	}

	closed := make(chan error, 1)
	go func() { closed <- n.Close() }()
	gatewaytest.Eventually(t, "/readyz failing during shutdown", func() bool {
		code, _ := probe(t, n, "/readyz")
		return code == http.StatusServiceUnavailable
	})
	if code, body := probe(t, n, "/readyz"); !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz during shutdown: %d %q, want it to say the node is shutting down", code, body)
	}
	if code, body := probe(t, n, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz during shutdown: %d %q, want 200", code, body)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a request in flight", err)
	default:
	}
	conn.Close()
	if err := <-closed; err != nil {
		t.Errorf("close: %v", err)
	}
}

// TestProbesFailWhenTheAPIServerStops: a node whose API listener failed
// serves nothing a system or peer asks, so /healthz (restart it) and
// /readyz (send no traffic) fail, naming the API server.
func TestProbesFailWhenTheAPIServerStops(t *testing.T) {
	n, _ := singleNode(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := probe(t, n, path); code != http.StatusOK {
			t.Fatalf("%s before: %d %q", path, code, body)
		}
	}
	n.ln.Close() // as a listener failing under the server would
	gatewaytest.Eventually(t, "/healthz failing", func() bool {
		code, _ := probe(t, n, "/healthz")
		return code == http.StatusServiceUnavailable
	})
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := probe(t, n, path); code != http.StatusServiceUnavailable || !strings.Contains(body, "API server") || !strings.Contains(body, "stopped") {
			t.Errorf("%s after the API server stopped: %d %q, want 503 naming the API server", path, code, body)
		}
	}
	if err := n.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
