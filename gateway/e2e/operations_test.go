package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/node"
)

// withOps gives every node an ops listener (/healthz, /readyz, /metrics)
// on a free loopback port.
func withOps(cfg *node.Config) { cfg.OpsListen = "127.0.0.1:0" }

// opsGet reads path from province's ops listener: its status code and body.
func (f *federation) opsGet(province, path string) (int, string) {
	f.t.Helper()
	resp, err := http.Get("http://" + f.Nodes[province].OpsAddr() + path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// metrics scrapes province's /metrics, checks the scrape holds no personal
// data, and returns its families by name.
func (f *federation) metrics(province string) map[string]*dto.MetricFamily {
	f.t.Helper()
	code, text := f.opsGet(province, "/metrics")
	if code != http.StatusOK {
		f.t.Fatalf("metrics of %s: %d %s", province, code, text)
	}
	gatewaytest.NoPersonalData(f.t, "the metrics of node "+province, text)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		f.t.Fatal(err)
	}
	return fams
}

// value is the value of the series of fam whose labels include labels
// ("peer", "44", ...): a counter's or gauge's value, a histogram's count;
// ok is false when there is no such series.
func value(fams map[string]*dto.MetricFamily, fam string, labels ...string) (v float64, ok bool) {
	mf := fams[fam]
	if mf == nil {
		return 0, false
	}
series:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// nodeStatus is what `laborlink status` shows of province's node, read as
// its operator.
func (f *federation) nodeStatus(province string) node.Status {
	f.t.Helper()
	raw, err := f.client(province, f.Certs[province].Operator).Status(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	var st node.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		f.t.Fatal(err)
	}
	return st
}

// TestOperationsFollowAnOutage: the origin's metrics and status show what
// crossed, to whom, how long delivery took and what each decision cost;
// while 44 is down, its queue and its open breaker; once 44 is back, the
// queue gone and the breaker closed.
func TestOperationsFollowAnOutage(t *testing.T) {
	f := start(t, withOps)
	g := f.gens["44"]
	recs := []any{g.Transfer(), g.Transfer(), g.Transfer()}
	for i, r := range f.submit("51", recs...) {
		if r.Outcome != exchange.OutcomeAccepted {
			t.Fatalf("transfer %d: %+v", i, r)
		}
	}
	gatewaytest.Eventually(t, "the three transfers delivered and 44's breaker reported closed", func() bool {
		m := f.metrics("51")
		delivered, _ := value(m, "laborlink_delivered_total", "peer", "44", "type", "transfer", "outcome", "stored")
		state, ok := value(m, "laborlink_breaker_state", "peer", "44")
		return delivered == 3 && ok && state == 0
	})
	m := f.metrics("51")
	for _, c := range []struct {
		fam     string
		labels  []string
		atLeast float64
	}{
		{"laborlink_submitted_total", []string{"type", "transfer", "peer", "44", "outcome", "accepted"}, 3},
		{"laborlink_delivery_seconds", []string{"peer", "44"}, 1},
		{"laborlink_policy_decision_seconds", []string{"side", "export"}, 3},
	} {
		if v, _ := value(m, c.fam, c.labels...); v < c.atLeast {
			t.Errorf("51's %s%v is %v, want at least %v", c.fam, c.labels, v, c.atLeast)
		}
	}
	if v, _ := value(f.metrics("44"), "laborlink_policy_decision_seconds", "side", "import"); v < 3 {
		t.Errorf("44's import decisions counted %v, want at least 3", v)
	}

	f.stop("44")
	for i, r := range f.submit("51", g.Transfer(), g.Transfer()) {
		if r.Outcome != exchange.OutcomeAccepted {
			t.Fatalf("transfer %d while 44 is down: %+v", i, r)
		}
	}
	gatewaytest.Eventually(t, "51 to show two queued for 44 and 44's breaker open", func() bool {
		m := f.metrics("51")
		depth, _ := value(m, "laborlink_outbox_depth", "peer", "44")
		state, _ := value(m, "laborlink_breaker_state", "peer", "44")
		return depth == 2 && state == 2
	})
	st := f.nodeStatus("51")
	if st.Queues["44"] != 2 || st.Breakers["44"] != "open" {
		t.Errorf("status while 44 is down: queues %v, breakers %v; want 2 queued for 44 and its breaker open", st.Queues, st.Breakers)
	}
	if failed, _ := value(f.metrics("51"), "laborlink_delivery_failures_total", "peer", "44"); failed == 0 {
		t.Error("no failed delivery to 44 counted while it was down")
	}

	f.restart("44")
	gatewaytest.Eventually(t, "51's queue for 44 gone and its breaker closed", func() bool {
		m := f.metrics("51")
		_, queued := value(m, "laborlink_outbox_depth", "peer", "44")
		state, _ := value(m, "laborlink_breaker_state", "peer", "44")
		return !queued && state == 0
	})
	st = f.nodeStatus("51")
	if st.Queues["44"] != 0 || st.Breakers["44"] != "closed" {
		t.Errorf("status after 44 came back: queues %v, breakers %v", st.Queues, st.Breakers)
	}
	if v, _ := value(f.metrics("51"), "laborlink_delivered_total", "peer", "44", "type", "transfer", "outcome", "stored"); v != 5 {
		t.Errorf("51 counts %v transfers stored by 44, want 5", v)
	}
}

// TestReadinessFollowsTheRegistry: a node whose registry replica has lost
// its quorum reports itself not ready, with the reason, while staying
// healthy; it is ready again once the quorum is back.
func TestReadinessFollowsTheRegistry(t *testing.T) {
	f := start(t, withOps)
	for _, p := range []string{"51", "44"} {
		if code, body := f.opsGet(p, "/readyz"); code != http.StatusOK {
			t.Fatalf("%s not ready at the start: %d %s", p, code, body)
		}
	}
	f.stop("44")
	f.stop("33")
	var body string
	gatewaytest.Eventually(t, "51 to report itself not ready without a quorum", func() bool {
		var code int
		code, body = f.opsGet("51", "/readyz")
		return code == http.StatusServiceUnavailable
	})
	if strings.TrimSpace(body) == "" {
		t.Error("51's /readyz gives no reason")
	}
	if code, body := f.opsGet("51", "/healthz"); code != http.StatusOK {
		t.Errorf("51's /healthz without a quorum: %d %s; want 200, the process is alive", code, body)
	}
	f.restart("44")
	f.restart("33")
	gatewaytest.Eventually(t, "51 ready again with its quorum back", func() bool {
		code, _ := f.opsGet("51", "/readyz")
		return code == http.StatusOK
	})
}
