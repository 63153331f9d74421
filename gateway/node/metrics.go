package node

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sony/gobreaker/v2"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/gateway/webhook"
)

// metrics are the node's Prometheus metrics, on a registry of their own (no
// global state). Labels are provinces, record types and codes: never
// anything from a record's content.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.HistogramVec
	delivered *prometheus.CounterVec
	failures  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	queue     *prometheus.GaugeVec
	dead      *prometheus.GaugeVec
	submitted *prometheus.CounterVec
	decisions *prometheus.HistogramVec
	// decisionsBy are decisions' series by side (export, import), then
	// uncached and cached, looked up once: a node times every decision.
	decisionsBy [2][2]prometheus.Observer
	// webhookPending and webhookFailures are sampled from the inbox push,
	// when one is configured.
	webhookPending, webhookFailures prometheus.Gauge
	// inboxPruned counts inbox entries whose envelope and record retention
	// dropped.
	inboxPruned prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "laborlink_http_request_seconds", Help: "API requests by path and status.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"path", "code"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "laborlink_delivered_total", Help: "Envelopes answered by a peer, by peer, record type and outcome (stored, rejected).",
		}, []string{"peer", "type", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "laborlink_delivery_failures_total", Help: "Batches that failed to reach a peer.",
		}, []string{"peer"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "laborlink_delivery_seconds", Help: "Time to deliver one batch, by peer.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"peer"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "laborlink_outbox_depth", Help: "Envelopes waiting for delivery, by peer.",
		}, []string{"peer"}),
		dead: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "laborlink_dead_letters", Help: "Envelopes delivery gave up on and keeps until an operator requeues or discards them, by peer.",
		}, []string{"peer"}),
	}
	m.submitted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "laborlink_submitted_total", Help: "Records submitted on the local API, by record type, destination province (peer; unknown when unreadable) and outcome (accepted, duplicate, denied, invalid, forbidden, unavailable).",
	}, []string{"type", "peer", "outcome"})
	m.decisions = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "laborlink_policy_decision_seconds", Help: "Policy decisions by side (export, import) and whether the decision cache answered.",
		Buckets: prometheus.ExponentialBuckets(0.000002, 2, 16),
	}, []string{"side", "cached"})
	for i, side := range []policy.Side{policy.Export, policy.Import} {
		for j, cached := range []bool{false, true} {
			m.decisionsBy[i][j] = m.decisions.WithLabelValues(string(side), strconv.FormatBool(cached))
		}
	}
	m.webhookPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "laborlink_webhook_pending", Help: "Inbox items not yet acknowledged by the provincial system's webhook.",
	})
	m.webhookFailures = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "laborlink_webhook_failures", Help: "Failed webhook pushes since the last one that succeeded.",
	})
	m.inboxPruned = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "laborlink_inbox_pruned_total", Help: "Inbox entries whose envelope and record were dropped after inbox.retention.",
	})
	m.reg.MustRegister(m.requests, m.delivered, m.failures, m.latency, m.queue, m.dead, m.submitted, m.decisions, m.webhookPending, m.webhookFailures, m.inboxPruned,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// instrument times requests by route prefix (not full path: paths carry ids).
func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.requests.WithLabelValues(route(r.URL.Path), strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}

// route is the metrics label of a path: one of the API's route families
// ("/api/v1/records" for /api/v1/records/01J...), or "other", so that
// callers cannot grow the label set (or write into it) with made-up paths.
func route(path string) string {
	for _, r := range routeFamilies {
		if path == r || strings.HasPrefix(path, r+"/") {
			return r
		}
	}
	return "other"
}

// routeFamilies are the labels route may give: the paths of the local and
// peer APIs' routes up to their first parameter, longest first, so that a
// path is labelled with the most specific family it falls in.
var routeFamilies = func() []string {
	var fams []string
	for _, r := range append(slices.Clone(api.Routes), "POST "+peer.Path, "GET "+peer.AuditPath) {
		_, path, _ := strings.Cut(r, " ")
		path, _, _ = strings.Cut(path, "/{")
		if !slices.Contains(fams, path) {
			fams = append(fams, path)
		}
	}
	slices.SortStableFunc(fams, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return fams
}()

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// submittedResults counts a submission's outcomes by record type, read from
// each result's reference (from/type/id), and destination.
func (m *metrics) submittedResults(results []exchange.SubmitResult) {
	var run labelRun
	for _, r := range results {
		typ := "unknown"
		if parts := strings.SplitN(r.Ref, "/", 3); len(parts) == 3 {
			typ = parts[1]
		}
		run.add(m.submitted, typ, cmp.Or(r.Destination, "unknown"), string(r.Outcome))
	}
	run.flush(m.submitted)
}

// labelRun counts a run of equal label values and adds it to its counter
// at once: the records of a batch mostly share their labels, and looking a
// counter up by its labels costs more than the increment.
type labelRun struct {
	labels [3]string
	n      int
}

// add counts one for the labels, first adding the run before them to c if
// they differ.
func (r *labelRun) add(c *prometheus.CounterVec, a, b, d string) {
	labels := [3]string{a, b, d}
	if r.n > 0 && labels == r.labels {
		r.n++
		return
	}
	r.flush(c)
	r.labels, r.n = labels, 1
}

// flush adds the run to its counter.
func (r *labelRun) flush(c *prometheus.CounterVec) {
	if r.n > 0 {
		c.WithLabelValues(r.labels[:]...).Add(float64(r.n))
		r.n = 0
	}
}

// decided times a policy decision.
func (m *metrics) decided(side policy.Side, took time.Duration, cached bool) {
	m.decisionsBy[oneIf(side == policy.Import)][oneIf(cached)].Observe(took.Seconds())
}

func oneIf(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Delivered counts a delivered batch.
func (m *metrics) Delivered(peer string, outcomes []delivery.Outcome, batch []store.Queued, d time.Duration) {
	types := make(map[string]contracts.RecordType, len(batch))
	for _, q := range batch {
		types[q.EnvelopeID] = contracts.EnvelopeType(q.Envelope)
	}
	var run labelRun
	for _, o := range outcomes {
		outcome := "stored"
		if o.Rejected {
			outcome = "rejected"
		}
		run.add(m.delivered, peer, string(cmp.Or(types[o.EnvelopeID], "unknown")), outcome)
	}
	run.flush(m.delivered)
	m.latency.WithLabelValues(peer).Observe(d.Seconds())
}

// Failed counts a failed batch.
func (m *metrics) Failed(peer string, _ error) { m.failures.WithLabelValues(peer).Inc() }

// breakerStates reports each peer's breaker state as the breaker holds it
// when scraped, so the gauge is never behind the breaker nor written back
// to an old state. A peer has a series from its first delivery, when its
// breaker is made, and reads 0 while the breaker has never opened.
type breakerStates func() map[string]gobreaker.State

var breakerDesc = prometheus.NewDesc("laborlink_breaker_state", "Circuit breaker state by peer: 0 closed, 1 half-open, 2 open.", []string{"peer"}, nil)

func (breakerStates) Describe(ch chan<- *prometheus.Desc) { ch <- breakerDesc }

func (states breakerStates) Collect(ch chan<- prometheus.Metric) {
	for p, st := range states() {
		ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, float64(st), p)
	}
}

// deferredByPeer reports, when scraped, how many envelopes each peer
// deferred wait for their own retry (delivery.PeerState.Deferred): a
// deferral is no failure of the envelope, and a peer that defers for long
// shows here. A peer deferring more than a batch's worth at once is backed
// off from as after a failure, and laborlink_delivery_failures_total
// counts that.
type deferredByPeer func() []delivery.PeerState

var deferredDesc = prometheus.NewDesc("laborlink_delivery_deferred", "Envelopes a peer deferred (it could not decide them yet), waiting for their own retry, by peer.", []string{"peer"}, nil)

func (deferredByPeer) Describe(ch chan<- *prometheus.Desc) { ch <- deferredDesc }

func (peers deferredByPeer) Collect(ch chan<- prometheus.Metric) {
	for _, p := range peers() {
		ch <- prometheus.MustNewConstMetric(deferredDesc, prometheus.GaugeValue, float64(p.Deferred), p.Peer)
	}
}

// breakerChanged logs a breaker's change of state; the gauge reads the
// breakers themselves (breakerStates).
func breakerChanged(log *slog.Logger) func(string, gobreaker.State, gobreaker.State) {
	return func(peer string, from, to gobreaker.State) {
		log.Warn("circuit breaker", "peer", peer, "from", from.String(), "to", to.String())
	}
}

// setByPeer sets g's series of each peer counted and deletes those of the
// peers in shown no longer counted; shown is then the peers counted.
// Resetting g first would leave a moment with no series at all, and a
// scrape then would see every queue gone (alerts on them resolving and
// firing again).
func setByPeer(g *prometheus.GaugeVec, counts map[string]int, shown map[string]bool) {
	for p := range shown {
		if _, ok := counts[p]; !ok {
			g.DeleteLabelValues(p)
			delete(shown, p)
		}
	}
	for p, n := range counts {
		g.WithLabelValues(p).Set(float64(n))
		shown[p] = true
	}
}

// sampleGauges samples, every 2 s, the outbox depth, the dead letters and,
// with a webhook, the inbox push for the gauges; with a webhook it also
// registers the push's skip count.
func (m *metrics) sampleGauges(ctx context.Context, s *store.Store, push *webhook.Pusher) {
	if push != nil {
		m.reg.MustRegister(webhookSkipped(push))
	}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	queued, dead := map[string]bool{}, map[string]bool{} // peers with series
	for {
		setByPeer(m.queue, s.Depth(), queued)
		setByPeer(m.dead, s.DeadLetterCounts(), dead)
		if push != nil {
			m.sampleWebhook(push)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sampleWebhook sets the push's gauges, keeping the last values if the
// store cannot be read. It reads only the two figures, not State, which
// reads the last skip and more besides.
func (m *metrics) sampleWebhook(push *webhook.Pusher) {
	if n, err := push.Pending(); err == nil {
		m.webhookPending.Set(float64(n))
	}
	m.webhookFailures.Set(float64(push.Failures()))
}

// webhookSkipped counts the items the push skipped, read from its durable
// count when scraped: a counter starting again from 0 at each restart would
// then jump back, which reads as that many new skips.
func webhookSkipped(push *webhook.Pusher) prometheus.CounterFunc {
	var last atomic.Uint64 // what a failed read answers, rather than a reset to 0
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "laborlink_webhook_skipped_total", Help: "Inbox items the provincial system refused alone for good, which the webhook skipped; they stay in the inbox.",
	}, func() float64 {
		if n, err := push.Skipped(); err == nil {
			last.Store(n)
		}
		return float64(last.Load())
	})
}
