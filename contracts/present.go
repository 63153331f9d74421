package contracts

// FieldsPresent returns the paths of every member present in the record's
// JSON form, objects and leaves alike ("worker", "worker.name", ...), in
// declaration order, with array elements sharing their array's path
// ("events.kind"). Members that omitempty leaves out are absent. Policy asks
// for it on every record, so it is written out per type rather than derived
// by reflection; a test holds it equal to the JSON form.
func FieldsPresent(rec Record) []string {
	switch r := rec.(type) {
	case *Transfer:
		return r.fieldsPresent()
	case *Confirmation:
		return r.fieldsPresent()
	case *Referral:
		return r.fieldsPresent()
	case *ReferralUpdate:
		return r.fieldsPresent()
	}
	return nil
}

var headerPaths = []string{"schema", "id", "from", "to", "agreement_id", "purpose"}

func (t *Transfer) fieldsPresent() []string {
	p := make([]string, 0, 48)
	p = append(p, headerPaths...)
	p = append(p, "worker", "worker.name", "worker.id_number", "worker.sex", "worker.birth_date")
	if t.Worker.Phone != "" {
		p = append(p, "worker.phone")
	}
	p = append(p, "worker.household_division")
	if tr := t.Training; tr != nil {
		p = append(p, "training", "training.institution")
		if tr.InstitutionCode != "" {
			p = append(p, "training.institution_code")
		}
		p = append(p, "training.programme", "training.hours")
		if tr.Certificate != nil {
			p = append(p, "training.certificate", "training.certificate.number", "training.certificate.skill_level")
		}
		if s := tr.Subsidy; s != nil {
			p = append(p, "training.subsidy")
			if s.VoucherNumber != "" {
				p = append(p, "training.subsidy.voucher_number")
			}
			p = append(p, "training.subsidy.amount_fen")
		}
	}
	p = append(p, "organizer", "organizer.kind")
	if t.Organizer.Name != "" {
		p = append(p, "organizer.name")
	}
	if t.Organizer.CreditCode != "" {
		p = append(p, "organizer.credit_code")
	}
	p = append(p, "placement", "placement.employer_name", "placement.employer_credit_code", "placement.industry",
		"placement.job", "placement.division", "placement.contract_start")
	if t.Placement.ContractEnd != nil {
		p = append(p, "placement.contract_end")
	}
	p = append(p, "placement.monthly_wage_fen")
	if t.LaborBrand != "" {
		p = append(p, "labor_brand")
	}
	p = append(p, "events")
	if len(t.Events) > 0 {
		p = append(p, "events.kind", "events.at")
	}
	return p
}

func (c *Confirmation) fieldsPresent() []string {
	p := make([]string, 0, 16)
	p = append(p, headerPaths...)
	p = append(p, "transfer_id", "worker_id_number", "employed")
	if c.Since != nil {
		p = append(p, "since")
	}
	if c.EmployerName != "" {
		p = append(p, "employer_name")
	}
	if c.EmployerCreditCode != "" {
		p = append(p, "employer_credit_code")
	}
	p = append(p, "months_employed")
	if c.Reason != "" {
		p = append(p, "reason")
	}
	return append(p, "confirmed_on")
}

func (r *Referral) fieldsPresent() []string {
	p := make([]string, 0, 24)
	p = append(p, headerPaths...)
	p = append(p, "kind", "worker", "worker.name", "worker.id_number")
	if r.Worker.Phone != "" {
		p = append(p, "worker.phone")
	}
	p = append(p, "worker.household_division", "employer", "employer.name", "employer.credit_code", "employer.division",
		"amount_owed_fen", "status", "deadline", "arbitration_fee_waived")
	if r.Notes != "" {
		p = append(p, "notes")
	}
	return append(p, "opened_at")
}

func (u *ReferralUpdate) fieldsPresent() []string {
	p := make([]string, 0, 12)
	p = append(p, headerPaths...)
	p = append(p, "referral_id", "status")
	if u.Note != "" {
		p = append(p, "note")
	}
	if u.AmountRecoveredFen != 0 {
		p = append(p, "amount_recovered_fen")
	}
	return append(p, "at")
}
