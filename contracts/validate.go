package contracts

import (
	"fmt"
	"slices"
	"time"
)

// Validate checks a record against its contract as of the wall clock and
// returns a ValidationError listing every problem, or nil.
func Validate(rec Record) error { return ValidateAt(rec, time.Now()) }

// ValidateAt checks a record as of now (which decides, for example, that a
// birth date is not in the future) and returns a ValidationError listing every
// problem, or nil.
func ValidateAt(rec Record, now time.Time) error {
	switch r := rec.(type) {
	case *Transfer:
		if r != nil {
			return r.ValidateAt(now)
		}
	case *Confirmation:
		if r != nil {
			return r.ValidateAt(now)
		}
	case *Referral:
		if r != nil {
			return r.ValidateAt(now)
		}
	case *ReferralUpdate:
		if r != nil {
			return r.ValidateAt(now)
		}
	default:
		if rec != nil {
			return ValidationError{{"", fmt.Sprintf("unsupported record type %T", rec)}}
		}
	}
	return ValidationError{{"", "record is missing"}}
}

// chinaTime is China Standard Time, which has no daylight saving; "today" for
// birth and confirmation dates is the day in China.
var chinaTime = time.FixedZone("CST", 8*60*60)

func today(now time.Time) Date { return DateOf(now.In(chinaTime)) }

var recordPurposes = map[RecordType][]Purpose{
	RecordTransfer:       {PurposeEmploymentService, PurposeTrainingSubsidy, PurposeRightsProtection, PurposeStatistics},
	RecordConfirmation:   {PurposeEmploymentConfirmation, PurposeTrainingSubsidy, PurposeStatistics},
	RecordReferral:       {PurposeRightsProtection, PurposeStatistics},
	RecordReferralUpdate: {PurposeRightsProtection, PurposeStatistics},
}

// Purposes returns the purposes a record type may cross a border for; none for
// agreements, which travel through the registry rather than as records.
func Purposes(t RecordType) []Purpose { return slices.Clone(recordPurposes[t]) }

// RecordPurposes returns the purposes records of any type may cross a
// border for, each once, in the order of RecordTypes and their Purposes.
func RecordPurposes() []Purpose {
	var all []Purpose
	for _, t := range RecordTypes() {
		for _, p := range recordPurposes[t] {
			if !slices.Contains(all, p) {
				all = append(all, p)
			}
		}
	}
	return all
}

// RecordTypes returns the types of record that cross a border in envelopes.
func RecordTypes() []RecordType {
	return []RecordType{RecordTransfer, RecordConfirmation, RecordReferral, RecordReferralUpdate}
}

// SchemaFor returns the current schema name of a record type, or "" if unknown.
func SchemaFor(t RecordType) string {
	switch t {
	case RecordTransfer:
		return SchemaTransfer
	case RecordConfirmation:
		return SchemaConfirmation
	case RecordAgreement:
		return SchemaAgreement
	case RecordReferral:
		return SchemaReferral
	case RecordReferralUpdate:
		return SchemaReferralUpdate
	}
	return ""
}

// header checks the fields every record carries.
func (c *checker) header(h *Header, t RecordType) {
	if want := SchemaFor(t); h.Schema != want {
		c.addf("schema", "is %q, want %q", h.Schema, want)
	}
	c.id("id", h.ID)
	c.province("from", h.From)
	c.province("to", h.To)
	if h.From != "" && h.From == h.To {
		c.add("to", "equals from: a record crosses a border between two provinces")
	}
	c.agreementID("agreement_id", h.AgreementID)
	switch {
	case h.Purpose == "":
		c.add("purpose", "is required")
	case !slices.Contains(recordPurposes[t], h.Purpose):
		c.addf("purpose", "%q is not a purpose a %s may cross for; want one of %v", h.Purpose, t, recordPurposes[t])
	}
}

func (c *checker) province(path, code string) {
	switch {
	case code == "":
		c.add(path, "is required")
	case !IsProvince(code):
		c.addf(path, "%q is not a province code (2 digits, GB/T 2260)", code)
	}
}

// division checks a required division code of an allowed level in province
// (any province when empty).
func (c *checker) division(path, code, province string, allowed levels) {
	if code == "" {
		c.add(path, "is required")
		return
	}
	if msg := divisionProblem(code, province, allowed); msg != "" {
		c.add(path, msg)
	}
}

// idNumber checks a required ID number and returns what it encodes, ok false
// when it is not valid.
func (c *checker) idNumber(path, s string) (birth Date, sex Sex, ok bool) {
	if s == "" {
		c.add(path, "is required")
		return Date{}, "", false
	}
	birth, sex, msg := parseIDNumber(s)
	if msg != "" {
		c.add(path, msg)
		return Date{}, "", false
	}
	return birth, sex, true
}

func (c *checker) creditCode(path, s string, required bool) {
	if s == "" {
		if required {
			c.add(path, "is required")
		}
		return
	}
	if msg := creditCodeProblem(s); msg != "" {
		c.add(path, msg)
	}
}

func (c *checker) phone(path, s string) {
	if s == "" {
		return
	}
	if msg := mobileProblem(s); msg != "" {
		c.add(path, msg)
	}
}

func (c *checker) date(path string, d Date) bool {
	if d.IsZero() {
		c.add(path, "is required")
		return false
	}
	if !d.valid() {
		c.add(path, "is not a real date")
		return false
	}
	return true
}

func (c *checker) instant(path string, t time.Time) bool {
	if msg := instantProblem(t); msg != "" {
		c.add(path, msg)
		return false
	}
	return true
}

// MaxClockAhead is how far past the validating clock an instant in a record
// may be: the provincial system that stamped a record "now" and the node
// that validates it (the origin's, at submission) have clocks of their own.
const MaxClockAhead = 10 * time.Minute

// pastInstant is instant, and not later than now allows.
func (c *checker) pastInstant(path string, t, now time.Time) bool {
	if msg := pastInstantProblem(t, now); msg != "" {
		c.add(path, msg)
		return false
	}
	return true
}

func pastInstantProblem(t, now time.Time) string {
	if msg := instantProblem(t); msg != "" {
		return msg
	}
	if t.After(now.Add(MaxClockAhead)) {
		return fmt.Sprintf("%s is in the future: later than this node's clock, %s, by more than %s",
			t.Format(time.RFC3339), now.Format(time.RFC3339), MaxClockAhead)
	}
	return ""
}

func instantProblem(t time.Time) string {
	if t.IsZero() {
		return "is required"
	}
	if y := t.Year(); y < 1900 || y > 9999 {
		return fmt.Sprintf("year %d is out of range 1900-9999", y)
	}
	return ""
}

// amount checks an amount of money. Its messages do not quote it: wages
// and amounts owed are personal data, and a submitter's client logs them.
func (c *checker) amount(path string, fen, max int64) {
	switch {
	case fen < 0:
		c.add(path, "is negative, want an amount of fen not negative")
	case fen > max:
		c.addf(path, "is too large, want at most %d fen", max)
	}
}

// ValidateKeys checks only what a destination keys its store and audit
// log by, of a record it does not validate in full (the origin's export
// obligations may have masked other fields): its ids, the agreement_id
// the audit log names, and a referral's or update's status, which the
// audit log and the case hold: a referral's is referred, as Validate
// wants, lest a peer open a case already answered. It returns a
// ValidationError listing the problems, or nil.
func ValidateKeys(rec Record) error {
	if rec == nil {
		return ValidationError{{"", "record is missing"}}
	}
	var c checker
	h := rec.Head()
	c.id("id", h.ID)
	c.agreementID("agreement_id", h.AgreementID)
	switch r := rec.(type) {
	case *Confirmation:
		c.id("transfer_id", r.TransferID)
	case *Referral:
		c.referralStatus(r.Status)
	case *ReferralUpdate:
		c.id("referral_id", r.ReferralID)
		c.caseStatus("status", r.Status)
	}
	return c.err()
}

// CheckAgreementID reports why s cannot be the agreement_id of a record,
// or nil: 1 to MaxIDLen characters that are a token of the audit log
// (CheckToken). The error does not name a field; the caller knows which
// it checked.
func CheckAgreementID(s string) error {
	var c checker
	c.agreementID("", s)
	return c.err()
}
