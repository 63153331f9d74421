package contracts

import (
	"strings"
	"time"
)

// Hand-written decoders for the records that cross borders in bulk. They
// accept exactly what encoding/json with DisallowUnknownFields accepts into
// the same types (FuzzDecodeEquivalence holds them to it), except that they
// are stricter in two ways a signed contract should be: member names must
// match exactly (encoding/json folds case) and a member may appear only once
// (encoding/json keeps the last, or merges objects).
//
// null leaves a field at its zero value, as encoding/json does.

// unknown fails on the member being read, not one of the contract's. In a
// record, it names the member the name differs from only in case, as
// unknownMember does (encoding/json would have taken it).
func (l *lexer) unknown() bool {
	if l.rtype != "" && l.depth > l.base && l.depth <= len(l.path) {
		var parent []string
		for _, s := range l.path[l.base : l.depth-1] {
			if s.idx < 0 {
				parent = append(parent, l.segName(s))
			}
		}
		return l.unknownMember(l.rtype, strings.Join(parent, "."), l.segName(l.path[l.depth-1]))
	}
	return l.fail("unknown field; the contract has no such member")
}

// segName is the member name s holds.
func (l *lexer) segName(s pathSeg) string {
	if s.to > s.from {
		return string(l.data[s.from:s.to])
	}
	return s.name
}

func (l *lexer) strInto(p *string) bool {
	if l.null() {
		return true
	}
	s, ok := l.str()
	*p = s
	return ok
}

func (l *lexer) int64Into(p *int64) bool {
	if l.null() {
		return true
	}
	n, ok := l.int()
	*p = n
	return ok
}

func (l *lexer) intInto(p *int) bool {
	if l.null() {
		return true
	}
	n, ok := l.int()
	*p = int(n)
	return ok
}

func (l *lexer) boolInto(p *bool) bool {
	if l.null() {
		return true
	}
	b, ok := l.bool()
	*p = b
	return ok
}

func (l *lexer) dateInto(p *Date) bool {
	if l.null() {
		return true
	}
	start := l.pos
	if raw, plain, ok := l.rawString(); !ok {
		return false
	} else if d, ok := parseDate(raw[1 : len(raw)-1]); ok && plain {
		*p = d
		return true
	}
	l.pos = start
	s, ok := l.str()
	if !ok {
		return false
	}
	if s == "" {
		*p = Date{}
		return true
	}
	d, err := ParseDate(s)
	if err != nil {
		l.pos = start
		return l.fail("%v", err)
	}
	*p = d
	return true
}

func (l *lexer) datePtrInto(p **Date) bool {
	if l.null() {
		*p = nil
		return true
	}
	d := new(Date)
	*p = d
	return l.dateInto(d)
}

// timeInto hands the raw token to time.Time's own JSON decoding, as
// encoding/json does, so escapes and formats mean the same.
func (l *lexer) timeInto(p *time.Time) bool {
	if l.null() {
		return true
	}
	start := l.pos
	raw, _, ok := l.rawString()
	if !ok {
		return false
	}
	if err := p.UnmarshalJSON(raw); err != nil {
		l.pos = start
		return l.fail("%s is not an RFC 3339 time such as 2026-03-01T08:00:00+08:00", raw)
	}
	return true
}

// header decodes a Header member; known is false for other members.
func (l *lexer) header(h *Header, key string) (known, ok bool) {
	switch key {
	case "schema":
		return true, l.codeInto(&h.Schema)
	case "id":
		return true, l.strInto(&h.ID)
	case "from":
		return true, l.codeInto(&h.From)
	case "to":
		return true, l.codeInto(&h.To)
	case "agreement_id":
		return true, l.strInto(&h.AgreementID)
	case "purpose":
		return true, l.codeInto((*string)(&h.Purpose))
	}
	return false, true
}

func (l *lexer) transfer(t *Transfer) bool {
	return l.object(func(key string) bool {
		if known, ok := l.header(&t.Header, key); known {
			return ok
		}
		switch key {
		case "worker":
			return l.null() || l.worker(&t.Worker)
		case "training":
			if l.null() {
				t.Training = nil
				return true
			}
			t.Training = new(Training)
			return l.training(t.Training)
		case "organizer":
			return l.null() || l.object(func(key string) bool {
				switch key {
				case "kind":
					return l.codeInto((*string)(&t.Organizer.Kind))
				case "name":
					return l.strInto(&t.Organizer.Name)
				case "credit_code":
					return l.strInto(&t.Organizer.CreditCode)
				}
				return l.unknown()
			})
		case "placement":
			return l.null() || l.placement(&t.Placement)
		case "labor_brand":
			return l.strInto(&t.LaborBrand)
		case "events":
			return l.events(&t.Events)
		}
		return l.unknown()
	})
}

func (l *lexer) worker(w *Worker) bool {
	return l.object(func(key string) bool {
		switch key {
		case "name":
			return l.strInto(&w.Name)
		case "id_number":
			return l.strInto(&w.IDNumber)
		case "sex":
			return l.codeInto((*string)(&w.Sex))
		case "birth_date":
			return l.dateInto(&w.BirthDate)
		case "phone":
			return l.strInto(&w.Phone)
		case "household_division":
			return l.codeInto(&w.HouseholdDivision)
		}
		return l.unknown()
	})
}

func (l *lexer) training(tr *Training) bool {
	return l.object(func(key string) bool {
		switch key {
		case "institution":
			return l.strInto(&tr.Institution)
		case "institution_code":
			return l.strInto(&tr.InstitutionCode)
		case "programme":
			return l.strInto(&tr.Programme)
		case "hours":
			return l.intInto(&tr.Hours)
		case "certificate":
			if l.null() {
				tr.Certificate = nil
				return true
			}
			c := new(Certificate)
			tr.Certificate = c
			return l.object(func(key string) bool {
				switch key {
				case "number":
					return l.strInto(&c.Number)
				case "skill_level":
					return l.intInto(&c.SkillLevel)
				}
				return l.unknown()
			})
		case "subsidy":
			if l.null() {
				tr.Subsidy = nil
				return true
			}
			s := new(Subsidy)
			tr.Subsidy = s
			return l.object(func(key string) bool {
				switch key {
				case "voucher_number":
					return l.strInto(&s.VoucherNumber)
				case "amount_fen":
					return l.int64Into(&s.AmountFen)
				}
				return l.unknown()
			})
		}
		return l.unknown()
	})
}

func (l *lexer) placement(p *Placement) bool {
	return l.object(func(key string) bool {
		switch key {
		case "employer_name":
			return l.strInto(&p.EmployerName)
		case "employer_credit_code":
			return l.strInto(&p.EmployerCreditCode)
		case "industry":
			return l.strInto(&p.Industry)
		case "job":
			return l.strInto(&p.Job)
		case "division":
			return l.codeInto(&p.Division)
		case "contract_start":
			return l.dateInto(&p.ContractStart)
		case "contract_end":
			return l.datePtrInto(&p.ContractEnd)
		case "monthly_wage_fen":
			return l.int64Into(&p.MonthlyWageFen)
		}
		return l.unknown()
	})
}

func (l *lexer) events(evs *[]LifecycleEvent) bool {
	if l.null() {
		*evs = nil
		return true
	}
	out := make([]LifecycleEvent, 0, 8)
	ok := l.array(func(int) bool {
		out = append(out, LifecycleEvent{})
		e := &out[len(out)-1]
		return l.null() || l.object(func(key string) bool {
			switch key {
			case "kind":
				return l.codeInto((*string)(&e.Kind))
			case "at":
				return l.timeInto(&e.At)
			}
			return l.unknown()
		})
	})
	*evs = out
	return ok
}

func (l *lexer) confirmation(c *Confirmation) bool {
	return l.object(func(key string) bool {
		if known, ok := l.header(&c.Header, key); known {
			return ok
		}
		switch key {
		case "transfer_id":
			return l.strInto(&c.TransferID)
		case "worker_id_number":
			return l.strInto(&c.WorkerIDNumber)
		case "employed":
			return l.boolInto(&c.Employed)
		case "since":
			return l.datePtrInto(&c.Since)
		case "employer_name":
			return l.strInto(&c.EmployerName)
		case "employer_credit_code":
			return l.strInto(&c.EmployerCreditCode)
		case "months_employed":
			return l.intInto(&c.MonthsEmployed)
		case "reason":
			return l.strInto(&c.Reason)
		case "confirmed_on":
			return l.dateInto(&c.ConfirmedOn)
		}
		return l.unknown()
	})
}

func (l *lexer) referral(r *Referral) bool {
	return l.object(func(key string) bool {
		if known, ok := l.header(&r.Header, key); known {
			return ok
		}
		switch key {
		case "kind":
			return l.codeInto((*string)(&r.Kind))
		case "worker":
			return l.null() || l.object(func(key string) bool {
				w := &r.Worker
				switch key {
				case "name":
					return l.strInto(&w.Name)
				case "id_number":
					return l.strInto(&w.IDNumber)
				case "phone":
					return l.strInto(&w.Phone)
				case "household_division":
					return l.codeInto(&w.HouseholdDivision)
				}
				return l.unknown()
			})
		case "employer":
			return l.null() || l.object(func(key string) bool {
				e := &r.Employer
				switch key {
				case "name":
					return l.strInto(&e.Name)
				case "credit_code":
					return l.strInto(&e.CreditCode)
				case "division":
					return l.codeInto(&e.Division)
				}
				return l.unknown()
			})
		case "amount_owed_fen":
			return l.int64Into(&r.AmountOwedFen)
		case "status":
			return l.codeInto((*string)(&r.Status))
		case "deadline":
			return l.dateInto(&r.Deadline)
		case "arbitration_fee_waived":
			return l.boolInto(&r.ArbitrationFeeWaived)
		case "notes":
			return l.strInto(&r.Notes)
		case "opened_at":
			return l.timeInto(&r.OpenedAt)
		}
		return l.unknown()
	})
}

func (l *lexer) referralUpdate(u *ReferralUpdate) bool {
	return l.object(func(key string) bool {
		if known, ok := l.header(&u.Header, key); known {
			return ok
		}
		switch key {
		case "referral_id":
			return l.strInto(&u.ReferralID)
		case "status":
			return l.codeInto((*string)(&u.Status))
		case "note":
			return l.strInto(&u.Note)
		case "amount_recovered_fen":
			return l.int64Into(&u.AmountRecoveredFen)
		case "at":
			return l.timeInto(&u.At)
		}
		return l.unknown()
	})
}
