package exchange

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/procstat"
	"github.com/laborlink/laborlink/gateway/store"
)

// BenchmarkReceive measures the destination's side alone: a peer request
// body of 100 batch-signed transfers read by the peer API's handler, each
// envelope checked and decided, the fresh ones stored with their receipts
// and audit entries. The origin seals and signs the batches beforehand, as
// its delivery worker would; one op is one record.
func BenchmarkReceive(b *testing.B) {
	f := newFederationWith(b, auditInStore, 100, "51", "44")
	f.agreement("51", "44")
	// The origin's worker finds no one at 44, so the envelopes wait in its
	// outbox to be signed here.
	f.dir.set("44", "https://127.0.0.1:1")
	origin, dest := f.nodes["51"], f.nodes["44"]
	const batch = 100
	// The records are delivered twice under different ids, untimed the
	// first time: the import decisions are then cached, as they are for
	// all but a few records of a long run.
	n := (b.N + batch - 1) / batch
	seed := benchRun.Add(1)
	all := deliverBodies(b, origin, append(transfersAs(b, "WARM", n, batch, seed), transfersAs(b, "BENCH", n, batch, seed)...))
	warm, bodies := all[:n], all[n:]
	h := peer.NewHandler(dest.x)
	ctx := auth.WithIdentity(context.Background(), origin.leaf.Identity)
	stored := []byte(`"status":"stored","receipt"`)
	deliver := func(body []byte) {
		req := httptest.NewRequest(http.MethodPost, peer.Path, bytes.NewReader(body)).WithContext(ctx)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || bytes.Count(w.Body.Bytes(), stored) != batch {
			b.Fatalf("answer %d: %.300s", w.Code, w.Body.Bytes())
		}
	}
	for _, body := range warm {
		deliver(body)
	}
	b.ReportAllocs()
	cpu0 := procstat.CPUTime()
	b.ResetTimer()
	// Labelled, so that a profile of the benchmark can leave out the
	// origin's work beforehand (-tagfocus side=receive).
	pprof.Do(ctx, pprof.Labels("side", "receive"), func(ctx context.Context) {
		for _, body := range bodies {
			deliver(body)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((procstat.CPUTime()-cpu0).Microseconds())/float64(len(bodies)*batch), "cpu-µs/record")
}

// BenchmarkCheck measures the checks of a request's envelopes alone, one
// request of 100 at a time on one goroutine: each envelope decoded, the
// request's batch proofs verified together, each envelope checked; the
// destination's work per envelope before storing, with nothing else on the
// clock. One op is one envelope.
func BenchmarkCheck(b *testing.B) {
	f := newFederationWith(b, auditInStore, 100, "51", "44")
	f.agreement("51", "44")
	f.dir.set("44", "https://127.0.0.1:1")
	origin, dest := f.nodes["51"], f.nodes["44"]
	const batch, n = 100, 20
	var reqs [][]json.RawMessage
	var chain [][]byte
	for _, body := range deliverBodies(b, origin, transfersAs(b, "CHECK", n, batch, benchRun.Add(1))) {
		var req peer.DeliverRequest
		if err := json.Unmarshal(body, &req); err != nil {
			b.Fatal(err)
		}
		reqs, chain = append(reqs, req.Envelopes), req.Chain
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	from := sender{id: origin.leaf.Identity, uri: origin.leaf.Identity.URI(), signer: origin.leaf.Identity.URI()}
	now := time.Now().UTC()
	// One verifier throughout, as before: the roots' signatures are checked
	// once, and BenchmarkReceive counts them.
	roots := contracts.NewRootVerifier(leaf.PublicKey)
	ins := make([]inbound, batch)
	openAll := func(envs []json.RawMessage) {
		for i, raw := range envs {
			ins[i] = open(raw, contracts.DecodedEnvelope{})
		}
		proveTogether(ins, roots)
	}
	for _, envs := range reqs { // decisions cached, as in a long run
		openAll(envs)
		for i := range ins {
			if !ins[i].proven {
				b.Fatalf("envelope %d not proven with its tree", i)
			}
			if res, ok := dest.x.check(ctx, from, roots, &ins[i], now, new(imported)); !ok {
				b.Fatalf("%s refused: %v", res.Status, res.Reasons)
			}
		}
	}
	b.ReportAllocs()
	i := 0
	var im imported
	for b.Loop() {
		k := i % batch
		if k == 0 {
			openAll(reqs[i/batch%len(reqs)])
		}
		dest.x.check(ctx, from, roots, &ins[k], now, &im)
		i++
	}
}

// transfersAs generates n requests of batch transfers of the 51 -> 44
// corridor, with ids made of prefix: the same records for the same seed.
func transfersAs(b *testing.B, prefix string, n, batch int, seed uint64) [][]json.RawMessage {
	b.Helper()
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: seed})
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([][]json.RawMessage, n)
	for k := range reqs {
		reqs[k] = make([]json.RawMessage, batch)
		for i := range reqs[k] {
			t := g.Transfer()
			t.ID = fmt.Sprintf("%s-%d-%07d", prefix, seed, k*batch+i)
			if reqs[k][i], err = json.Marshal(t); err != nil {
				b.Fatal(err)
			}
		}
	}
	return reqs
}

// deliverBodies submits the requests at origin and returns the peer request
// bodies its delivery worker would send to 44, one per request.
func deliverBodies(b *testing.B, origin *node, reqs [][]json.RawMessage) [][]byte {
	b.Helper()
	ctx := context.Background()
	for _, r := range reqs {
		res, err := origin.x.Submit(ctx, origin.system, r)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Outcome != OutcomeAccepted {
				b.Fatalf("record %d: %s %v %v", r.Index, r.Outcome, r.Problems, r.Reasons)
			}
		}
	}
	var chain [][]byte
	for _, c := range origin.x.signer().Chain() {
		chain = append(chain, c.Raw)
	}
	capture := &captureSender{}
	sign := origin.x.BatchSender(capture)
	taken := map[string]bool{}
	var bodies [][]byte
	for _, r := range reqs {
		q, err := origin.store.Pending("44", len(r), func(id string) bool { return taken[id] })
		if err != nil {
			b.Fatal(err)
		}
		if len(q) != len(r) {
			b.Fatalf("%d envelopes pending, want %d", len(q), len(r))
		}
		for _, e := range q {
			taken[e.EnvelopeID] = true
		}
		if _, err := sign.Send(ctx, "44", q); err != nil {
			b.Fatal(err)
		}
		req := peer.DeliverRequest{Chain: chain}
		for _, e := range capture.last {
			req.Envelopes = append(req.Envelopes, e.Envelope)
		}
		body, err := json.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	return bodies
}

// captureSender keeps the last batch it was given instead of sending it.
type captureSender struct{ last []store.Queued }

func (c *captureSender) Send(_ context.Context, _ string, batch []store.Queued) ([]delivery.Outcome, error) {
	c.last = batch
	return nil, nil
}
