package contracts

import "time"

// Validate checks the referral as of the wall clock; see ValidateAt.
func (r *Referral) Validate() error { return r.ValidateAt(time.Now()) }

// ValidateAt checks the referral against its contract as of now and returns
// a ValidationError listing every problem, or nil.
//
// A referral runs between the worker's home province and the employer's, in
// either direction: the household division must be in one of From and To and
// the employer's division in the other.
func (r *Referral) ValidateAt(now time.Time) error {
	var c checker
	c.header(&r.Header, RecordReferral)
	switch r.Kind {
	case CaseWageArrears, CaseWorkInjury, CaseContractDispute, CaseIllegalAgency, CaseOther:
	case "":
		c.add("kind", "is required")
	default:
		c.addf("kind", "%q is not a case kind", r.Kind)
	}
	w := &r.Worker
	c.text("worker.name", w.Name, MaxNameLen)
	if birth, _, ok := c.idNumber("worker.id_number", w.IDNumber); ok && today(now).Before(birth) {
		c.add("worker.id_number", "encodes a birth date in the future")
	}
	c.phone("worker.phone", w.Phone)
	c.division("worker.household_division", w.HouseholdDivision, "", atCounty)
	e := &r.Employer
	c.text("employer.name", e.Name, MaxTitleLen)
	c.creditCode("employer.credit_code", e.CreditCode, true)
	c.division("employer.division", e.Division, "", atPrefecture|atCounty)
	c.referralSides(r)
	c.amount("amount_owed_fen", r.AmountOwedFen, MaxAmountFen)
	c.referralStatus(r.Status)
	deadlineOK := c.date("deadline", r.Deadline)
	if c.pastInstant("opened_at", r.OpenedAt, now) && deadlineOK {
		if opened := DateOf(r.OpenedAt.In(chinaTime)); r.Deadline.Before(opened) {
			c.addf("deadline", "%s is before the day the case was opened, %s", r.Deadline, opened)
		}
	}
	c.optText("notes", r.Notes, MaxNoteLen, true)
	return c.err()
}

func (c *checker) referralSides(r *Referral) {
	hd, ed := r.Worker.HouseholdDivision, r.Employer.Division
	if len(hd) != 6 || len(ed) != 6 || !IsProvince(r.From) || !IsProvince(r.To) {
		return // reported already
	}
	home, work := hd[:2], ed[:2]
	if (home == r.From && work == r.To) || (home == r.To && work == r.From) {
		return
	}
	c.addf("employer.division", "employer in province %s and worker from %s, but the referral runs %s -> %s: want the worker's home province and the employer's as from and to",
		work, home, r.From, r.To)
}

// Known reports whether s is one of the case states.
func (s CaseStatus) Known() bool {
	switch s {
	case CaseReferred, CaseAccepted, CaseInvestigating, CaseResolved, CaseClosed, CaseRejected:
		return true
	}
	return false
}

// referralStatus checks the status a referral opens its case in: referred,
// always. A case born accepted or closed would never be overdue and no
// update could move it, and one born accepted would be its opener's answer
// to its own referral: where it goes next travels as updates.
func (c *checker) referralStatus(s CaseStatus) {
	c.caseStatus("status", s)
	if s != CaseReferred && s.Known() {
		c.addf("status", "a referral opens its case: want %q, not %q (later statuses are sent as referral updates)", CaseReferred, s)
	}
}

func (c *checker) caseStatus(path string, s CaseStatus) {
	switch {
	case s.Known():
	case s == "":
		c.add(path, "is required")
	default:
		c.addf(path, "%q is not a case status", s)
	}
}

// Validate checks the update as of the wall clock; see ValidateAt.
func (u *ReferralUpdate) Validate() error { return u.ValidateAt(time.Now()) }

// ValidateAt checks the referral update against its contract and returns a
// ValidationError listing every problem, or nil. An update moves a case on, so
// its status is never "referred"; a rejection says why in its note.
func (u *ReferralUpdate) ValidateAt(now time.Time) error {
	var c checker
	c.header(&u.Header, RecordReferralUpdate)
	c.id("referral_id", u.ReferralID)
	c.caseStatus("status", u.Status)
	if u.Status == CaseReferred {
		c.add("status", "an update cannot move a case back to referred")
	}
	if u.Status == CaseRejected && u.Note == "" {
		c.add("note", "is required when the case is rejected")
	}
	c.optText("note", u.Note, MaxNoteLen, true)
	c.amount("amount_recovered_fen", u.AmountRecoveredFen, MaxAmountFen)
	c.pastInstant("at", u.At, now)
	return c.err()
}
