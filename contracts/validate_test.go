package contracts_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
)

// rule is one validation rule exercised by breaking a valid record.
type rule[T any] struct {
	name string
	mut  func(*T)
	path string // the field the problem must name
	msg  string // a fragment of what it must say
}

// full returns a generated record for which keep holds, so that every
// optional part a rule breaks is present.
func full[T any](t *testing.T, gen func(*synth.Generator) *T, keep func(*T) bool) *T {
	t.Helper()
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 99})
	if err != nil {
		t.Fatal(err)
	}
	for range 10_000 {
		if r := gen(g); keep(r) {
			return r
		}
	}
	t.Fatal("no generated record fits")
	return nil
}

func clone[T any](t *testing.T, v *T) *T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	c := new(T)
	if err := json.Unmarshal(b, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func runRules[T any](t *testing.T, base *T, validate func(*T) error, rules []rule[T]) {
	t.Helper()
	if err := validate(base); err != nil {
		t.Fatalf("base record is invalid: %v", err)
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			rec := clone(t, base)
			r.mut(rec)
			err := validate(rec)
			if err == nil {
				t.Fatalf("valid; want %s: ...%s...", r.path, r.msg)
			}
			for _, fe := range contracts.FieldErrors(err) {
				if fe.Path == r.path && strings.Contains(fe.Message, r.msg) {
					return
				}
			}
			t.Errorf("got %v; want %s: ...%s...", err, r.path, r.msg)
		})
	}
}

var now = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func date(s string) contracts.Date {
	d, err := contracts.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// withID gives a worker a valid ID number with the given address, birth
// date and sequence.
func withID(address, birth, seq string) string {
	first := address + birth + seq
	return first + string(contracts.IDNumberCheckChar(first))
}

func withCredit(first16 string) string {
	first := first16 + "X"
	return first + string(contracts.CreditCodeCheckChar(first))
}

func TestTransferRules(t *testing.T) {
	base := full(t, (*synth.Generator).Transfer, func(tr *contracts.Transfer) bool {
		return tr.Training != nil && tr.Training.Certificate != nil && tr.Training.Subsidy != nil &&
			tr.Placement.ContractEnd != nil && tr.Worker.Phone != "" && tr.Organizer.Kind == contracts.OrganizerLaborCompany
	})
	type T = contracts.Transfer
	rules := []rule[T]{
		{"schema", func(r *T) { r.Schema = contracts.SchemaReferral }, "schema", "want \"laborlink.transfer/v1\""},
		{"id required", func(r *T) { r.ID = "" }, "id", "required"},
		{"id too long", func(r *T) { r.ID = strings.Repeat("a", 65) }, "id", "at most 64"},
		{"id spaces", func(r *T) { r.ID = "TR 1" }, "id", "character 3 is ' ', want printable ASCII without spaces"},
		{"id non-ascii", func(r *T) { r.ID = "TR-川" }, "id", "character 4 is '川'"},
		{"from unknown", func(r *T) { r.From = "99" }, "from", "not a province"},
		{"to missing", func(r *T) { r.To = "" }, "to", "required"},
		{"from equals to", func(r *T) { r.To = r.From }, "to", "equals from"},
		{"agreement id", func(r *T) { r.AgreementID = "" }, "agreement_id", "required"},
		{"agreement id outside the token alphabet", func(r *T) { r.AgreementID = "AG/51-44/2026" }, "agreement_id", "character 3 is '/'"},
		{"purpose unknown", func(r *T) { r.Purpose = "marketing" }, "purpose", "not a purpose"},
		{"purpose of another type", func(r *T) { r.Purpose = contracts.PurposeEmploymentConfirmation }, "purpose", "not a purpose a transfer"},
		{"name required", func(r *T) { r.Worker.Name = "" }, "worker.name", "required"},
		{"name too long", func(r *T) { r.Worker.Name = strings.Repeat("张", 65) }, "worker.name", "at most 64"},
		{"name control char", func(r *T) { r.Worker.Name = "张\x00三" }, "worker.name", "control character"},
		{"id number length", func(r *T) { r.Worker.IDNumber = "51" }, "worker.id_number", "want 18"},
		{"id number letter", func(r *T) { r.Worker.IDNumber = "5A" + r.Worker.IDNumber[2:] }, "worker.id_number", "want a digit"},
		{"id number check", func(r *T) {
			c := byte('0')
			if r.Worker.IDNumber[17] == '0' {
				c = '1'
			}
			r.Worker.IDNumber = r.Worker.IDNumber[:17] + string(c)
		}, "worker.id_number", "check character is"},
		{"id number with a full-width digit", func(r *T) { r.Worker.IDNumber = "５" + r.Worker.IDNumber[1:] }, "worker.id_number", "character 1 is '５', want a digit"},
		{"id number lower x", func(r *T) { r.Worker.IDNumber = r.Worker.IDNumber[:17] + "x" }, "worker.id_number", "upper-case X"},
		{"id number province", func(r *T) { r.Worker.IDNumber = withID("991321", "19900101", "123") }, "worker.id_number", "names no province"},
		{"id number birth", func(r *T) { r.Worker.IDNumber = withID("511321", "19900230", "123") }, "worker.id_number", "not a real date"},
		{"id number 1800s", func(r *T) { r.Worker.IDNumber = withID("511321", "18991231", "123") }, "worker.id_number", "from 1900"},
		{"birth date mismatch", func(r *T) { r.Worker.BirthDate = r.Worker.BirthDate.AddYears(1) }, "worker.birth_date", "ID number encodes"},
		{"birth in future", func(r *T) {
			r.Worker.BirthDate = date("2027-01-01")
			r.Worker.IDNumber = withID("511321", "20270101", "123")
			r.Worker.Sex = contracts.SexMale
		}, "worker.birth_date", "in the future"},
		{"too young", func(r *T) {
			r.Worker.BirthDate = date("2015-01-01")
			r.Worker.IDNumber = withID("511321", "20150101", "123")
			r.Worker.Sex = contracts.SexMale
		}, "worker.birth_date", "younger than 16"},
		{"birth date missing", func(r *T) { r.Worker.BirthDate = contracts.Date{} }, "worker.birth_date", "required"},
		{"sex parity", func(r *T) {
			if r.Worker.Sex == contracts.SexMale {
				r.Worker.Sex = contracts.SexFemale
			} else {
				r.Worker.Sex = contracts.SexMale
			}
		}, "worker.sex", "sequence digit"},
		{"sex unknown", func(r *T) { r.Worker.Sex = "other" }, "worker.sex", `is not "male" or "female"`},
		{"phone short", func(r *T) { r.Worker.Phone = "1380013800" }, "worker.phone", "11 digits"},
		{"phone prefix", func(r *T) { r.Worker.Phone = "23800138000" }, "worker.phone", "starting with 1"},
		{"household outside origin", func(r *T) { r.Worker.HouseholdDivision = "440106" }, "worker.household_division", "want a division of 51"},
		{"household not a county", func(r *T) { r.Worker.HouseholdDivision = "511300" }, "worker.household_division", "want a county"},
		{"household not in table", func(r *T) { r.Worker.HouseholdDivision = "511399" }, "worker.household_division", "not in the division table"},
		{"household malformed", func(r *T) { r.Worker.HouseholdDivision = "51132" }, "worker.household_division", "6-digit"},
		{"institution required", func(r *T) { r.Training.Institution = "" }, "training.institution", "required"},
		{"institution code", func(r *T) { r.Training.InstitutionCode = "52511321ABCDEFGHIO" }, "training.institution_code", "not one of"},
		{"programme", func(r *T) { r.Training.Programme = "" }, "training.programme", "required"},
		{"hours zero", func(r *T) { r.Training.Hours = 0 }, "training.hours", "want 1 to"},
		{"hours huge", func(r *T) { r.Training.Hours = 100000 }, "training.hours", "want 1 to"},
		{"certificate number", func(r *T) { r.Training.Certificate.Number = "" }, "training.certificate.number", "required"},
		{"skill level", func(r *T) { r.Training.Certificate.SkillLevel = 6 }, "training.certificate.skill_level", "want 1"},
		{"subsidy negative", func(r *T) { r.Training.Subsidy.AmountFen = -1 }, "training.subsidy.amount_fen", "not negative"},
		{"subsidy huge", func(r *T) { r.Training.Subsidy.AmountFen = contracts.MaxSubsidyFen + 1 }, "training.subsidy.amount_fen", "at most"},
		{"voucher", func(r *T) { r.Training.Subsidy.VoucherNumber = "TV 1" }, "training.subsidy.voucher_number", "printable ASCII"},
		{"organizer kind", func(r *T) { r.Organizer.Kind = "gang" }, "organizer.kind", "not an organizer kind"},
		{"organizer kind missing", func(r *T) { r.Organizer.Kind = "" }, "organizer.kind", "required"},
		{"organizer code required", func(r *T) { r.Organizer.CreditCode = "" }, "organizer.credit_code", "required"},
		{"organizer name required", func(r *T) { r.Organizer.Name = "" }, "organizer.name", "required"},
		{"self has no code", func(r *T) { r.Organizer.Kind = contracts.OrganizerSelf }, "organizer.credit_code", "must be empty"},
		{"credit code with a full-width letter", func(r *T) {
			r.Placement.EmployerCreditCode = r.Placement.EmployerCreditCode[:8] + "Ａ" + r.Placement.EmployerCreditCode[9:]
		}, "placement.employer_credit_code", "character 9 is 'Ａ', not one of"},
		{"credit code length", func(r *T) { r.Placement.EmployerCreditCode = "91440101" }, "placement.employer_credit_code", "want 18"},
		{"credit code check", func(r *T) {
			c := r.Placement.EmployerCreditCode
			x := byte('0')
			if c[17] == '0' {
				x = '1'
			}
			r.Placement.EmployerCreditCode = c[:17] + string(x)
		}, "placement.employer_credit_code", "check character is"},
		{"credit code division", func(r *T) { r.Placement.EmployerCreditCode = withCredit("91AB0101ABCDEFGH") }, "placement.employer_credit_code", "not 6 digits"},
		{"credit code province", func(r *T) { r.Placement.EmployerCreditCode = withCredit("91990101ABCDEFGH") }, "placement.employer_credit_code", "names no province"},
		{"credit code national", func(r *T) { r.Placement.EmployerCreditCode = withCredit("91109999ABCDEFGH") }, "placement.employer_credit_code", "national registrations use 100000"},
		{"employer required", func(r *T) { r.Placement.EmployerCreditCode = "" }, "placement.employer_credit_code", "required"},
		{"industry section", func(r *T) { r.Placement.Industry = "Z1810" }, "placement.industry", "section letter A-T"},
		{"industry digits", func(r *T) { r.Placement.Industry = "C18101" }, "placement.industry", "2 to 4 digits"},
		{"industry one digit", func(r *T) { r.Placement.Industry = "C1" }, "placement.industry", "alone or with 2 to 4 digits"},
		{"industry letters", func(r *T) { r.Placement.Industry = "CC" }, "placement.industry", "GB/T 4754"},
		{"industry division of another section", func(r *T) { r.Placement.Industry = "A1810" }, "placement.industry", "division 18 is not in section A"},
		{"industry missing", func(r *T) { r.Placement.Industry = "" }, "placement.industry", "required"},
		{"job", func(r *T) { r.Placement.Job = "" }, "placement.job", "required"},
		{"workplace outside destination", func(r *T) { r.Placement.Division = "511321" }, "placement.division", "want a division of 44"},
		{"workplace is a province", func(r *T) { r.Placement.Division = "440000" }, "placement.division", "want a prefecture or county"},
		{"contract start", func(r *T) { r.Placement.ContractStart = contracts.Date{} }, "placement.contract_start", "required"},
		{"contract end before start", func(r *T) { e := r.Placement.ContractStart.AddMonths(-1); r.Placement.ContractEnd = &e }, "placement.contract_end", "before contract_start"},
		{"contract end impossible", func(r *T) { r.Placement.ContractEnd = &contracts.Date{Year: 2026, Month: 2, Day: 30} }, "placement.contract_end", "not a real date"},
		{"wage zero", func(r *T) { r.Placement.MonthlyWageFen = 0 }, "placement.monthly_wage_fen", "want 1 to"},
		{"wage negative", func(r *T) { r.Placement.MonthlyWageFen = -100 }, "placement.monthly_wage_fen", "want 1 to"},
		{"brand too long", func(r *T) { r.LaborBrand = strings.Repeat("川", 65) }, "labor_brand", "at most 64"},
		{"no events", func(r *T) { r.Events = nil }, "events", "required"},
		{"too many events", func(r *T) {
			r.Events = make([]contracts.LifecycleEvent, contracts.MaxEvents+1)
		}, "events", "at most 32"},
		{"event kind", func(r *T) { r.Events[1].Kind = "vanished" }, "events[1].kind", "not an event kind"},
		{"event order", func(r *T) { r.Events[0].Kind, r.Events[1].Kind = r.Events[1].Kind, r.Events[0].Kind }, "events[1].kind", "cannot follow"},
		{"event repeated", func(r *T) { r.Events[1].Kind = r.Events[0].Kind }, "events[1].kind", "cannot follow"},
		{"event time order", func(r *T) { r.Events[2].At = r.Events[0].At.Add(-time.Hour) }, "events[2].at", "before the previous"},
		{"event time missing", func(r *T) { r.Events[0].At = time.Time{} }, "events[0].at", "required"},
		{"event in the future", func(r *T) {
			r.Events[len(r.Events)-1].At = now.Add(contracts.MaxClockAhead + time.Minute)
		}, fmt.Sprintf("events[%d].at", len(base.Events)-1), "in the future"},
	}
	runRules(t, base, func(r *T) error { return r.ValidateAt(now) }, rules)
}

func TestTransferAcceptsEdgeCases(t *testing.T) {
	base := full(t, (*synth.Generator).Transfer, func(tr *contracts.Transfer) bool { return true })
	tests := []struct {
		name string
		mut  func(*contracts.Transfer)
	}{
		{"re-employed after leaving", func(r *contracts.Transfer) {
			at := r.Events[len(r.Events)-1].At
			r.Events = append(r.Events[:4:4], contracts.LifecycleEvent{Kind: contracts.EventLeft, At: at.Add(time.Hour)},
				contracts.LifecycleEvent{Kind: contracts.EventEmployed, At: at.Add(2 * time.Hour)})
		}},
		{"skipped steps", func(r *contracts.Transfer) { r.Events = []contracts.LifecycleEvent{r.Events[0], r.Events[3]} }},
		{"self-organized", func(r *contracts.Transfer) { r.Organizer = contracts.Organizer{Kind: contracts.OrganizerSelf} }},
		{"broker without code", func(r *contracts.Transfer) {
			r.Organizer = contracts.Organizer{Kind: contracts.OrganizerBroker, Name: "王强"}
		}},
		{"no training", func(r *contracts.Transfer) { r.Training = nil }},
		{"open-ended contract", func(r *contracts.Transfer) { r.Placement.ContractEnd = nil }},
		{"prefecture workplace without counties", func(r *contracts.Transfer) { r.Placement.Division = "441900" }},
		{"section-only industry", func(r *contracts.Transfer) { r.Placement.Industry = "E" }},
		{"the system's own id: a UUID", func(r *contracts.Transfer) { r.ID = "123e4567-e89b-12d3-a456-426614174000" }},
		{"the system's own id: a path", func(r *contracts.Transfer) { r.ID = "TR/51/20260301/000123" }},
		{"event stamped by a clock a little ahead", func(r *contracts.Transfer) {
			r.Events[len(r.Events)-1].At = now.Add(contracts.MaxClockAhead)
		}},
		{"national credit code", func(r *contracts.Transfer) { r.Placement.EmployerCreditCode = withCredit("91100000ABCDEFGH") }},
		{"ID from a county that no longer exists", func(r *contracts.Transfer) {
			// 512501 was Yibin county's code before 1996; numbers issued then are still valid.
			r.Worker.IDNumber = withID("512501", r.Worker.BirthDate.Time().Format("20060102"), "12"+map[contracts.Sex]string{contracts.SexMale: "3", contracts.SexFemale: "4"}[r.Worker.Sex])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := clone(t, base)
			tt.mut(r)
			if err := r.ValidateAt(now); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestConfirmationRules(t *testing.T) {
	base := full(t, func(g *synth.Generator) *contracts.Confirmation { return g.Confirmation(g.Transfer()) },
		func(c *contracts.Confirmation) bool { return c.Employed && c.MonthsEmployed > 1 })
	type C = contracts.Confirmation
	runRules(t, base, func(r *C) error { return r.ValidateAt(now) }, []rule[C]{
		{"schema", func(r *C) { r.Schema = contracts.SchemaTransfer }, "schema", "want"},
		{"purpose", func(r *C) { r.Purpose = contracts.PurposeEmploymentService }, "purpose", "not a purpose a confirmation"},
		{"transfer id", func(r *C) { r.TransferID = "" }, "transfer_id", "required"},
		{"transfer id with a space", func(r *C) { r.TransferID = "TR 1" }, "transfer_id", "character 3 is ' '"},
		{"worker id", func(r *C) { r.WorkerIDNumber = "123" }, "worker_id_number", "want 18"},
		{"worker id born in the future", func(r *C) { r.WorkerIDNumber = withID("511321", "20270101", "123") }, "worker_id_number", "birth date in the future"},
		{"since required", func(r *C) { r.Since = nil }, "since", "required when employed"},
		{"employed before working age", func(r *C) {
			r.WorkerIDNumber = withID("511321", "20100615", "123")
			since := date("2025-09-01")
			r.Since, r.ConfirmedOn, r.MonthsEmployed = &since, date("2026-03-01"), 5
		}, "since", "younger than 16"},
		{"employed before birth", func(r *C) {
			r.WorkerIDNumber = withID("511321", "20000615", "123")
			since := date("1999-09-01")
			r.Since = &since
		}, "since", "younger than 16"},
		{"since after confirmation", func(r *C) { d := r.ConfirmedOn.AddMonths(1); r.Since = &d }, "since", "after confirmed_on"},
		{"employer name", func(r *C) { r.EmployerName = "" }, "employer_name", "required"},
		{"employer code", func(r *C) { r.EmployerCreditCode = "" }, "employer_credit_code", "required"},
		{"months negative", func(r *C) { r.MonthsEmployed = -1 }, "months_employed", "want 0 to"},
		{"months beyond since", func(r *C) { r.MonthsEmployed += 5 }, "months_employed", "more than the"},
		{"month not yet whole", func(r *C) {
			since := date("2025-09-02")
			r.Since, r.ConfirmedOn, r.MonthsEmployed = &since, date("2026-03-01"), 6
		}, "months_employed", "more than the 5 whole months"},
		{"month from a 31st not yet whole", func(r *C) {
			since := date("2025-01-31")
			r.Since, r.ConfirmedOn, r.MonthsEmployed = &since, date("2025-02-27"), 1
		}, "months_employed", "more than the 0 whole months"},
		{"months without since", func(r *C) {
			r.Employed, r.Reason, r.Since, r.MonthsEmployed = false, "left", nil, 3
		}, "months_employed", "without since"},
		{"confirmed in future", func(r *C) { r.ConfirmedOn = date("2026-04-01") }, "confirmed_on", "in the future"},
		{"confirmed missing", func(r *C) { r.ConfirmedOn = contracts.Date{} }, "confirmed_on", "required"},
		{"not employed, confirmed before working age", func(r *C) {
			r.Employed, r.Reason, r.Since, r.MonthsEmployed = false, "never came", nil, 0
			r.EmployerName, r.EmployerCreditCode = "", ""
			r.WorkerIDNumber, r.ConfirmedOn = withID("511321", "20000615", "123"), date("1990-01-01")
		}, "confirmed_on", "younger than 16"},
		{"reason when not employed", func(r *C) { r.Employed = false; r.Reason = "" }, "reason", "required when not employed"},
		{"reason too long", func(r *C) { r.Reason = strings.Repeat("因", contracts.MaxNoteLen+1) }, "reason", "at most 2000"},
	})
}

// A worker who left may still be reported with the whole months they stayed,
// and a month that ended on confirmed_on counts.
func TestConfirmationAcceptsMonthsStayed(t *testing.T) {
	c := clone(t, full(t, func(g *synth.Generator) *contracts.Confirmation { return g.Confirmation(g.Transfer()) },
		func(c *contracts.Confirmation) bool { return c.Employed }))
	since := date("2025-09-02")
	c.Since, c.ConfirmedOn, c.MonthsEmployed = &since, date("2026-03-02"), 6
	if err := c.ValidateAt(now); err != nil {
		t.Errorf("employed six whole months: %v", err)
	}
	c.Employed, c.Reason, c.EmployerName, c.EmployerCreditCode = false, "left", "", ""
	if err := c.ValidateAt(now); err != nil {
		t.Errorf("left after six whole months: %v", err)
	}
	// A month from a day its last month lacks ends on that month's last
	// day (Civil Code art. 202): from 31 January, on 28 February.
	c.Employed, c.Reason, c.EmployerName, c.EmployerCreditCode = true, "", "佛山市恒达电子科技有限公司", withCredit("91440607BR2X9G7J")
	for _, tt := range []struct {
		since, on string
		months    int
	}{{"2025-01-31", "2025-02-28", 1}, {"2024-01-31", "2024-02-29", 1}, {"2025-01-30", "2025-02-28", 1}, {"2025-01-31", "2025-04-30", 3}, {"2025-08-31", "2026-02-28", 6}} {
		since := date(tt.since)
		c.Since, c.ConfirmedOn, c.MonthsEmployed = &since, date(tt.on), tt.months
		if err := c.ValidateAt(now); err != nil {
			t.Errorf("since %s, on %s, %d months: %v", tt.since, tt.on, tt.months, err)
		}
	}
}

func TestReferralRules(t *testing.T) {
	base := full(t, (*synth.Generator).Referral, func(r *contracts.Referral) bool { return r.From == "44" && r.Worker.Phone != "" })
	type R = contracts.Referral
	runRules(t, base, func(r *R) error { return r.ValidateAt(now) }, []rule[R]{
		{"kind", func(r *R) { r.Kind = "gossip" }, "kind", "not a case kind"},
		{"kind missing", func(r *R) { r.Kind = "" }, "kind", "required"},
		{"purpose", func(r *R) { r.Purpose = contracts.PurposeEmploymentService }, "purpose", "not a purpose a referral"},
		{"worker id", func(r *R) { r.Worker.IDNumber = r.Worker.IDNumber[:17] + "Z" }, "worker.id_number", "upper-case X"},
		{"phone", func(r *R) { r.Worker.Phone = "1234" }, "worker.phone", "11 digits"},
		{"employer code", func(r *R) { r.Employer.CreditCode = "" }, "employer.credit_code", "required"},
		{"employer division", func(r *R) { r.Employer.Division = "449999" }, "employer.division", "not in the division table"},
		{"sides", func(r *R) { r.Employer.Division = "330106" }, "employer.division", "home province and the employer's"},
		{"same side", func(r *R) { r.Worker.HouseholdDivision = "440106" }, "employer.division", "home province"},
		{"amount negative", func(r *R) { r.AmountOwedFen = -5 }, "amount_owed_fen", "not negative"},
		{"status", func(r *R) { r.Status = "lost" }, "status", "not a case status"},
		{"opened closed", func(r *R) { r.Status = contracts.CaseClosed }, "status", `want "referred", not "closed"`},
		{"opened accepted", func(r *R) { r.Status = contracts.CaseAccepted }, "status", `want "referred", not "accepted"`},
		{"deadline before opening", func(r *R) { r.Deadline = contracts.DateOf(r.OpenedAt).AddMonths(-1) }, "deadline", "before the day the case was opened"},
		{"opened missing", func(r *R) { r.OpenedAt = time.Time{} }, "opened_at", "required"},
		{"opened in the future", func(r *R) {
			r.OpenedAt = now.AddDate(3, 0, 0)
			r.Deadline = contracts.DateOf(r.OpenedAt).AddMonths(1)
		}, "opened_at", "in the future"},
		{"notes too long", func(r *R) { r.Notes = strings.Repeat("欠", 2001) }, "notes", "at most 2000"},
	})
	// The same case may run the other way, origin to destination.
	rev := clone(t, base)
	rev.From, rev.To = rev.To, rev.From
	if err := rev.ValidateAt(now); err != nil {
		t.Errorf("reverse direction: %v", err)
	}
}

func TestReferralUpdateRules(t *testing.T) {
	base := full(t, func(g *synth.Generator) *contracts.ReferralUpdate { return g.ReferralUpdate(g.Referral()) },
		func(u *contracts.ReferralUpdate) bool { return u.Status == contracts.CaseResolved })
	type U = contracts.ReferralUpdate
	runRules(t, base, func(r *U) error { return r.ValidateAt(now) }, []rule[U]{
		{"referral id", func(r *U) { r.ReferralID = "" }, "referral_id", "required"},
		{"referral id with a space", func(r *U) { r.ReferralID = "RF 1" }, "referral_id", "character 3 is ' '"},
		{"back to referred", func(r *U) { r.Status = contracts.CaseReferred }, "status", "back to referred"},
		{"rejected without note", func(r *U) { r.Status, r.Note = contracts.CaseRejected, "" }, "note", "required when the case is rejected"},
		{"recovered negative", func(r *U) { r.AmountRecoveredFen = -1 }, "amount_recovered_fen", "not negative"},
		{"at missing", func(r *U) { r.At = time.Time{} }, "at", "required"},
		{"at absurd", func(r *U) { r.At = time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC) }, "at", "out of range"},
		{"at in the future", func(r *U) { r.At = now.Add(time.Hour) }, "at", "in the future"},
	})
}

func TestAgreementRules(t *testing.T) {
	base := full(t, (*synth.Generator).Agreement, func(a *contracts.Agreement) bool { return a.Origin.Division == "510000" })
	base.Approvals = []contracts.Approval{{Province: "51", Admin: "spiffe://p51.laborlink.example/admin/li", At: now, Signature: []byte{1, 2, 3}}}
	type A = contracts.Agreement
	runRules(t, base, (*A).Validate, []rule[A]{
		{"schema", func(a *A) { a.Schema = "" }, "schema", "want"},
		{"id with a space", func(a *A) { a.ID = "AG 1" }, "id", "printable ASCII without spaces"},
		{"version", func(a *A) { a.Version = 0 }, "version", "want 1 to"},
		{"version huge", func(a *A) { a.Version = 1 << 60 }, "version", "want 1 to"},
		{"title", func(a *A) { a.Title = "" }, "title", "required"},
		{"origin division", func(a *A) { a.Origin.Division = "990000" }, "origin.division", "does not exist"},
		{"party name", func(a *A) { a.Destination.Name = "" }, "destination.name", "required"},
		{"same province", func(a *A) { a.Destination.Division = "511300" }, "destination.division", "like the origin"},
		{"validity order", func(a *A) { a.ValidUntil = a.ValidFrom.AddMonths(-1) }, "valid_until", "before valid_from"},
		{"valid from", func(a *A) { a.ValidFrom = contracts.Date{} }, "valid_from", "required"},
		{"no scope", func(a *A) { a.Scope = nil }, "scope", "at least one rule"},
		{"too many rules", func(a *A) { a.Scope = make([]contracts.ScopeRule, 17) }, "scope", "at most 16"},
		{"scope agreement type", func(a *A) { a.Scope[0].RecordType = contracts.RecordAgreement }, "scope[0].record_type", "not a record type that crosses"},
		{"duplicate rule", func(a *A) { a.Scope[1].RecordType = a.Scope[0].RecordType }, "scope[1].record_type", "has a rule already"},
		{"purpose for type", func(a *A) { a.Scope[2].Purposes = []contracts.Purpose{contracts.PurposeEmploymentService} }, "scope[2].purposes[0]", "not a purpose a referral"},
		{"purpose twice", func(a *A) { a.Scope[0].Purposes = append(a.Scope[0].Purposes, a.Scope[0].Purposes[0]) }, "scope[0].purposes[4]", "listed twice"},
		{"no purposes", func(a *A) { a.Scope[0].Purposes = nil }, "scope[0].purposes", "want 1 to 8"},
		{"unknown field", func(a *A) { a.Scope[0].Fields = append(a.Scope[0].Fields, "worker.shoe_size") }, "scope[0].fields[17]", "not a field of a transfer"},
		{"field of another type", func(a *A) { a.Scope[1].Fields = []string{"worker.name"} }, "scope[1].fields[0]", "not a field of a confirmation"},
		{"clear not crossing", func(a *A) { a.Scope[0].Fields = []string{"worker.name"} }, "scope[0].clear[0]", "not among the fields"},
		{"quota max", func(a *A) { a.Quotas[0].Max = 0 }, "quotas[0].max", "want 1 to"},
		{"quota huge", func(a *A) { a.Quotas[0].Max = 1 << 60 }, "quotas[0].max", "want 1 to"},
		{"quota period", func(a *A) { a.Quotas[0].Period = "week" }, "quotas[0].period", "not month, year or total"},
		{"status", func(a *A) { a.Status = "pending" }, "status", "not an agreement status"},
		{"approval by stranger", func(a *A) { a.Approvals[0].Province = "33" }, "approvals[0].province", "not a party"},
		{"approval twice", func(a *A) { a.Approvals = append(a.Approvals, a.Approvals[0]) }, "approvals[1].province", "approved already"},
		{"approval unsigned", func(a *A) { a.Approvals[0].Signature = nil }, "approvals[0].signature", "want 1 to"},
		{"approval admin", func(a *A) { a.Approvals[0].Admin = "" }, "approvals[0].admin", "required"},
	})
}

func TestValidateEveryProblemAtOnce(t *testing.T) {
	err := contracts.ValidateAt(&contracts.Transfer{}, now)
	fes := contracts.FieldErrors(err)
	if len(fes) < 10 {
		t.Fatalf("empty transfer: %d problems, want one per required field: %v", len(fes), err)
	}
	if !strings.Contains(err.Error(), "worker.id_number: is required; ") {
		t.Errorf("message %q does not join path: problem pairs", err)
	}
	if err := contracts.ValidateAt(nil, now); err == nil {
		t.Error("nil record is valid")
	}
	if err := contracts.ValidateAt((*contracts.Transfer)(nil), now); err == nil {
		t.Error("nil transfer is valid")
	}
}

func TestCodeChecks(t *testing.T) {
	// The standard's example ID number, two computed independently of the code, and a published credit code
	// example.
	for _, ok := range []string{"11010519491231002X", "511321199003074479", "440306198512310022"} {
		if err := contracts.CheckIDNumber(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if err := contracts.CheckCreditCode("91350100M000100Y43"); err != nil {
		t.Errorf("credit code: %v", err)
	}
	if err := contracts.CheckCreditCode("91350100M000100Y44"); err == nil {
		t.Error("credit code with a wrong check character accepted")
	}
	for code, ok := range map[string]bool{"510000": true, "511300": true, "511321": true, "441900": true, "660101": true, "511399": false, "5113": false, "000000": false} {
		if err := contracts.CheckDivision(code); (err == nil) != ok {
			t.Errorf("CheckDivision(%s) = %v, want ok=%v", code, err, ok)
		}
	}
	for s, ok := range map[string]bool{"C": true, "C1": false, "C18": true, "C1810": true, "U": false, "c18": false, "C18100": false,
		// A division belongs to one section: manufacturing (C) is 13-43.
		"A01": true, "A05": true, "A06": false, "A1810": false, "C00": false, "C13": true, "C43": true, "C44": false,
		"E4710": true, "E50": true, "K70": true, "K71": false, "T97": true, "T98": false} {
		if err := contracts.CheckIndustry(s); (err == nil) != ok {
			t.Errorf("CheckIndustry(%s) = %v", s, err)
		}
	}
	for s, ok := range map[string]bool{"13800138000": true, "23800138000": false, "1380013800a": false} {
		if err := contracts.CheckMobile(s); (err == nil) != ok {
			t.Errorf("CheckMobile(%s) = %v", s, err)
		}
	}
}

func TestDivisionTable(t *testing.T) {
	if n := len(contracts.Provinces()); n != 32 {
		t.Errorf("%d provinces, want 31 and XPCC", n)
	}
	if name, ok := contracts.ProvinceName("51"); !ok || name != "四川省" {
		t.Errorf("51 = %q", name)
	}
	d, ok := contracts.LookupDivision("511321")
	if !ok || d.Level != contracts.LevelCounty || d.Parent != "511300" {
		t.Errorf("511321 = %+v", d)
	}
	total := 0
	for _, p := range contracts.Provinces() {
		total += len(contracts.Counties(p))
	}
	if total != 2978 {
		t.Errorf("%d counties, want 2978", total)
	}
	// Every county's parent is another division, up to its province:
	// 东莞市 (441900), a prefecture-level city without counties, is listed
	// as its own county too.
	for _, p := range contracts.Provinces() {
		for _, c := range contracts.Counties(p) {
			parent, ok := contracts.LookupDivision(c.Parent)
			switch {
			case !ok:
				t.Errorf("%s (%s): parent %q not in the table", c.Code, c.Name, c.Parent)
			case parent.Code == c.Code:
				t.Errorf("%s (%s) is its own parent", c.Code, c.Name)
			case parent.Level == contracts.LevelCounty:
				t.Errorf("%s (%s): parent %s is a county", c.Code, c.Name, parent.Code)
			}
		}
	}
}

func TestDateStringMatchesFmt(t *testing.T) {
	for _, d := range []contracts.Date{
		{Year: 2026, Month: 3, Day: 2}, {Year: 1, Month: 1, Day: 1}, {Year: 9999, Month: 12, Day: 31},
		{}, {Year: 10000, Month: 1, Day: 1}, {Year: -5, Month: 1, Day: 1}, {Year: 2026, Month: 13, Day: 40},
	} {
		if got, want := d.String(), fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day); got != want {
			t.Errorf("%#v.String() = %q, want %q", d, got, want)
		}
	}
}

// TestProblemsDoNotQuotePersonalData holds validation messages to naming
// the field and the rule: a submitter's client logs them, so they must not
// quote a worker's ID number or the parts of it (address code, birth
// date), nor a wage or an amount owed.
func TestProblemsDoNotQuotePersonalData(t *testing.T) {
	tr := full(t, (*synth.Generator).Transfer, func(tr *contracts.Transfer) bool { return tr.Training != nil && tr.Training.Subsidy != nil })
	rf := full(t, (*synth.Generator).Referral, func(*contracts.Referral) bool { return true })
	cf := full(t, func(g *synth.Generator) *contracts.Confirmation { return g.Confirmation(g.Transfer()) },
		func(c *contracts.Confirmation) bool { return c.Employed })
	male := func(r *contracts.Transfer) { r.Worker.Sex = contracts.SexMale }
	tests := []struct {
		name   string
		rec    contracts.Record
		secret []string
	}{
		{"birth date unlike the ID number's", func() contracts.Record {
			r := clone(t, tr)
			r.Worker.IDNumber, r.Worker.BirthDate = withID("511321", "19870613", "123"), date("1987-06-14")
			male(r)
			return r
		}(), []string{"19870613", "1987-06-13", "1987-06-14"}},
		{"birth date in the future", func() contracts.Record {
			r := clone(t, tr)
			r.Worker.IDNumber, r.Worker.BirthDate = withID("511321", "20270613", "123"), date("2027-06-13")
			male(r)
			return r
		}(), []string{"20270613", "2027-06-13"}},
		{"too young", func() contracts.Record {
			r := clone(t, tr)
			r.Worker.IDNumber, r.Worker.BirthDate = withID("511321", "20150613", "123"), date("2015-06-13")
			male(r)
			return r
		}(), []string{"20150613", "2015-06-13"}},
		{"ID number birth date not a date", func() contracts.Record {
			r := clone(t, tr)
			r.Worker.IDNumber = withID("511321", "19870230", "123")
			return r
		}(), []string{"19870230"}},
		{"ID number address code", func() contracts.Record {
			r := clone(t, tr)
			r.Worker.IDNumber = withID("991321", "19870613", "123")
			return r
		}(), []string{"991321", "19870613"}},
		{"wage", func() contracts.Record {
			r := clone(t, tr)
			r.Placement.MonthlyWageFen = 12_345_678
			return r
		}(), []string{"12345678"}},
		{"subsidy", func() contracts.Record {
			r := clone(t, tr)
			r.Training.Subsidy.AmountFen = 12_345_678
			return r
		}(), []string{"12345678"}},
		{"amount owed", func() contracts.Record {
			r := clone(t, rf)
			r.AmountOwedFen = -4_567_891
			return r
		}(), []string{"4567891"}},
		{"referral worker born in the future", func() contracts.Record {
			r := clone(t, rf)
			r.Worker.IDNumber = withID(r.Worker.HouseholdDivision, "20270613", "123")
			return r
		}(), []string{"20270613", "2027-06-13"}},
		{"confirmed worker born in the future", func() contracts.Record {
			r := clone(t, cf)
			r.WorkerIDNumber = withID("511321", "20270613", "123")
			return r
		}(), []string{"20270613", "2027-06-13"}},
		{"ID number in the household division", func() contracts.Record {
			r := clone(t, tr)
			r.Worker.HouseholdDivision = r.Worker.IDNumber
			return r
		}(), []string{tr.Worker.IDNumber}},
		{"phone in the employer's division", func() contracts.Record {
			r := clone(t, rf)
			r.Employer.Division = "13800138000"
			return r
		}(), []string{"13800138000"}},
		{"a name in the sex", func() contracts.Record {
			r := clone(t, tr)
			r.Worker.Sex = contracts.Sex(r.Worker.Name)
			return r
		}(), []string{tr.Worker.Name}},
		{"sex unlike the ID number's", func() contracts.Record {
			r := clone(t, tr)
			r.Worker.IDNumber, r.Worker.BirthDate = withID("511321", "19870613", "124"), date("1987-06-13")
			male(r)
			return r
		}(), []string{"female", "male"}},
		{"employed since after confirmed", func() contracts.Record {
			r := clone(t, cf)
			since := contracts.DateOf(r.ConfirmedOn.Time().AddDate(0, 0, 1))
			r.Since = &since
			return r
		}(), []string{contracts.DateOf(cf.ConfirmedOn.Time().AddDate(0, 0, 1)).String()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := contracts.ValidateAt(tt.rec, now)
			if err == nil {
				t.Fatal("valid")
			}
			for _, s := range tt.secret {
				if strings.Contains(err.Error(), s) {
					t.Errorf("%q quotes %s", err, s)
				}
			}
		})
	}
}

// TestDecodeErrorsDoNotQuotePersonalData: a value that does not decode is
// named by its path, never quoted: it may be a birth date or a wage, and
// the error goes back to the submitting system and into its logs.
func TestDecodeErrorsDoNotQuotePersonalData(t *testing.T) {
	good := string(transferJSON(t))
	for _, tt := range []struct{ name, in, secret string }{
		{"birth date not a date", strings.Replace(good, `"birth_date":"`, `"birth_date":"1990/05/17","y":"`, 1), "1990/05/17"},
		{"wage not an integer", strings.Replace(good, `"monthly_wage_fen":`, `"monthly_wage_fen":812345.5,"w":`, 1), "812345"},
	} {
		_, err := contracts.Decode([]byte(tt.in))
		if err == nil {
			t.Fatalf("%s: decoded", tt.name)
		}
		if strings.Contains(err.Error(), tt.secret) {
			t.Errorf("%s: %q quotes %s", tt.name, err, tt.secret)
		}
	}
}

// TestRecordPurposes: the purposes any record type crosses for, each
// once, in the order of RecordTypes and their Purposes: what agreement
// list --purpose and the registry's purpose= are checked against.
func TestRecordPurposes(t *testing.T) {
	want := []contracts.Purpose{contracts.PurposeEmploymentService, contracts.PurposeTrainingSubsidy, contracts.PurposeRightsProtection,
		contracts.PurposeStatistics, contracts.PurposeEmploymentConfirmation}
	if got := contracts.RecordPurposes(); !slices.Equal(got, want) {
		t.Errorf("RecordPurposes() = %v, want %v", got, want)
	}
}
