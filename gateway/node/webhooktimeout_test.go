package node

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestWebhookTimeoutIsTheNodesSetting: webhook.timeout defaults to 30s,
// the environment sets it, and the push gives up on a system after it and
// says so: not after a fixed 30s.
func TestWebhookTimeoutIsTheNodesSetting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(path, []byte(minimalConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want time.Duration
	}{
		{nil, 30 * time.Second},
		{map[string]string{"LABORLINK_WEBHOOK_TIMEOUT": "90s"}, 90 * time.Second},
	} {
		cfg, err := LoadConfig(path, lookupIn(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Webhook.Timeout != tc.want {
			t.Errorf("with environment %v, webhook.timeout = %s, want %s", tc.env, cfg.Webhook.Timeout, tc.want)
		}
	}

	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // a system that never answers
		case <-r.Context().Done():
		case <-done:
		}
	}))
	defer srv.Close()
	defer close(done)
	n := pushingNode(t, pkitest.New(t, "laborlink.test", "51"), WebhookConfig{URL: srv.URL, Timeout: 100 * time.Millisecond})
	pkitest.Eventually(t, 10*time.Second, "the push to time out after webhook.timeout", func() bool {
		st, err := n.webhook.State()
		return err == nil && strings.Contains(st.LastError, "timed out") && strings.Contains(st.LastError, "within 100ms")
	})
}

// pushingNode returns node gw-1 of province 51, with a certificate from
// fed, whose inbox holds four items and whose push, set up by openWebhook
// with the webhook settings c (the defaults where zero), runs until the
// test ends.
func pushingNode(t *testing.T, fed *pkitest.PKI, c WebhookConfig) *Node {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "node.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var in []store.Incoming
	for i := range 4 {
		in = append(in, store.Incoming{EnvelopeID: fmt.Sprintf("01E%03d", i), From: "44", Type: "transfer", Envelope: []byte(`{}`), Record: []byte(`{}`), Receipt: []byte(`{}`)})
	}
	if _, err := s.Receive(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Province, cfg.Name = "51", "gw-1"
	cfg.Webhook.URL, cfg.Webhook.CA = c.URL, c.CA
	if c.Timeout != 0 {
		cfg.Webhook.Timeout = c.Timeout
	}
	leaf := fed.Issue(t, "51", pki.KindNode, "gw-1")
	cfg.TLS.Cert, cfg.TLS.Key = leaf.CertFile, leaf.KeyFile
	n := &Node{cfg: cfg, log: slog.New(slog.DiscardHandler), store: s, tls: fed.TLS(t, leaf, nil)}
	if err := n.openWebhook(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { n.webhook.Run(ctx); close(ran) }()
	t.Cleanup(func() { cancel(); <-ran })
	return n
}
