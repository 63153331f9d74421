package node

import (
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// series counts the series a collector has now.
func series(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 16)
	c.Collect(ch)
	close(ch)
	return len(ch)
}

func TestSetByPeerKeepsSeriesAndDropsGonePeers(t *testing.T) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "depth", Help: "h"}, []string{"peer"})
	shown := map[string]bool{}
	setByPeer(g, map[string]int{"44": 1, "33": 2}, shown)
	setByPeer(g, map[string]int{"44": 3}, shown)
	if n := series(g); n != 1 {
		t.Errorf("%d series after 33's queue emptied, want 1", n)
	}
	var m dto.Metric
	if err := g.WithLabelValues("44").Write(&m); err != nil || m.GetGauge().GetValue() != 3 {
		t.Errorf("44's depth %v (%v), want 3", m.GetGauge().GetValue(), err)
	}

	// A scrape while the gauge is set again never finds it empty.
	var empty atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			if series(g) == 0 {
				empty.Add(1)
			}
		}
	}()
	for {
		select {
		case <-done:
			if n := empty.Load(); n > 0 {
				t.Errorf("%d of 2000 scrapes found no series while one peer stayed queued", n)
			}
			return
		default:
			setByPeer(g, map[string]int{"44": 3}, shown)
		}
	}
}
