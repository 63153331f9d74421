package contracts

import "time"

// Validate checks the confirmation as of the wall clock; see ValidateAt.
func (r *Confirmation) Validate() error { return r.ValidateAt(time.Now()) }

// ValidateAt checks the confirmation against its contract as of now and
// returns a ValidationError listing every problem, or nil.
func (r *Confirmation) ValidateAt(now time.Time) error {
	var c checker
	c.header(&r.Header, RecordConfirmation)
	c.id("transfer_id", r.TransferID)
	// As for a referral's worker: a number that encodes a birth in the
	// future was mistyped, and matches no worker a subsidy can be paid for.
	birth, _, birthOK := c.idNumber("worker_id_number", r.WorkerIDNumber)
	if birthOK && today(now).Before(birth) {
		c.add("worker_id_number", "encodes a birth date in the future")
	}
	confirmedOK := c.date("confirmed_on", r.ConfirmedOn)
	switch {
	case confirmedOK && today(now).Before(r.ConfirmedOn):
		c.addf("confirmed_on", "%s is in the future", r.ConfirmedOn)
	case confirmedOK && birthOK && r.ConfirmedOn.Before(birth.AddYears(MinWorkingAge)):
		// A worker is transferred at working age: a confirmation, even
		// one that the worker is not employed, dated before it answers
		// no transfer of this worker.
		c.addf("confirmed_on", "makes the worker younger than %d, by the birth date the ID number encodes", MinWorkingAge)
	}
	sinceOK := false
	if r.Since != nil {
		sinceOK = c.date("since", *r.Since)
		if sinceOK && confirmedOK && r.ConfirmedOn.Before(*r.Since) {
			c.add("since", "is after confirmed_on")
		}
		// The transfer's rule for its contract start, for the job the
		// destination confirms: no employment before working age.
		if sinceOK && birthOK && r.Since.Before(birth.AddYears(MinWorkingAge)) {
			c.addf("since", "makes the worker younger than %d, by the birth date the ID number encodes, on the first day of employment", MinWorkingAge)
		}
	}
	if r.Employed {
		if r.Since == nil {
			c.add("since", "is required when employed")
		}
		c.text("employer_name", r.EmployerName, MaxTitleLen)
		c.creditCode("employer_credit_code", r.EmployerCreditCode, true)
	} else {
		c.optText("employer_name", r.EmployerName, MaxTitleLen, false)
		c.creditCode("employer_credit_code", r.EmployerCreditCode, false)
		if r.Reason == "" {
			c.add("reason", "is required when not employed")
		}
	}
	c.optText("reason", r.Reason, MaxNoteLen, true)
	// Subsidies tied to stable employment pay on "still employed at N
	// months": a month counts once it is whole. A negative confirmation may
	// still say how long the worker stayed before leaving, from since.
	switch {
	case r.MonthsEmployed < 0 || r.MonthsEmployed > MaxMonthsEmployed:
		c.addf("months_employed", "is %d, want 0 to %d", r.MonthsEmployed, MaxMonthsEmployed)
	case r.MonthsEmployed > 0 && r.Since == nil:
		c.addf("months_employed", "is %d without since, the first day of employment it counts from", r.MonthsEmployed)
	case sinceOK && confirmedOK && r.MonthsEmployed > monthsBetween(*r.Since, r.ConfirmedOn):
		c.addf("months_employed", "is %d, more than the %d whole months from since to confirmed_on",
			r.MonthsEmployed, monthsBetween(*r.Since, r.ConfirmedOn))
	}
	return c.err()
}

// monthsBetween counts the whole months from a to b. A month ends on the
// day of b's month that a's day falls on, or on the month's last day when
// it has no such day (Civil Code art. 202): from 31 January, one month is
// whole on 28 February.
func monthsBetween(a, b Date) int {
	n := (b.Year-a.Year)*12 + int(b.Month-a.Month)
	if b.Day < a.Day && b.Day < daysIn(b.Year, b.Month) {
		n--
	}
	return max(n, 0)
}
