package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/devfed"
	"github.com/laborlink/laborlink/gateway/node"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestInboxRetentionWaitsForTheWebhook: a node with inbox.retention drops
// the envelopes and records of entries older than it, but not of entries
// its webhook has not pushed yet, however old; a pruned entry keeps its
// position and receipt on the local API, the audit log holds a pruned
// entry for it, and the metrics count it.
func TestInboxRetentionWaitsForTheWebhook(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	defer open() // before srv.Close, which waits for its handlers
	ctx := context.Background()
	f, err := devfed.Start(ctx, devfed.Options{Dir: t.TempDir(), Tune: func(c *node.Config) {
		c.Webhook.URL, c.OpsListen, c.Inbox.Retention = srv.URL, "127.0.0.1:0", 30*24*time.Hour
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Seed(ctx, 2); err != nil {
		t.Fatal(err)
	}
	dest := f.Nodes["44"]
	cl, err := f.APIClient("44", f.Certs["44"].System) // reads the inbox
	if err != nil {
		t.Fatal(err)
	}
	ops, err := f.APIClient("44", f.Certs["44"].Operator) // reads the status
	if err != nil {
		t.Fatal(err)
	}
	var transfers int
	pkitest.Eventually(t, 20*time.Second, "node 44 received both transfers", func() bool {
		page, err := cl.Inbox(ctx, 0, 100)
		transfers = 0
		for _, m := range page.Items {
			if m.Type == "transfer" {
				transfers++
			}
		}
		return err == nil && transfers == 2
	})
	later := time.Now().Add(31 * 24 * time.Hour)

	dest.PruneInboxAt(ctx, later) // the webhook has pushed nothing yet
	page, err := cl.Inbox(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Items {
		if !m.PrunedAt.IsZero() || absent(m.Record) {
			t.Errorf("item %d pruned before the webhook pushed it: %+v", m.Seq, m)
		}
	}

	open()
	pkitest.Eventually(t, 20*time.Second, "node 44's webhook to push its inbox", func() bool {
		var st node.Status
		return ops.Get(ctx, "/api/v1/status", &st) == nil && st.Webhook != nil && st.Webhook.Pending == 0 && st.Webhook.Pushed > 0
	})
	dest.PruneInboxAt(ctx, later)
	page, err = cl.Inbox(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range page.Items {
		if m.Seq != uint64(i+1) || m.PrunedAt.IsZero() || !absent(m.Record) || !absent(m.Envelope) || absent(m.Receipt) {
			t.Errorf("item %d after retention: %+v; want its position and receipt, no envelope or record", i+1, m)
		}
	}
	auditor, err := f.APIClient("44", f.Certs["44"].Auditor)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := auditor.AuditEntries(ctx, url.Values{"kind": {"pruned"}})
	if err != nil || len(entries) != len(page.Items) {
		t.Fatalf("pruned audit entries = %d, %v; want one for each of the %d items", len(entries), err, len(page.Items))
	}
	for i, e := range entries {
		if m := page.Items[i]; e.EnvelopeID != m.EnvelopeID || string(e.Origin) != m.From || e.Destination != "44" || e.RecordType != m.Type {
			t.Errorf("pruned entry %d = %+v, want item %+v's envelope, origin and type at 44", i, e, m)
		}
	}
	if report, err := auditor.AuditVerify(ctx, nil); err != nil || !report.OK() {
		t.Errorf("audit verify after pruning = %+v, %v", report, err)
	}
	want := "\nlaborlink_inbox_pruned_total " + strconv.Itoa(len(page.Items)) + "\n"
	if metrics := node.Get(t, "http://"+dest.OpsAddr()+"/metrics"); !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %q", strings.TrimSpace(want))
	}
}

// absent is whether a document of an inbox item read from the API is
// missing: pruned documents are written as null.
func absent(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }
