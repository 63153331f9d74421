package contracts

import (
	"fmt"
	"time"
)

// Bounds on amounts and counts in transfers.
const (
	MaxMonthlyWageFen = 10_000_000 // 100,000 yuan a month
	MaxSubsidyFen     = 10_000_000 // 100,000 yuan
	MaxTrainingHours  = 5000
	MinWorkingAge     = 16 // Labour Law art. 15
	MaxMonthsEmployed = 600
	MaxAmountFen      = 100_000_000_000 // 1 billion yuan: a referral's amount at stake
)

// Validate checks the transfer as of the wall clock; see ValidateAt.
func (t *Transfer) Validate() error { return t.ValidateAt(time.Now()) }

// ValidateAt checks the transfer against its contract as of now and returns a
// ValidationError listing every problem, or nil.
func (t *Transfer) ValidateAt(now time.Time) error {
	var c checker
	c.header(&t.Header, RecordTransfer)
	c.worker(&t.Worker, t.From, today(now), t.Placement.ContractStart)
	if t.Training != nil {
		c.training(t.Training)
	}
	c.organizer(&t.Organizer)
	c.placement(&t.Placement, t.To)
	c.optText("labor_brand", t.LaborBrand, MaxNameLen, false)
	c.events(t.Events, now)
	return c.err()
}

func (c *checker) worker(w *Worker, from string, today, start Date) {
	c.text("worker.name", w.Name, MaxNameLen)
	birth, sex, ok := c.idNumber("worker.id_number", w.IDNumber)
	switch w.Sex {
	case SexMale, SexFemale:
		if ok && w.Sex != sex {
			c.add("worker.sex", "does not match the sex the ID number's sequence digit encodes")
		}
	case "":
		c.add("worker.sex", "is required")
	default:
		c.addf("worker.sex", "is not %q or %q", SexMale, SexFemale)
	}
	if c.date("worker.birth_date", w.BirthDate) {
		switch {
		case ok && w.BirthDate != birth:
			c.add("worker.birth_date", "does not match the birth date the ID number encodes")
		case today.Before(w.BirthDate):
			c.add("worker.birth_date", "is in the future")
		case !start.IsZero() && start.Before(w.BirthDate.AddYears(MinWorkingAge)):
			c.addf("worker.birth_date", "makes the worker younger than %d at contract start %s", MinWorkingAge, start)
		}
	}
	c.phone("worker.phone", w.Phone)
	c.division("worker.household_division", w.HouseholdDivision, from, atCounty)
}

func (c *checker) training(t *Training) {
	c.text("training.institution", t.Institution, MaxTitleLen)
	c.creditCode("training.institution_code", t.InstitutionCode, false)
	c.text("training.programme", t.Programme, MaxNameLen)
	if t.Hours < 1 || t.Hours > MaxTrainingHours {
		c.addf("training.hours", "is %d, want 1 to %d", t.Hours, MaxTrainingHours)
	}
	if cert := t.Certificate; cert != nil {
		c.number("training.certificate.number", cert.Number)
		if cert.SkillLevel < 1 || cert.SkillLevel > 5 {
			c.addf("training.certificate.skill_level", "is %d, want 1 (senior technician) to 5 (entry level)", cert.SkillLevel)
		}
	}
	if s := t.Subsidy; s != nil {
		c.optNumber("training.subsidy.voucher_number", s.VoucherNumber)
		c.amount("training.subsidy.amount_fen", s.AmountFen, MaxSubsidyFen)
	}
}

func (c *checker) organizer(o *Organizer) {
	switch o.Kind {
	case OrganizerPublicEmploymentService, OrganizerLaborCompany, OrganizerAgency, OrganizerTrainingInstitution:
		c.text("organizer.name", o.Name, MaxTitleLen)
		c.creditCode("organizer.credit_code", o.CreditCode, true)
	case OrganizerVillageOrganization, OrganizerBroker:
		c.text("organizer.name", o.Name, MaxTitleLen)
		c.creditCode("organizer.credit_code", o.CreditCode, false)
	case OrganizerSelf:
		c.optText("organizer.name", o.Name, MaxTitleLen, false)
		if o.CreditCode != "" {
			c.add("organizer.credit_code", "must be empty for a self-organized worker")
		}
	case "":
		c.add("organizer.kind", "is required")
	default:
		c.addf("organizer.kind", "%q is not an organizer kind", o.Kind)
	}
}

func (c *checker) placement(p *Placement, to string) {
	c.text("placement.employer_name", p.EmployerName, MaxTitleLen)
	c.creditCode("placement.employer_credit_code", p.EmployerCreditCode, true)
	if p.Industry == "" {
		c.add("placement.industry", "is required")
	} else if msg := industryProblem(p.Industry); msg != "" {
		c.add("placement.industry", msg)
	}
	c.text("placement.job", p.Job, MaxNameLen)
	c.division("placement.division", p.Division, to, atPrefecture|atCounty)
	startOK := c.date("placement.contract_start", p.ContractStart)
	if p.ContractEnd != nil && c.date("placement.contract_end", *p.ContractEnd) && startOK && p.ContractEnd.Before(p.ContractStart) {
		c.addf("placement.contract_end", "%s is before contract_start %s", *p.ContractEnd, p.ContractStart)
	}
	if p.MonthlyWageFen <= 0 || p.MonthlyWageFen > MaxMonthlyWageFen {
		c.addf("placement.monthly_wage_fen", "is out of range, want 1 to %d fen", MaxMonthlyWageFen)
	}
}

// eventRank orders the lifecycle: a worker registers, departs, arrives, is
// employed, leaves and returns. Steps may be skipped but not reversed, except
// that a worker who left a job may be employed again.
func eventRank(k EventKind) int {
	switch k {
	case EventRegistered:
		return 1
	case EventDeparted:
		return 2
	case EventArrived:
		return 3
	case EventEmployed:
		return 4
	case EventLeft:
		return 5
	case EventReturned:
		return 6
	}
	return 0
}

func (c *checker) events(evs []LifecycleEvent, now time.Time) {
	switch {
	case len(evs) == 0:
		c.add("events", "is required: at least the registration")
		return
	case len(evs) > MaxEvents:
		c.addf("events", "has %d events, want at most %d", len(evs), MaxEvents)
		return
	}
	prevRank, prevOK := 0, false
	var prev LifecycleEvent
	for i, e := range evs {
		rank := eventRank(e.Kind)
		switch {
		case e.Kind == "":
			c.add(fmt.Sprintf("events[%d].kind", i), "is required")
		case rank == 0:
			c.addf(fmt.Sprintf("events[%d].kind", i), "%q is not an event kind", e.Kind)
		case prevRank > 0 && rank <= prevRank && !(prev.Kind == EventLeft && e.Kind == EventEmployed):
			c.addf(fmt.Sprintf("events[%d].kind", i), "%s cannot follow %s", e.Kind, prev.Kind)
		}
		ok := true
		if msg := pastInstantProblem(e.At, now); msg != "" {
			c.add(fmt.Sprintf("events[%d].at", i), msg)
			ok = false
		}
		if ok && prevOK && e.At.Before(prev.At) {
			c.addf(fmt.Sprintf("events[%d].at", i), "%s is before the previous event's %s", e.At.Format(time.RFC3339), prev.At.Format(time.RFC3339))
		}
		if rank > 0 {
			prevRank = rank
		}
		prev, prevOK = e, ok
	}
}
