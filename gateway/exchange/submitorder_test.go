package exchange

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestSubmitTakesUpdatesOfOneCaseInOrder: the province a case was
// referred to accepts it and investigates it in one submission. The
// second is checked against the case as the first leaves it, as the
// commit makes them, so both are taken, and its outbox entry names the
// first, so delivery keeps them in order. In the wrong order, the
// investigation is refused (the case is referred), and so is the
// acceptance after it: a submission's updates of a case are never taken
// out of their order.
func TestSubmitTakesUpdatesOfOneCaseInOrder(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 41)
	cases := f.referCasesFrom(g, "44", 2)
	f.awaitCases("51", cases)
	origin, dest := f.nodes["51"], f.nodes["44"]
	f.dir.set("44", "https://127.0.0.1:1") // 51 cannot reach 44: its updates wait in its queue
	update := func(r *contracts.Referral, status contracts.CaseStatus) *contracts.ReferralUpdate {
		u := g.ReferralUpdate(r)
		u.From, u.To, u.Status = "51", "44", status
		return u
	}
	res := f.submit("51",
		update(cases[0], contracts.CaseAccepted), update(cases[0], contracts.CaseInvestigating),
		update(cases[1], contracts.CaseInvestigating), update(cases[1], contracts.CaseAccepted))
	for i := range 2 {
		if res[i].Outcome != OutcomeAccepted {
			t.Fatalf("update %d of case 0: %+v, want it accepted", i, res[i])
		}
	}
	for i, want := range []string{"the case is referred and cannot become investigating", "the record at index 2 of this submission (counting from 0), an earlier update of the same case, was not accepted"} {
		r := res[2+i]
		if r.Outcome != OutcomeInvalid || len(r.Problems) != 1 || r.Problems[0].Path != "status" || !strings.Contains(r.Problems[0].Message, want) {
			t.Errorf("update %d of case 1: %+v, want invalid on status saying %q", i, r, want)
		}
	}
	for i, want := range []contracts.CaseStatus{contracts.CaseInvestigating, contracts.CaseReferred} {
		c, err := origin.store.Case(store.CaseKey("44", "51", cases[i].ID), f.now)
		if err != nil || c.Status != string(want) {
			t.Errorf("case %d at 51: %+v, %v; want it %s", i, c, err, want)
		}
	}

	first, second := res[0].EnvelopeID, res[1].EnvelopeID
	queued, err := origin.store.Pending("44", 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	took := map[string]store.Queued{}
	for _, q := range queued {
		took[q.EnvelopeID] = q
	}
	if q, ok := took[first]; !ok || q.After != "" || len(queued) > 2 {
		t.Errorf("51's queue for 44: %+v; want the acceptance, after nothing, and the investigation behind it", queued)
	}
	// Under an id that sorts before the acceptance's, the investigation
	// waits for it, and only its After can hold it there; else it goes
	// in the batch behind it, naming it.
	if q, ok := took[second]; ok && q.After != first {
		t.Errorf("the investigation queued: after %q, want after the acceptance %s", q.After, first)
	}

	f.dir.set("44", dest.server.URL)
	origin.delivery.Notify("44")
	f.awaitDelivered("51", first)
	f.awaitDelivered("51", second)
	c, err := dest.store.Case(store.CaseKey("44", "51", cases[0].ID), f.now)
	if err != nil || c.Status != string(contracts.CaseInvestigating) || len(c.Updates) != 2 {
		t.Errorf("case 0 at 44: %+v, %v; want it investigating, by both updates", c, err)
	}
	if v, err := origin.x.Record(context.Background(), origin.system, second); err != nil || v.State != store.StateDelivered {
		t.Errorf("the investigation at 51: %+v, %v", v, err)
	}
}

// acceptedCases refers n cases from 44 to 51, and has 51 accept them,
// under agreements mutated by mutate; it returns the cases and a maker
// of 51's updates of them.
func acceptedCases(t *testing.T, f *federation, n int, mutate ...func(*contracts.Agreement)) ([]*contracts.Referral, func(*contracts.Referral, contracts.CaseStatus) *contracts.ReferralUpdate) {
	t.Helper()
	f.agreement("51", "44", mutate...)
	g := f.generator("51", "44", 43)
	cases := f.referCasesFrom(g, "44", n)
	f.awaitCases("51", cases)
	update := func(r *contracts.Referral, status contracts.CaseStatus) *contracts.ReferralUpdate {
		u := g.ReferralUpdate(r)
		u.From, u.To, u.Status = "51", "44", status
		return u
	}
	recs := make([]any, n)
	for i, r := range cases {
		recs[i] = update(r, contracts.CaseAccepted)
	}
	for i, r := range f.submit("51", recs...) {
		if r.Outcome != OutcomeAccepted {
			t.Fatalf("acceptance of case %d: %+v", i, r)
		}
	}
	return cases, update
}

// refusedAfter checks that res, 51's answer to the resolution of case r
// after its investigation, record j of the submission, which was not
// taken, is refused for it, and that the case is left accepted.
func refusedAfter(t *testing.T, f *federation, res SubmitResult, j int, r *contracts.Referral) {
	t.Helper()
	want := fmt.Sprintf("the record at index %d of this submission (counting from 0), an earlier update of the same case, was not accepted", j)
	if res.Outcome != OutcomeInvalid || res.EnvelopeID != "" || len(res.Problems) != 1 || res.Problems[0].Path != "status" || !strings.Contains(res.Problems[0].Message, want) {
		t.Errorf("the resolution: %+v, want invalid on status saying %q", res, want)
	}
	c, err := f.nodes["51"].store.Case(store.CaseKey("44", "51", r.ID), f.now)
	if err != nil || c.Status != string(contracts.CaseAccepted) || len(c.Updates) != 1 {
		t.Errorf("the case: %+v, %v; want it accepted, by its first update alone", c, err)
	}
}

// TestSubmitRefusesAnUpdateAfterOneOverQuota: an update whose earlier
// update of its case in the submission the commit finds over quota is
// refused for that, not for the quota.
func TestSubmitRefusesAnUpdateAfterOneOverQuota(t *testing.T) {
	f := newFederation(t, "51", "44")
	cases, update := acceptedCases(t, f, 2, func(a *contracts.Agreement) {
		a.Quotas = []contracts.Quota{{RecordType: contracts.RecordReferralUpdate, Period: contracts.QuotaMonth, Max: 3}}
	})
	// Decided on a quota 2 of 3 used, all three may go; the commit takes
	// the first, and the second is over the quota.
	res := f.submit("51", update(cases[0], contracts.CaseInvestigating),
		update(cases[1], contracts.CaseInvestigating), update(cases[1], contracts.CaseResolved))
	if res[0].Outcome != OutcomeAccepted {
		t.Errorf("case 0 investigated: %+v, want it accepted", res[0])
	}
	if r := res[1]; r.Outcome != OutcomeDenied || len(r.Reasons) != 1 || r.Reasons[0].Code != "quota_reached" {
		t.Errorf("case 1 investigated: %+v, want it denied quota_reached", r)
	}
	refusedAfter(t, f, res[2], 1, cases[1])
}

// TestSubmitRefusesAnUpdateAfterOneUnaudited: an update whose earlier
// update of its case in the submission is not queued (the audit log
// refuses its entry) is refused, though its case could take it alone:
// taken, the resolution would skip the investigation.
func TestSubmitRefusesAnUpdateAfterOneUnaudited(t *testing.T) {
	f := newFederationWith(t, auditInStore, 0, "51", "44")
	cases, update := acceptedCases(t, f, 1)
	c, err := f.nodes["51"].store.Case(store.CaseKey("44", "51", cases[0].ID), f.now)
	if err != nil {
		t.Fatal(err)
	}
	f.restartAudited("51", func(a Auditor) Auditor { return &refusesOne{TxAuditor: a.(TxAuditor), refersTo: c.EnvelopeID} })
	res := f.submit("51", update(cases[0], contracts.CaseInvestigating), update(cases[0], contracts.CaseResolved))
	if res[0].Outcome != OutcomeUnavailable {
		t.Fatalf("the investigation: %+v, want it unavailable, its entry refused", res[0])
	}
	refusedAfter(t, f, res[1], 0, cases[0])
}

// refusesOne is a store's audit log that refuses the entries of one
// envelope: the first that moves the case of referral envelope refersTo
// prepared on its own, as auditAlong prepares the entries one by one to
// find those the log refuses (and any entries with it until then).
type refusesOne struct {
	TxAuditor
	refersTo string

	mu  sync.Mutex
	bad string // the envelope refused
}

func (l *refusesOne) Prepare(es ...audit.Entry) ([]audit.Prepared, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range es {
		if l.bad == "" && e.RefersTo == l.refersTo && len(es) == 1 {
			l.bad = e.EnvelopeID
		}
		if e.EnvelopeID == l.bad || l.bad == "" && e.RefersTo == l.refersTo {
			return nil, errors.New("refusesOne: entry refused")
		}
	}
	return l.TxAuditor.Prepare(es...)
}

// TestSubmitCopyOfAnUpdateIsNoStep: a copy of an update in the same
// submission is checked as its first was, not against the case that one
// leaves (which could not take it again): it is answered duplicate, and
// the update after it follows the first.
func TestSubmitCopyOfAnUpdateIsNoStep(t *testing.T) {
	f := newFederation(t, "51", "44")
	cases, update := acceptedCases(t, f, 1)
	investigating := update(cases[0], contracts.CaseInvestigating)
	res := f.submit("51", investigating, investigating, update(cases[0], contracts.CaseResolved))
	if res[0].Outcome != OutcomeAccepted || res[1].Outcome != OutcomeDuplicate || res[1].EnvelopeID != res[0].EnvelopeID || res[2].Outcome != OutcomeAccepted {
		t.Errorf("investigating, its copy, resolved: %+v, want accepted, duplicate of it, accepted", res)
	}
	c, err := f.nodes["51"].store.Case(store.CaseKey("44", "51", cases[0].ID), f.now)
	if err != nil || c.Status != string(contracts.CaseResolved) || len(c.Updates) != 3 {
		t.Errorf("the case: %+v, %v; want it resolved, by three updates", c, err)
	}
}
