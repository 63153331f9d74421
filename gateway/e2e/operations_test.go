package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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

// value is the sum of the series of fam whose labels include labels
// ("peer", "44", ...): counters' and gauges' values, histograms' counts;
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
		ok = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return v, ok
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
