package e2e

import (
	"context"
	"net/url"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
)

// sentDigests are the payload digests (hex) province's audit log holds
// for the envelopes it sent, by envelope id, as its auditor reads them.
func (f *federation) sentDigests(province string) map[string]string {
	f.t.Helper()
	es, err := f.client(province, f.Certs[province].Auditor).AuditEntries(context.Background(), url.Values{"kind": {"sent"}})
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range es {
		out[e.EnvelopeID] = "sha256:" + e.PayloadDigest.String()
	}
	return out
}

// TestADestinationDownGetsEveryRecordOnceWhenBack: with 44's node down,
// 51 keeps accepting transfers for 44; its operator sees the breaker for
// 44 open and the transfers queued for 44, in its status and its metrics.
// When 44 comes back every transfer is delivered exactly once: 51 holds a
// receipt for each, 44's inbox holds each envelope once and nothing else,
// and the payload digest is the same in 51's audit log, in the receipt 51
// holds, in the envelope 44 stored and in the receipt 44 stored; the
// metrics show the queue gone, the breaker closed, and what crossed.
func TestADestinationDownGetsEveryRecordOnceWhenBack(t *testing.T) {
	const n = 12
	f := start(t, withOps)
	ctx := context.Background()
	f.stop("44")

	g := f.gens["44"]
	recs := make([]any, n)
	for i := range recs {
		recs[i] = g.Transfer()
	}
	want := map[string]bool{}
	for i, res := range f.submit("51", recs...) {
		if res.Outcome != exchange.OutcomeAccepted {
			t.Fatalf("transfer %d with 44 down: %+v; want it accepted", i, res)
		}
		want[res.EnvelopeID] = true
	}
	if len(want) != n {
		t.Fatalf("%d envelope ids for %d transfers", len(want), n)
	}

	// Read together, as the breaker half-opens every BreakerOpen to probe
	// 44; in the gauge, gobreaker's open state is 2.
	gatewaytest.Eventually(t, "51's operator to see the breaker for 44 open, in its status and metrics, and its transfers queued", func() bool {
		st, m := f.nodeStatus("51"), f.metrics("51")
		depth, _ := value(m, "laborlink_outbox_depth", "peer", "44")
		state, _ := value(m, "laborlink_breaker_state", "peer", "44")
		return st.Breakers["44"] == "open" && st.Queues["44"] == n && depth == n && state == 2
	})
	if failed, _ := value(f.metrics("51"), "laborlink_delivery_failures_total", "peer", "44"); failed == 0 {
		t.Error("51 counts no failed delivery to 44 while 44 is down")
	}

	f.restart("44")
	origin := f.system("51")
	views := map[string]exchange.RecordView{}
	gatewaytest.Eventually(t, "every transfer delivered to 44 with a receipt", func() bool {
		for id := range want {
			v, err := origin.Record(ctx, id)
			if err != nil || v.State != store.StateDelivered || len(v.Receipt) == 0 {
				return false
			}
			views[id] = v
		}
		return true
	})
	gatewaytest.Eventually(t, "51's operator to see the breaker for 44 closed and its queue empty", func() bool {
		st, m := f.nodeStatus("51"), f.metrics("51")
		_, queued := value(m, "laborlink_outbox_depth", "peer", "44")
		state, _ := value(m, "laborlink_breaker_state", "peer", "44")
		return st.Breakers["44"] == "closed" && st.Queues["44"] == 0 && !queued && state == 0
	})
	// What crossed, to whom, how long delivery took and what each decision
	// cost, at both ends.
	origin51, dest44 := f.metrics("51"), f.metrics("44")
	for _, c := range []struct {
		node    string
		fams    map[string]*dto.MetricFamily
		fam     string
		labels  []string
		atLeast float64
	}{
		{"51", origin51, "laborlink_submitted_total", []string{"type", "transfer", "peer", "44", "outcome", "accepted"}, n},
		{"51", origin51, "laborlink_delivered_total", []string{"type", "transfer", "peer", "44", "outcome", "stored"}, n},
		{"51", origin51, "laborlink_delivery_seconds", []string{"peer", "44"}, 1},
		{"51", origin51, "laborlink_policy_decision_seconds", []string{"side", "export"}, n},
		{"44", dest44, "laborlink_policy_decision_seconds", []string{"side", "import"}, n},
	} {
		if v, _ := value(c.fams, c.fam, c.labels...); v < c.atLeast {
			t.Errorf("%s's %s%v is %v, want at least %v", c.node, c.fam, c.labels, v, c.atLeast)
		}
	}

	items := f.inboxAfter("44", 0)
	seen := map[string]int{}
	for _, it := range items {
		seen[it.EnvelopeID]++
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("44's inbox holds envelope %s %d times; want once", id, seen[id])
		}
	}
	if len(items) != n || len(seen) != n {
		t.Errorf("44's inbox holds %d items of %d envelopes; want the %d transfers", len(items), len(seen), n)
	}

	sent := f.sentDigests("51")
	for _, it := range items {
		if !want[it.EnvelopeID] {
			t.Errorf("44's inbox holds envelope %s, which 51 did not send", it.EnvelopeID)
			continue
		}
		env, err := contracts.DecodeEnvelope(it.Envelope)
		if err != nil {
			t.Fatalf("the envelope 44 stored for %s: %v", it.EnvelopeID, err)
		}
		if env.PayloadDigest == "" {
			t.Fatalf("the envelope 44 stored for %s has no payload digest", it.EnvelopeID)
		}
		digests := map[string]string{
			"51's audit log":        sent[it.EnvelopeID],
			"the receipt 51 holds":  receiptOf(t, views[it.EnvelopeID].Receipt).PayloadDigest,
			"the receipt 44 stored": receiptOf(t, it.Receipt).PayloadDigest,
		}
		for where, d := range digests {
			if d != env.PayloadDigest {
				t.Errorf("envelope %s: the payload digest in %s is %q; the envelope 44 stored has %q", it.EnvelopeID, where, d, env.PayloadDigest)
			}
		}
		if env.ID != it.EnvelopeID {
			t.Errorf("44's inbox item %s holds envelope %s", it.EnvelopeID, env.ID)
		}
	}
}
