package exchange

import (
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestSubmitChecksEachUpdateAgainstItsCase submits, in one submission,
// updates of several cases the node follows (44's referrals to it, which
// it answers), legal and illegal moves, of a case it does not know, and a
// record of another type between them: each is answered by its own case
// (the cases are read together), as stored before the submission or as
// the updates of the case before it in the submission leave it, in its
// own place, and only the legal moves change their cases. One after an
// update of its case that was refused is refused too.
func TestSubmitChecksEachUpdateAgainstItsCase(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 23)
	cases := f.referCasesFrom(g, "44", 3)
	f.awaitCases("51", cases)
	unknown := *cases[2]
	unknown.ID += "-X"
	update := func(r *contracts.Referral, status contracts.CaseStatus) *contracts.ReferralUpdate {
		u := g.ReferralUpdate(r)
		u.From, u.To, u.Status = "51", "44", status
		return u
	}
	submitted := []struct {
		what    string
		rec     any
		outcome Outcome
		path    string // of the problem, for an invalid update
		message string // in the problem
	}{
		{"case 0 accepted", update(cases[0], contracts.CaseAccepted), OutcomeAccepted, "", ""},
		{"case 1 resolved while referred", update(cases[1], contracts.CaseResolved), OutcomeInvalid, "status", "the case is referred and cannot become resolved"},
		{"a case not known here", update(&unknown, contracts.CaseAccepted), OutcomeInvalid, "referral_id", `no referral "` + unknown.ID + `"`},
		{"a transfer", g.Transfer(), OutcomeAccepted, "", ""},
		{"case 2 rejected", update(cases[2], contracts.CaseRejected), OutcomeAccepted, "", ""},
		// Checked against the case as case 0's acceptance above leaves it,
		// as the commit makes them, not as stored.
		{"case 0 rejected once accepted", update(cases[0], contracts.CaseRejected), OutcomeInvalid, "status", "the case is accepted and cannot become rejected"},
		{"case 1 accepted after its refused resolution", update(cases[1], contracts.CaseAccepted), OutcomeInvalid, "status", "the record at index 1 of this submission (counting from 0), an earlier update of the same case, was not accepted"},
	}
	recs := make([]any, len(submitted))
	for i, s := range submitted {
		recs[i] = s.rec
	}
	results := f.submit("51", recs...)
	for i, s := range submitted {
		res := results[i]
		if res.Index != i || res.Outcome != s.outcome {
			t.Errorf("%s: %+v, want outcome %s at index %d", s.what, res, s.outcome, i)
			continue
		}
		if s.outcome != OutcomeInvalid {
			continue
		}
		if len(res.Problems) != 1 || res.Problems[0].Path != s.path || !strings.Contains(res.Problems[0].Message, s.message) {
			t.Errorf("%s: problems %+v, want one at %s saying %q", s.what, res.Problems, s.path, s.message)
		}
	}
	origin := f.nodes["51"]
	for i, want := range []contracts.CaseStatus{contracts.CaseAccepted, contracts.CaseReferred, contracts.CaseRejected} {
		c, err := origin.store.Case(store.CaseKey("51", "44", cases[i].ID), f.now)
		if err != nil || c.Status != string(want) {
			t.Errorf("case %d after the submission: %+v, %v; want %s", i, c, err, want)
		}
	}
}
