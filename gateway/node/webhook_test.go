package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/devfed"
	"github.com/laborlink/laborlink/gateway/node"
	"github.com/laborlink/laborlink/gateway/webhook"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestWebhookPushesTheInboxAndReportsIt runs a federation whose nodes push
// their inboxes to one provincial system: every item arrives, and each
// node's status shows the push caught up, with the URL's credentials left
// out and nothing skipped; the metrics carry the push's gauges and skip
// count, and the deliveries by peer and record type.
func TestWebhookPushesTheInboxAndReportsIt(t *testing.T) {
	var mu sync.Mutex
	got := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b webhook.Batch
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, it := range b.Items {
			got[it.EnvelopeID] = true
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/inbox?token=s3cret")
	u.User = url.UserPassword("hr", "pa55")
	ctx := context.Background()
	f, err := devfed.Start(ctx, devfed.Options{Dir: t.TempDir(), Tune: func(c *node.Config) {
		c.Webhook.URL, c.OpsListen = u.String(), "127.0.0.1:0"
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Seed(ctx, 2); err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Provinces {
		cl, err := f.APIClient(p, f.Certs[p].Operator)
		if err != nil {
			t.Fatal(err)
		}
		var st node.Status
		pkitest.Eventually(t, 20*time.Second, "node "+p+" pushed its whole inbox", func() bool {
			st = node.Status{}
			err := cl.Get(ctx, "/api/v1/status", &st)
			return err == nil && st.Webhook != nil && st.Webhook.Pending == 0 && st.Webhook.Pushed > 0
		})
		if w := st.Webhook; w.URL != srv.URL+"/inbox" || w.Failures != 0 || w.LastPush.IsZero() || w.Skipped != 0 || w.LastSkipped != nil {
			t.Errorf("node %s: webhook status %+v, want the URL without credentials, no failures or skips and a last push", p, w)
		}
		// The gauges are sampled every two seconds.
		pkitest.Eventually(t, 10*time.Second, "node "+p+"'s webhook gauges at 0", func() bool {
			metrics := node.Get(t, "http://"+f.Nodes[p].OpsAddr()+"/metrics")
			return strings.Contains(metrics, "\nlaborlink_webhook_pending 0\n") && strings.Contains(metrics, "\nlaborlink_webhook_failures 0\n") &&
				strings.Contains(metrics, "\nlaborlink_webhook_skipped_total 0\n")
		})
	}
	for _, dest := range []string{"44", "33"} {
		want := `laborlink_delivered_total{outcome="stored",peer="` + dest + `",type="transfer"} 2`
		pkitest.Eventually(t, 5*time.Second, "the origin's metrics to show "+want, func() bool {
			return strings.Contains(node.Get(t, "http://"+f.Nodes["51"].OpsAddr()+"/metrics"), want)
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(f.Traffic.Transfers) + len(f.Traffic.Confirmations); len(got) < n {
		t.Errorf("the system received %d items, want at least the %d transfers and confirmations", len(got), n)
	}
}
