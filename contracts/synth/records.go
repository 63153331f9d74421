package synth

import (
	"fmt"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// Transfer generates a worker-transfer record from the origin to the destination.
func (g *Generator) Transfer() *contracts.Transfer {
	p := g.person()
	prog := programmes[g.rng.IntN(len(programmes))]
	t := &contracts.Transfer{
		Header: contracts.Header{
			Schema: contracts.SchemaTransfer, ID: g.nextID("TR", g.cfg.Origin),
			From: g.cfg.Origin, To: g.cfg.Destination,
			AgreementID: g.agreement, Purpose: contracts.PurposeEmploymentService,
		},
		Worker: contracts.Worker{
			Name: p.name, IDNumber: p.idNumber, Sex: p.sex, BirthDate: p.birth,
			HouseholdDivision: p.home.Code,
		},
		Organizer: g.organizer(p.home),
	}
	if g.chance(0.9) {
		t.Worker.Phone = p.phone
	}
	if g.chance(0.75) {
		t.Training = g.training(p.home, prog)
		if t.Training.Subsidy != nil && g.chance(0.3) {
			t.Purpose = contracts.PurposeTrainingSubsidy
		}
	}
	if g.chance(0.6) {
		t.LaborBrand = g.laborBrand()
	}
	t.Placement = g.placement(prog)
	t.Events = g.events(t.Placement.ContractStart)
	return t
}

func (g *Generator) training(home contracts.Division, prog programme) *contracts.Training {
	tr := &contracts.Training{
		Institution:     placeName(home) + g.pick(tradeNames) + "职业技能培训学校",
		InstitutionCode: g.creditCode("52", home.Code),
		Programme:       prog.name,
		Hours:           prog.hours/2 + g.rng.IntN(prog.hours+1),
	}
	if g.chance(0.6) {
		tr.Certificate = &contracts.Certificate{
			Number:     fmt.Sprintf("S%s%010d", g.cfg.Origin, g.rng.IntN(10_000_000_000)),
			SkillLevel: g.between(3, 5),
		}
	}
	if g.chance(0.7) {
		tr.Subsidy = &contracts.Subsidy{AmountFen: int64(g.between(5, 30)) * 10_000}
		if g.chance(0.5) {
			tr.Subsidy.VoucherNumber = fmt.Sprintf("TV%s%d%07d", g.cfg.Origin, g.cfg.Today.Year, g.rng.IntN(10_000_000))
		}
	}
	return tr
}

func (g *Generator) placement(prog programme) contracts.Placement {
	e := g.employer(prog.industry)
	start := g.daysBefore(g.cfg.Today, g.between(0, 365))
	p := contracts.Placement{
		EmployerName:       e.name,
		EmployerCreditCode: e.creditCode,
		Industry:           prog.industry,
		Job:                prog.job,
		Division:           e.division.Code,
		ContractStart:      start,
		MonthlyWageFen:     int64(g.between(30, 120)) * 10_000,
	}
	if g.chance(0.8) {
		end := contracts.DateOf(start.Time().AddDate(g.between(1, 3), 0, -1))
		p.ContractEnd = &end
	}
	return p
}

// events makes the lifecycle up to employment on the contract's first day,
// and for some workers a departure from the job and a return home.
func (g *Generator) events(start contracts.Date) []contracts.LifecycleEvent {
	arrived := g.daysBefore(start, g.between(1, 3))
	departed := g.daysBefore(arrived, 1)
	registered := g.daysBefore(departed, g.between(3, 40))
	evs := []contracts.LifecycleEvent{
		{Kind: contracts.EventRegistered, At: g.at(registered)},
		{Kind: contracts.EventDeparted, At: g.at(departed)},
		{Kind: contracts.EventArrived, At: g.at(arrived)},
		{Kind: contracts.EventEmployed, At: g.at(start)},
	}
	if left := g.daysAfter(start, g.between(30, 300)); g.chance(0.15) && left.Before(g.cfg.Today) {
		evs = append(evs, contracts.LifecycleEvent{Kind: contracts.EventLeft, At: g.at(left)})
		if back := g.daysAfter(left, g.between(1, 5)); g.chance(0.5) && !g.cfg.Today.Before(back) {
			evs = append(evs, contracts.LifecycleEvent{Kind: contracts.EventReturned, At: g.at(back)})
		}
	}
	return evs
}

// Confirmation generates the destination's answer to a transfer: mostly
// employed since the contract start, sometimes not (with a reason).
func (g *Generator) Confirmation(t *contracts.Transfer) *contracts.Confirmation {
	start := t.Placement.ContractStart
	confirmed := g.daysBefore(g.cfg.Today, g.between(0, 20))
	if confirmed.Before(start) {
		confirmed = start
	}
	c := &contracts.Confirmation{
		Header: contracts.Header{
			Schema: contracts.SchemaConfirmation, ID: g.nextID("CF", t.To),
			From: t.To, To: t.From, AgreementID: t.AgreementID,
			Purpose: contracts.PurposeEmploymentConfirmation,
		},
		TransferID:     t.ID,
		WorkerIDNumber: t.Worker.IDNumber,
		ConfirmedOn:    confirmed,
	}
	if t.Training != nil && t.Training.Subsidy != nil && g.chance(0.5) {
		c.Purpose = contracts.PurposeTrainingSubsidy
	}
	months := monthsBetween(start, confirmed)
	if g.chance(0.85) {
		since := start
		c.Employed, c.Since = true, &since
		c.EmployerName, c.EmployerCreditCode = t.Placement.EmployerName, t.Placement.EmployerCreditCode
		c.MonthsEmployed = months
		return c
	}
	c.Reason = g.pick(refusalReasons)
	if g.chance(0.5) {
		since := start
		c.Since = &since
		c.MonthsEmployed = g.between(0, months)
	}
	return c
}

func monthsBetween(a, b contracts.Date) int {
	n := (b.Year-a.Year)*12 + int(b.Month-a.Month)
	if b.Day < a.Day {
		n--
	}
	return max(n, 0)
}

// Agreement generates a cooperation agreement between the two provinces, or
// between a county of the origin and a prefecture or county of the destination,
// with scope rules for every record type.
func (g *Generator) Agreement() *contracts.Agreement {
	g.agreements++
	id := fmt.Sprintf("AG-%s-%s-%d-%03d", g.cfg.Origin, g.cfg.Destination, g.cfg.Today.Year, g.agreements)
	origin := contracts.Party{Division: g.cfg.Origin + "0000", Name: mustProvinceName(g.cfg.Origin) + "人力资源和社会保障厅"}
	dest := contracts.Party{Division: g.cfg.Destination + "0000", Name: mustProvinceName(g.cfg.Destination) + "人力资源和社会保障厅"}
	title := fmt.Sprintf("%s—%s劳务协作协议", provinceShort(g.cfg.Origin), provinceShort(g.cfg.Destination))
	if g.chance(0.3) {
		oc, dc := g.county(g.origin), g.county(g.dest)
		origin = contracts.Party{Division: oc.Code, Name: placeName(oc) + "人力资源和社会保障局"}
		dest = contracts.Party{Division: dc.Code, Name: placeName(dc) + "人力资源和社会保障局"}
		title = fmt.Sprintf("%s—%s劳务协作协议", placeName(oc), placeName(dc))
	}
	from := contracts.Date{Year: g.cfg.Today.Year, Month: time.January, Day: 1}
	return &contracts.Agreement{
		Schema: contracts.SchemaAgreement, ID: id, Version: 1,
		Title:       fmt.Sprintf("%s（%d—%d年）", title, from.Year, from.Year+2),
		Origin:      origin,
		Destination: dest,
		ValidFrom:   from,
		ValidUntil:  contracts.Date{Year: from.Year + 2, Month: time.December, Day: 31},
		Scope:       DefaultScope(),
		Quotas: []contracts.Quota{
			{RecordType: contracts.RecordTransfer, Period: contracts.QuotaYear, Max: 100_000 * g.between(1, 5)},
		},
		Status: contracts.AgreementProposed,
	}
}

func mustProvinceName(code string) string {
	name, _ := contracts.ProvinceName(code)
	return name
}

// DefaultScope is the scope a typical provincial agreement grants: transfers
// for employment service, subsidies and rights, with ID numbers and phones in
// clear; confirmations for subsidies; referrals and updates for rights.
func DefaultScope() []contracts.ScopeRule {
	return []contracts.ScopeRule{
		{
			RecordType: contracts.RecordTransfer,
			Purposes:   []contracts.Purpose{contracts.PurposeEmploymentService, contracts.PurposeTrainingSubsidy, contracts.PurposeRightsProtection, contracts.PurposeStatistics},
			Fields: []string{"schema", "id", "from", "to", "agreement_id", "purpose",
				"worker.name", "worker.id_number", "worker.sex", "worker.birth_date", "worker.phone", "worker.household_division",
				"training", "organizer", "placement", "labor_brand", "events"},
			Clear: []string{"worker.id_number", "worker.phone"},
		},
		{
			RecordType: contracts.RecordConfirmation,
			Purposes:   []contracts.Purpose{contracts.PurposeEmploymentConfirmation, contracts.PurposeTrainingSubsidy, contracts.PurposeStatistics},
			Fields: []string{"schema", "id", "from", "to", "agreement_id", "purpose", "transfer_id", "worker_id_number",
				"employed", "since", "employer_name", "employer_credit_code", "months_employed", "reason", "confirmed_on"},
			Clear: []string{"worker_id_number"},
		},
		{
			RecordType: contracts.RecordReferral,
			Purposes:   []contracts.Purpose{contracts.PurposeRightsProtection},
			Fields: []string{"schema", "id", "from", "to", "agreement_id", "purpose", "kind", "worker", "employer",
				"amount_owed_fen", "status", "deadline", "arbitration_fee_waived", "notes", "opened_at"},
			Clear: []string{"worker.id_number", "worker.phone"},
		},
		{
			RecordType: contracts.RecordReferralUpdate,
			Purposes:   []contracts.Purpose{contracts.PurposeRightsProtection},
			Fields:     []string{"schema", "id", "from", "to", "agreement_id", "purpose", "referral_id", "status", "note", "amount_recovered_fen", "at"},
		},
	}
}

var caseKinds = []struct {
	kind   contracts.CaseKind
	weight int
}{
	{contracts.CaseWageArrears, 50}, {contracts.CaseWorkInjury, 20}, {contracts.CaseContractDispute, 15},
	{contracts.CaseIllegalAgency, 10}, {contracts.CaseOther, 5},
}

func (g *Generator) caseKind() contracts.CaseKind {
	n := g.rng.IntN(100)
	for _, k := range caseKinds {
		if n < k.weight {
			return k.kind
		}
		n -= k.weight
	}
	return contracts.CaseOther
}

// Referral generates a rights-case referral about a worker from the origin and
// an employer in the destination, sent either way between the two.
func (g *Generator) Referral() *contracts.Referral {
	p := g.person()
	kind := g.caseKind()
	e := g.employer(programmes[g.rng.IntN(len(programmes))].industry)
	from, to := g.cfg.Destination, g.cfg.Origin
	if g.chance(0.4) {
		from, to = to, from
	}
	opened := g.at(g.daysBefore(g.cfg.Today, g.between(0, 60)))
	r := &contracts.Referral{
		Header: contracts.Header{
			Schema: contracts.SchemaReferral, ID: g.nextID("RF", from),
			From: from, To: to, AgreementID: g.agreement, Purpose: contracts.PurposeRightsProtection,
		},
		Kind:     kind,
		Worker:   contracts.ReferralWorker{Name: p.name, IDNumber: p.idNumber, HouseholdDivision: p.home.Code},
		Employer: contracts.Employer{Name: e.name, CreditCode: e.creditCode, Division: e.division.Code},
		Status:   contracts.CaseReferred,
		Deadline: g.daysAfter(contracts.DateOf(opened), g.pick2(15, 30)),
		Notes:    g.pick(caseNotes[string(kind)]),
		OpenedAt: opened,
	}
	if g.chance(0.8) {
		r.Worker.Phone = p.phone
	}
	switch kind {
	case contracts.CaseWageArrears:
		r.AmountOwedFen = int64(g.between(5, 500)) * 10_000
		r.ArbitrationFeeWaived = g.chance(0.7)
	case contracts.CaseWorkInjury:
		r.AmountOwedFen = int64(g.between(20, 2000)) * 10_000
		r.ArbitrationFeeWaived = g.chance(0.5)
	case contracts.CaseContractDispute:
		r.AmountOwedFen = int64(g.between(0, 100)) * 10_000
	}
	return r
}

func (g *Generator) pick2(a, b int) int {
	if g.chance(0.5) {
		return a
	}
	return b
}

var updateStatuses = []contracts.CaseStatus{
	contracts.CaseAccepted, contracts.CaseInvestigating, contracts.CaseResolved, contracts.CaseClosed, contracts.CaseRejected,
}

// ReferralUpdate generates the receiving side's update on a referral.
func (g *Generator) ReferralUpdate(r *contracts.Referral) *contracts.ReferralUpdate {
	status := updateStatuses[g.rng.IntN(len(updateStatuses))]
	u := &contracts.ReferralUpdate{
		Header: contracts.Header{
			Schema: contracts.SchemaReferralUpdate, ID: g.nextID("RU", r.To),
			From: r.To, To: r.From, AgreementID: r.AgreementID, Purpose: contracts.PurposeRightsProtection,
		},
		ReferralID: r.ID,
		Status:     status,
		Note:       updateNotes[string(status)],
		At:         r.OpenedAt.Add(time.Duration(g.between(1, g.hoursLeft(r.OpenedAt, 20*24))) * time.Hour),
	}
	if status == contracts.CaseResolved || status == contracts.CaseClosed {
		u.AmountRecoveredFen = r.AmountOwedFen
		if g.chance(0.3) {
			u.AmountRecoveredFen = r.AmountOwedFen / 2
		}
	}
	return u
}

// Record generates one record of the type: a confirmation answers a transfer
// generated for it, a referral update a referral, and an agreement is returned
// as is (it is not a contracts.Record). The value marshals to the record's
// JSON form.
func (g *Generator) Record(t contracts.RecordType) (any, error) {
	switch t {
	case contracts.RecordTransfer:
		return g.Transfer(), nil
	case contracts.RecordConfirmation:
		return g.Confirmation(g.Transfer()), nil
	case contracts.RecordAgreement:
		return g.Agreement(), nil
	case contracts.RecordReferral:
		return g.Referral(), nil
	case contracts.RecordReferralUpdate:
		return g.ReferralUpdate(g.Referral()), nil
	}
	return nil, fmt.Errorf("no generator for record type %q", t)
}

// hoursLeft is at most limit, and no more whole hours than from t to the end
// of the generator's today: nodes refuse records dated in their future.
func (g *Generator) hoursLeft(t time.Time, limit int) int {
	end := time.Date(g.cfg.Today.Year, g.cfg.Today.Month, g.cfg.Today.Day+1, 0, 0, 0, 0, cst)
	return max(1, min(limit, int(end.Sub(t)/time.Hour)))
}

// InForce keeps a generated agreement in force on today, years after
// DefaultToday too: one that would end within a year of today runs on
// instead until the end of the second year after today's. Records stay
// dated around Config.Today, so their IDs, and the agreement's, do not
// change from run to run; only a test, demonstration or load run on a
// clock past the generated period would otherwise find every record
// denied with agreement_expired, or the registry refusing to approve it.
func InForce(a *contracts.Agreement, today contracts.Date) {
	if a.ValidUntil.Before(today.AddYears(1)) {
		a.ValidUntil = contracts.Date{Year: today.Year + 2, Month: time.December, Day: 31}
	}
}
