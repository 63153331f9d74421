package registry

import (
	"fmt"

	"github.com/laborlink/laborlink/contracts"
)

// checkScopeDivisions refuses a proposal or amendment whose scope leaves
// out a division that a party below province level is checked against
// (contracts.CheckScopeDivisions), and an approval of a version that does:
// every record under it would be accepted by its origin and refused for
// good by its destination. It is checked here, not in apply, which takes
// the versions an older release let into the log as it always did; so a
// version proposed then can still be terminated or amended, but never
// approved into force.
func (r *Registry) checkScopeDivisions(env *Envelope) error {
	switch env.Op {
	case OpPropose, OpAmend:
		var a contracts.Agreement
		if decodeBody(env, &a) != nil {
			return nil // apply refuses it, naming why
		}
		if err := a.CheckScopeDivisions(); err != nil {
			return Errorf(EInvalid, "%s agreement %s: %v", env.Op.Verb(), a.ID, err)
		}
	case OpApprove:
		var b TransitionBody
		if decodeBody(env, &b) != nil {
			return nil
		}
		rec, err := r.store.Agreement(b.ID)
		if err != nil {
			return nil // apply refuses it, naming why
		}
		// Only the version awaiting approval: any other apply refuses as
		// not approvable, and the advice below, to withdraw it, would end
		// the agreement for a version in force.
		p := rec.Pending()
		if p == nil || p.Agreement.Version != b.Version {
			return nil
		}
		if err := p.Agreement.CheckScopeDivisions(); err != nil {
			return Errorf(EInvalid, "cannot approve agreement %s version %d: %v. %s", b.ID, b.Version, err, redoWithDivisions(rec, b.Version))
		}
	}
	return nil
}

// redoWithDivisions says how to replace version v of rec, which cannot be
// approved, by one that can.
func redoWithDivisions(rec *AgreementRecord, v int) string {
	if rec.Current() != nil {
		return fmt.Sprintf("Withdraw it (laborlink agreement terminate %s --version %d) and amend the agreement with the field in its scope", rec.ID, v)
	}
	return fmt.Sprintf("Terminate it (laborlink agreement terminate %s) and propose the terms again, with the field in the scope, under a new id", rec.ID)
}
