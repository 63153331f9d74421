package policy

import (
	"fmt"

	"github.com/laborlink/laborlink/contracts"
)

// The export decision is made on the record as the origin has it, the
// import decision on the record as it crossed, after the export's
// obligations. Both read the divisions in it (facts): those a prefecture or
// county party is checked against, and, for a referral, the one that makes
// its destination the worker's or the employer's province. One that the
// export's obligations drop or mask reaches the destination as nothing,
// and the destination refuses for good (division_not_covered,
// referral_destination) what the origin accepted: a dead letter, the
// submitter told "accepted" for a record that can never be delivered.
// strandedDivisions finds that before the record is accepted. It happens
// under an agreement whose scope leaves such a division out, which the
// registry no longer approves (contracts.CheckScopeDivisions) but may hold
// from before, or under a province policy that drops or masks one.

// ReasonDivisionNotCrossing is the code of an export denied because a
// division the destination's decision reads would not cross.
const ReasonDivisionNotCrossing = "division_not_crossing"

// checkCrossing returns d, or, for an export d allows whose obligations
// would keep from the destination a division its decision needs, a denial
// saying which and why.
func (p *prepared) checkCrossing(d *Decision) *Decision {
	if p.req.Side != Export || !d.Allow {
		return d
	}
	a := p.agreementNamed(d.Agreement)
	if a == nil {
		return d // checkAgreement refuses such a decision
	}
	reasons := p.strandedDivisions(a, d.Obligations)
	if reasons == nil {
		return d
	}
	return &Decision{Side: d.Side, Reasons: reasons, Revisions: d.Revisions}
}

// agreementNamed is the candidate agreement ref names, or nil.
func (p *prepared) agreementNamed(ref *AgreementRef) *contracts.Agreement {
	if ref == nil {
		return nil
	}
	for i := range p.agreements {
		if a := &p.agreements[i]; a.ID == ref.ID && a.Version == ref.Version {
			return a
		}
	}
	return nil
}

// strandedDivisions lists, as reasons, the divisions the destination's
// decision under a reads from the record that obligations keep from it.
func (p *prepared) strandedDivisions(a *contracts.Agreement, obligations map[string]Obligation) []Reason {
	workerPath, employerPath := contracts.DivisionPaths(p.recordType)
	if workerPath == "" {
		return nil // a confirmation or update: decided at province level
	}
	worker, workerHidden := obligationOn(obligations, workerPath)
	employer, employerHidden := obligationOn(obligations, employerPath)
	var reasons []Reason
	if workerHidden && contracts.BelowProvince(a.Origin.Division) {
		reasons = append(reasons, p.partyStranded(a, "origin", a.Origin.Division, workerPath, worker))
	}
	if employerHidden && contracts.BelowProvince(a.Destination.Division) {
		reasons = append(reasons, p.partyStranded(a, "destination", a.Destination.Division, employerPath, employer))
	}
	if p.recordType == contracts.RecordReferral {
		to := p.head.To
		byWorker, byEmployer := province(p.worker) == to, province(p.employer) == to
		if (byWorker || byEmployer) && (!byWorker || workerHidden) && (!byEmployer || employerHidden) {
			whose, path, o := "the worker's household province", workerPath, worker
			if !byWorker {
				whose, path, o = "the employer's province", employerPath, employer
			}
			what := fmt.Sprintf("carries a referral to province %s as %s, which the destination checks against the record's %s", to, whose, path)
			reasons = append(reasons, p.stranded(a, what, path, o, "referral_destination"))
		}
	}
	return reasons
}

// partyStranded is the reason for the division at path, which the
// agreement's side party of division (below province level) is checked
// against, when obligation o keeps it from the destination.
func (p *prepared) partyStranded(a *contracts.Agreement, side, division, path string, o Obligation) Reason {
	what := fmt.Sprintf("has %s party %s (a %s), which the destination checks against the record's %s", side, division, contracts.PartyLevel(division), path)
	return p.stranded(a, what, path, o, "division_not_covered")
}

// stranded is the reason for one division at path that obligation o keeps
// from the destination, which would then refuse the record for code.
func (p *prepared) stranded(a *contracts.Agreement, what, path string, o Obligation, code string) Reason {
	fix := fmt.Sprintf("an obligation (code %s) hides it, and must leave %s alone", o.Code, path)
	if o.Code == "outside_scope" {
		fix = fmt.Sprintf("the agreement's %s rule leaves it out: amend the agreement to admit %s", p.recordType, path)
	}
	return Reason{
		Code: ReasonDivisionNotCrossing,
		Message: fmt.Sprintf("agreement %s v%d %s, but that field would not cross (%s), so the destination would refuse the record for good (%s); %s",
			a.ID, a.Version, what, done(o.Action), code, fix),
		Layer: LayerFederation,
	}
}

// obligationOn is the obligation that acts on path: its own, or that of
// an object above it, which acts on everything below.
func obligationOn(obligations map[string]Obligation, path string) (Obligation, bool) {
	for p := range pathAndAbove(path) {
		if o, ok := obligations[p]; ok {
			return o, true
		}
	}
	return Obligation{}, false
}

// done is an obligation's action as what it does to the field.
func done(action string) string {
	if action == ActionMask {
		return "masked"
	}
	return "dropped"
}
