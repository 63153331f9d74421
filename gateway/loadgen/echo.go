package loadgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/laborlink/laborlink/gateway/api"
)

// EchoServer is the ceiling a gateway is measured against: the same mutual
// TLS 1.3 and HTTP/2 as a node, and nothing else: no validation, policy,
// signing or storage. It answers each request with its own body.
type EchoServer struct {
	URL string
	srv *http.Server
}

// StartEcho serves the echo on loopback with the given server TLS config.
func StartEcho(cfg *tls.Config) (*EchoServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read all before answering, as a node does: an HTTP/1.1 handler
		// that starts its response may no longer read the request's body.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}), TLSConfig: cfg}
	go srv.Serve(tls.NewListener(ln, cfg))
	return &EchoServer{URL: "https://" + ln.Addr().String(), srv: srv}, nil
}

// Close stops the echo server.
func (e *EchoServer) Close() error { return e.srv.Close() }

// EchoClient submits to an echo server in the local API's request shape.
type EchoClient struct {
	URL  string
	HTTP *http.Client
}

// Submit posts {"records": docs} and counts them accepted when echoed back.
func (c EchoClient) Submit(ctx context.Context, docs []json.RawMessage) (int, error) {
	body := api.BatchBody(docs) // as the gateway's client builds it
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/api/v1/records", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK || len(got) != len(body) {
		return 0, fmt.Errorf("echo answered %s with %d bytes", resp.Status, len(got))
	}
	return len(docs), nil
}

// NewHTTPClient is an HTTP/2 client with the given TLS config and enough
// connections for concurrent clients, changed by opts as the gateway's
// clients are (api.HTTP1).
func NewHTTPClient(cfg *tls.Config, opts ...api.ClientOption) *http.Client {
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64}
	for _, o := range opts {
		o(tr)
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: tr}
}
