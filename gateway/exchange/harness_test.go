package exchange

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// directory maps provinces to node URLs; tests move nodes around.
type directory struct {
	mu   sync.Mutex
	urls map[string]string
}

func (d *directory) PeerURL(p string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.urls[p]
	if !ok {
		return "", fmt.Errorf("no node for province %s", p)
	}
	return u, nil
}

func (d *directory) set(p, url string) {
	d.mu.Lock()
	d.urls[p] = url
	d.mu.Unlock()
}

// federation is a few real nodes' exchange paths on loopback: real mTLS,
// OPA with the shipped bundle, bbolt stores and audit logs.
type federation struct {
	t          testing.TB
	pki        *gatewaytest.PKI
	dir        *directory
	agreements *policy.AgreementIndex
	logs       *gatewaytest.Buffer
	nodes      map[string]*node
	// clock is the exchanges' Now; now is its reading when they started.
	clock func() time.Time
	now   time.Time
	// audit says where the nodes' audit logs live.
	audit auditMode
	// batch is the delivery batch size; 0 means 50.
	batch int
	// wrapAudit, when set, wraps each node's Auditor.
	wrapAudit func(Auditor) Auditor
}

// auditMode places a test node's audit log.
type auditMode int

const (
	auditOwnFile auditMode = iota // audit.db beside node.db
	auditInStore                  // in node.db, sharing its writer as on a real node
	auditOff                      // no log: a no-op Auditor, for the benchmark's baseline
)

// auditModes are the places a node's audit log can be, by subtest name:
// tests whose audit entries must be durable with the store's writes run in
// both.
var auditModes = map[string]auditMode{"audit in node.db": auditInStore, "audit in its own file": auditOwnFile}

// noAudit is the Auditor of auditOff.
type noAudit struct{}

func (noAudit) Append(context.Context, audit.Entry) (int64, error) { return 0, nil }

type node struct {
	province string
	// dir holds its node.db (and audit.db), and auditKey signs its audit
	// log's heads: a restart keeps both.
	dir      string
	auditKey string
	leaf     *pki.Leaf
	x        *Exchange
	store    *store.Store
	audit    *audit.Log
	delivery *delivery.Manager
	client   *peer.Client
	server   *gatewaytest.Server
	system   pki.Identity
	// agreements is this node's view of the registry: every agreement the
	// federation registered, unless a test makes it lag.
	agreements *policy.AgreementIndex
	stale      atomic.Bool
}

func newFederation(t testing.TB, provinces ...string) *federation {
	return newFederationWith(t, auditInStore, 0, provinces...)
}

// newFederationWith starts nodes with their audit logs placed by mode and a
// delivery batch size (0 means 50).
func newFederationWith(t testing.TB, mode auditMode, batch int, provinces ...string) *federation {
	t.Helper()
	return newFederationClock(t, mode, batch, time.Now, provinces...)
}

// newFederationAt starts nodes whose exchanges' clock reads at when they
// start, and runs on from there: a test of a year to come.
func newFederationAt(t testing.TB, at time.Time, provinces ...string) *federation {
	t.Helper()
	shift := time.Until(at)
	return newFederationClock(t, auditInStore, 0, func() time.Time { return time.Now().Add(shift) }, provinces...)
}

// newFederationClock is newFederationWith with the exchanges' clock.
func newFederationClock(t testing.TB, mode auditMode, batch int, clock func() time.Time, provinces ...string) *federation {
	t.Helper()
	f := &federation{
		clock:      clock,
		audit:      mode,
		batch:      batch,
		t:          t,
		pki:        gatewaytest.NewPKI(t, provinces...),
		dir:        &directory{urls: map[string]string{}},
		agreements: policy.NewAgreementIndex(),
		logs:       &gatewaytest.Buffer{},
		nodes:      map[string]*node{},
		now:        clock(),
	}
	for _, p := range provinces {
		f.nodes[p] = f.start(p)
	}
	t.Cleanup(func() {
		for _, n := range f.nodes {
			n.stop()
		}
		gatewaytest.NoPersonalData(t, "logs", f.logs.String())
	})
	return f
}

func (f *federation) start(province string) *node {
	f.t.Helper()
	return f.startOver(province, nil)
}

// restart stops province's node and starts it again as a node restarts:
// over its data dir, its store and audit log as it left them, with its
// audit key and its view of the registry.
func (f *federation) restart(province string) *node {
	f.t.Helper()
	old := f.nodes[province]
	old.stop()
	n := f.startOver(province, old)
	f.nodes[province] = n
	return n
}

// restartAudited restarts province's node (restart) with its Auditor
// wrapped by wrap; the nodes started later are not wrapped.
func (f *federation) restartAudited(province string, wrap func(Auditor) Auditor) *node {
	f.t.Helper()
	f.wrapAudit = wrap
	defer func() { f.wrapAudit = nil }()
	return f.restart(province)
}

// startOver starts province's node, afresh when old is nil, else over
// what old, stopped, left (restart).
func (f *federation) startOver(province string, old *node) *node {
	t := f.t
	t.Helper()
	log := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", province)
	n := &node{province: province, leaf: f.pki.Issue(province, pki.KindNode, "gw-1")}
	if old != nil {
		n.dir, n.auditKey, n.agreements = old.dir, old.auditKey, old.agreements
	} else {
		n.dir, n.agreements = t.TempDir(), policy.NewAgreementIndex()
	}
	n.system = pki.Identity{Domain: gatewaytest.Domain, Province: province, Kind: pki.KindSystem, Name: "hr"}
	dir := n.dir
	var err error
	if n.store, err = store.Open(filepath.Join(dir, "node.db"), store.Options{}); err != nil {
		t.Fatal(err)
	}
	origin := "fed.test/p" + province + "/gw-1"
	if n.auditKey == "" {
		if n.auditKey, _, err = audit.GenerateKey(origin); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := note.NewSigner(n.auditKey)
	if err != nil {
		t.Fatal(err)
	}
	acfg := audit.Config{Origin: origin, Signer: signer, SignInterval: -1, Logger: log}
	var auditor Auditor = noAudit{}
	switch f.audit {
	case auditOwnFile:
		n.audit, err = audit.OpenFile(filepath.Join(dir, "audit.db"), acfg)
	case auditInStore:
		n.audit, err = audit.Open(n.store.DB(), acfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	if n.audit != nil {
		auditor = n.audit
	}
	if f.wrapAudit != nil {
		auditor = f.wrapAudit(auditor)
	}
	engine, err := policy.NewEngine(context.Background(), policy.FederationBundle(), policy.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sig := f.pki.Signer(n.leaf)
	var chain [][]byte
	for _, c := range sig.Chain() {
		chain = append(chain, c.Raw)
	}
	n.client = peer.NewClient(f.pki.Verifier(), func() [][]byte { return chain }, f.dir, func(p string) (*http.Client, error) {
		return f.pki.Client(n.leaf, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}, Province: p}), nil
	}, peer.BreakerSettings{Failures: 3, Open: 100 * time.Millisecond})
	notifier := &lateNotifier{}
	n.x, err = New(Deps{
		Province: province, Signer: sig, Verifier: f.pki.Verifier(), Agreements: n.agreements, Stale: n.stale.Load,
		Policy: engine, Store: n.store, Delivery: notifier, Audit: auditor, Log: log, Now: f.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := delivery.Config{BatchSize: cmp.Or(f.batch, 50), MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Idle: 50 * time.Millisecond, Refusal: peer.Refusal}
	if n.delivery, err = delivery.NewManager(cfg, n.x.Outbox(), n.x.BatchSender(n.client), n.x, log); err != nil {
		t.Fatal(err)
	}
	notifier.m = n.delivery
	n.server = f.pki.Serve(n.leaf, pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}}, peer.NewHandler(n.x))
	f.dir.set(province, n.server.URL)
	return n
}

// lateNotifier breaks the construction cycle between exchange and delivery.
type lateNotifier struct{ m *delivery.Manager }

func (l *lateNotifier) Notify(p string) { l.m.Notify(p) }

func (n *node) stop() {
	n.server.Close()
	n.delivery.Close()
	if n.audit != nil {
		n.audit.Close()
	}
	n.store.Close()
}

// agreement registers an active province-level agreement between origin
// and dest, in force on the exchanges' clock whatever year the
// tests run in.
func (f *federation) agreement(origin, dest string, mutate ...func(*contracts.Agreement)) *contracts.Agreement {
	g, err := synth.New(synth.Config{Origin: origin, Destination: dest, Seed: 1})
	if err != nil {
		f.t.Fatal(err)
	}
	a := g.Agreement()
	a.Origin.Division, a.Destination.Division = origin+"0000", dest+"0000"
	a.Status = contracts.AgreementActive
	synth.InForce(a, contracts.DateOf(f.now))
	for _, m := range mutate {
		m(a)
	}
	f.agreements.Put(*a)
	for _, n := range f.nodes {
		n.agreements.Put(*a)
	}
	return a
}

// generator makes records for a corridor under the agreement synth names.
func (f *federation) generator(origin, dest string, seed uint64) *synth.Generator {
	g, err := synth.New(synth.Config{Origin: origin, Destination: dest, Seed: seed})
	if err != nil {
		f.t.Fatal(err)
	}
	return g
}

// referralFrom is g's next referral sent by province from (g makes them
// in both directions).
func referralFrom(g *synth.Generator, from string) *contracts.Referral {
	r := g.Referral()
	for r.From != from {
		r = g.Referral()
	}
	return r
}

// referCases submits n referrals from 51 to 44, made by g and each in the
// referred state, and returns them once 51 has accepted them all.
func (f *federation) referCases(g *synth.Generator, n int) []*contracts.Referral {
	f.t.Helper()
	return f.referCasesFrom(g, "51", n)
}

// referCasesFrom is referCases with the referrals sent by province from.
func (f *federation) referCasesFrom(g *synth.Generator, from string, n int) []*contracts.Referral {
	f.t.Helper()
	var cases []*contracts.Referral
	for len(cases) < n {
		if r := g.Referral(); r.From == from {
			r.Status = contracts.CaseReferred
			cases = append(cases, r)
		}
	}
	recs := make([]any, n)
	for i, r := range cases {
		recs[i] = r
	}
	for i, res := range f.submit(from, recs...) {
		if res.Outcome != OutcomeAccepted {
			f.t.Fatalf("referral %d: %+v", i, res)
		}
	}
	return cases
}

// awaitCases waits until province p's node holds the case each of rs
// opens, as it does once the referral has reached it.
func (f *federation) awaitCases(p string, rs []*contracts.Referral) {
	f.t.Helper()
	n := f.nodes[p]
	gatewaytest.Eventually(f.t, "the referrals' cases at "+p, func() bool {
		for _, r := range rs {
			if _, err := n.store.Case(store.CaseKey(r.From, r.To, r.ID), f.now); err != nil {
				return false
			}
		}
		return true
	})
}

func encode(t testing.TB, recs ...any) []json.RawMessage {
	t.Helper()
	out := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func (f *federation) submit(province string, recs ...any) []SubmitResult {
	f.t.Helper()
	n := f.nodes[province]
	res, err := n.x.Submit(context.Background(), n.system, encode(f.t, recs...))
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// awaitDelivered waits until province p's record under envelope id is
// delivered, its receipt back at p.
func (f *federation) awaitDelivered(p, id string) {
	f.t.Helper()
	n := f.nodes[p]
	gatewaytest.Eventually(f.t, "record "+id+" of "+p+" delivered", func() bool {
		v, err := n.x.Record(context.Background(), n.system, id)
		return err == nil && v.State == store.StateDelivered
	})
}

// signedBy seals rec into an envelope signed alone by province p's node,
// as a node signs without batch signing.
func (f *federation) signedBy(p string, rec contracts.Record) *contracts.Envelope {
	f.t.Helper()
	env, err := contracts.NewEnvelope(rec, 1, f.now)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.sign(p, env)
}

// sign signs env as province p's node does, and returns it.
func (f *federation) sign(p string, env *contracts.Envelope) *contracts.Envelope {
	f.t.Helper()
	signer := f.nodes[p].x.d.Signer
	if err := env.Sign(signer, signer.Identity().URI()); err != nil {
		f.t.Fatal(err)
	}
	return env
}

// rawSignedBy is signedBy's envelope as it travels.
func (f *federation) rawSignedBy(p string, rec contracts.Record) json.RawMessage {
	f.t.Helper()
	raw, err := json.Marshal(f.signedBy(p, rec))
	if err != nil {
		f.t.Fatal(err)
	}
	return raw
}

// deliver hands envs to province to's Receive as province from's node
// delivers them: with that node's identity and signing chain.
func (f *federation) deliver(from, to string, envs ...json.RawMessage) ([]peer.Result, error) {
	return f.deliverIn(context.Background(), from, to, envs...)
}

// deliverIn is deliver with the request's context ctx, which says, for
// one, whether the origin asks for bound receipts (deliverAsking).
func (f *federation) deliverIn(ctx context.Context, from, to string, envs ...json.RawMessage) ([]peer.Result, error) {
	n := f.nodes[from]
	resp, err := f.nodes[to].x.Receive(ctx, n.leaf.Identity, n.x.d.Signer.Chain(), envs, nil)
	return resp.Results, err
}

func (n *node) inbox(t *testing.T) []store.Incoming {
	t.Helper()
	items, err := n.store.Inbox(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// receivedAndRefused counts n's audit entries of envelope id: its
// arrival, and its refusals as contract-invalid; any other entry of it
// fails t.
func (n *node) receivedAndRefused(t *testing.T, id string) (received, refusals int) {
	t.Helper()
	for _, e := range n.auditEntries(t) {
		switch {
		case e.EnvelopeID != id:
		case e.Kind == audit.KindReceived:
			received++
		case e.Kind == audit.KindDenied && slices.Equal(e.Reasons, []audit.Reason{audit.ReasonContractInvalid}):
			refusals++
		default:
			t.Errorf("unexpected audit entry %+v", e)
		}
	}
	return received, refusals
}

func (n *node) auditEntries(t *testing.T) []audit.Entry {
	t.Helper()
	es, err := n.audit.Query(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return es
}
