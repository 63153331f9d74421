package devfed

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/pki"
)

// Traffic is what Seed sent, by envelope id, so a newcomer (and the tests)
// can look each record up.
type Traffic struct {
	Agreements    []string `json:"agreements"`
	Transfers     []string `json:"transfers"`
	Confirmations []string `json:"confirmations"`
	Referral      string   `json:"referral"`
	Updates       []string `json:"referral_updates"`
	// TransferRef is the reference of the first transfer, whose state shows
	// the confirmation that came back.
	TransferRef string `json:"transfer_ref"`
}

// Seed registers and approves an agreement between the origin (the first
// province) and each destination, then sends sample traffic: transfers from
// the origin, a confirmation back for each, and a wage-arrears referral from
// the first destination to the origin with its updates. It returns once
// every node this process runs holds the traffic and the agreements in its
// audit log.
func (f *Federation) Seed(ctx context.Context, transfersPerDestination int) error {
	gens, err := f.Agree(ctx)
	if err != nil {
		return err
	}
	origin := f.Provinces[0]
	for _, dest := range f.Provinces[1:] {
		if err := f.sendChain(ctx, gens[dest], origin, dest, transfersPerDestination); err != nil {
			return err
		}
	}
	if err := f.sendReferral(ctx, origin, f.Provinces[1]); err != nil {
		return err
	}
	// The nodes audit registry changes every second: the agreements'
	// entries are in each log before Seed returns, as its flows are.
	for _, p := range f.Provinces {
		if n := f.Nodes[p]; n != nil {
			if err := n.AuditRegistry(ctx); err != nil {
				return fmt.Errorf("devfed: audit the registry at %s: %w", p, err)
			}
		}
	}
	return nil
}

// Agree registers and approves an agreement between the origin (the first
// province) and each destination, and waits until every node holds it in
// force. It returns, by destination, the generator whose records travel
// under that agreement.
func (f *Federation) Agree(ctx context.Context) (map[string]*synth.Generator, error) {
	origin := f.Provinces[0]
	gens := map[string]*synth.Generator{}
	for i, dest := range f.Provinces[1:] {
		// Distinct ID ranges per corridor: the origin takes a record ID
		// seen before for a resubmission, and sends it nowhere new.
		g, err := synth.New(synth.Config{Origin: origin, Destination: dest, Seed: 2026, IDBase: 100_000 * i})
		if err != nil {
			return nil, err
		}
		a := sampleAgreement(g, origin, dest, time.Now())
		if err := f.approveAgreement(ctx, a); err != nil {
			return nil, err
		}
		f.Traffic.Agreements = append(f.Traffic.Agreements, a.ID)
		gens[dest] = g
	}
	return gens, nil
}

// sampleAgreement is the agreement of the corridor from origin to dest, in
// force on now's day. The generator dates it, like its records, around
// synth.DefaultToday, so that the samples and the guides' ids stay the
// same from run to run; synth.InForce moves its end past now's when it
// comes within a year, since the registry refuses to approve an expired
// version and the federation would start without its sample traffic.
func sampleAgreement(g *synth.Generator, origin, dest string, now time.Time) *contracts.Agreement {
	a := g.Agreement()
	a.Origin.Division, a.Destination.Division = origin+"0000", dest+"0000"
	a.Origin.Name = chineseName(origin) + "人力资源和社会保障厅"
	a.Destination.Name = chineseName(dest) + "人力资源和社会保障厅"
	synth.InForce(a, registry.DayOf(now))
	return a
}

// chineseName is the province's name as its government signs: "四川省".
func chineseName(province string) string {
	name, _ := contracts.ProvinceName(province)
	return name
}

// approveAgreement proposes the agreement as the origin's admin and approves
// it as each party's admin, each signing with their own key.
func (f *Federation) approveAgreement(ctx context.Context, a *contracts.Agreement) error {
	for i, p := range []string{a.Origin.Province(), a.Destination.Province()} {
		cl, err := f.RegistryClient(p)
		if err != nil {
			return err
		}
		if i == 0 {
			if _, err := cl.Submit(ctx, registry.OpPropose, a); err != nil {
				return fmt.Errorf("propose %s: %w", a.ID, err)
			}
		}
		r, err := cl.Agreement(ctx, a.ID, true)
		if err != nil {
			return err
		}
		v := r.Data.Pending()
		if v == nil {
			return fmt.Errorf("agreement %s has no version awaiting approval", a.ID)
		}
		body := registry.TransitionBody{ID: a.ID, Version: v.Agreement.Version, Digest: v.Digest}
		if _, err := cl.Submit(ctx, registry.OpApprove, body); err != nil {
			return fmt.Errorf("approve %s as %s: %w", a.ID, p, err)
		}
	}
	// Every node must see the agreement in force before records rely on it.
	var clients []*registry.Client
	for _, p := range f.Provinces {
		cl, err := f.RegistryClient(p)
		if err != nil {
			return err
		}
		clients = append(clients, cl)
	}
	return f.waitFor(ctx, "agreement "+a.ID+" active on every node", func() bool {
		for _, cl := range clients {
			r, err := cl.Agreement(ctx, a.ID, false)
			if err != nil || r.Data.StatusAt(time.Now()) != contracts.AgreementActive {
				return false
			}
		}
		return true
	})
}

func (f *Federation) sendChain(ctx context.Context, g *synth.Generator, origin, dest string, n int) error {
	var transfers []*contracts.Transfer
	var docs []any
	for range n {
		t := g.Transfer()
		transfers = append(transfers, t)
		docs = append(docs, t)
	}
	ids, err := f.Submit(ctx, origin, docs...)
	if err != nil {
		return err
	}
	f.Traffic.Transfers = append(f.Traffic.Transfers, ids...)
	if f.Traffic.TransferRef == "" {
		f.Traffic.TransferRef = exchange.Ref(&transfers[0].Header, contracts.RecordTransfer)
	}
	if err := f.WaitDelivered(ctx, origin, ids); err != nil {
		return err
	}
	docs = docs[:0]
	for _, t := range transfers {
		docs = append(docs, g.Confirmation(t))
	}
	ids, err = f.Submit(ctx, dest, docs...)
	if err != nil {
		return err
	}
	f.Traffic.Confirmations = append(f.Traffic.Confirmations, ids...)
	return f.WaitDelivered(ctx, dest, ids)
}

func (f *Federation) sendReferral(ctx context.Context, origin, dest string) error {
	g, err := synth.New(synth.Config{Origin: origin, Destination: dest, Seed: 2026})
	if err != nil {
		return err
	}
	r := g.Referral()
	for r.From != dest {
		r = g.Referral()
	}
	r.Kind = contracts.CaseWageArrears
	ids, err := f.Submit(ctx, dest, r)
	if err != nil {
		return err
	}
	f.Traffic.Referral = ids[0]
	if err := f.WaitDelivered(ctx, dest, ids); err != nil {
		return err
	}
	for i, status := range []contracts.CaseStatus{contracts.CaseAccepted, contracts.CaseInvestigating, contracts.CaseResolved} {
		u := g.ReferralUpdate(r)
		u.Status = status
		u.At = r.OpenedAt.Add(time.Duration(i+1) * 24 * time.Hour)
		u.AmountRecoveredFen = 0
		if status == contracts.CaseResolved {
			u.AmountRecoveredFen = r.AmountOwedFen
		}
		ids, err := f.Submit(ctx, origin, u)
		if err != nil {
			return err
		}
		f.Traffic.Updates = append(f.Traffic.Updates, ids...)
		if err := f.WaitDelivered(ctx, origin, ids); err != nil {
			return err
		}
	}
	return nil
}

// Submit sends records through the province's local API as its system and
// returns their envelope ids; a record not accepted is an error.
func (f *Federation) Submit(ctx context.Context, province string, recs ...any) ([]string, error) {
	res, err := f.SubmitResults(ctx, province, recs...)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(res))
	for i, r := range res {
		if r.Outcome != exchange.OutcomeAccepted && r.Outcome != exchange.OutcomeDuplicate {
			b, _ := json.Marshal(r)
			return nil, fmt.Errorf("sample record %d from %s was %s: %s", i, province, r.Outcome, b)
		}
		ids[i] = r.EnvelopeID
	}
	return ids, nil
}

// SubmitResults sends records through the province's local API as its
// system and returns the node's answer for each, whatever it is.
func (f *Federation) SubmitResults(ctx context.Context, province string, recs ...any) ([]exchange.SubmitResult, error) {
	cl, err := f.APIClient(province, f.Certs[province].System)
	if err != nil {
		return nil, err
	}
	docs := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		if docs[i], err = json.Marshal(r); err != nil {
			return nil, err
		}
	}
	return cl.Submit(ctx, docs...)
}

// WaitDelivered waits for the destination's receipts of every envelope a
// province sent.
func (f *Federation) WaitDelivered(ctx context.Context, province string, ids []string) error {
	cl, err := f.APIClient(province, f.Certs[province].System)
	if err != nil {
		return err
	}
	return f.waitFor(ctx, fmt.Sprintf("%d records from %s to be delivered", len(ids), province), func() bool {
		for _, id := range ids {
			v, err := cl.Record(ctx, id)
			if err != nil || v.State != "delivered" {
				return false
			}
		}
		return true
	})
}

func (f *Federation) waitFor(ctx context.Context, what string, cond func() bool) error {
	patience := f.Patience
	if patience <= 0 {
		patience = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("devfed: waiting for %s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// APIClient returns a local-API client for province's node presenting leaf.
func (f *Federation) APIClient(province string, leaf pki.Leaf, opts ...api.ClientOption) (*api.Client, error) {
	t, err := f.ClientTLS(leaf)
	if err != nil {
		return nil, err
	}
	return api.NewClient(f.URL(province), t, province, opts...)
}

// RegistryClient returns a registry client of province's node acting as
// province's admin, as `laborlink registry` does.
func (f *Federation) RegistryClient(province string) (*registry.Client, error) {
	leaf := f.Certs[province].Admin
	t, err := f.ClientTLS(leaf)
	if err != nil {
		return nil, err
	}
	s, err := pki.LoadSigner(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		return nil, err
	}
	return registry.NewClient(f.URL(province), t, s)
}

// ClientTLS is the mutual-TLS builder for leaf's certificate and key files,
// trusting the federation's root.
func (l *Layout) ClientTLS(leaf pki.Leaf) (*pki.TLS, error) {
	kp, err := pki.LoadKeyPair(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		return nil, err
	}
	pool, err := rootPool(l.Root)
	if err != nil {
		return nil, err
	}
	return &pki.TLS{KeyPair: kp, Verifier: &pki.Verifier{Roots: pool, Domain: Domain}}, nil
}
