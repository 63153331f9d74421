package contracts

import "time"

// CaseKind is what a rights case is about.
type CaseKind string

// The rights-case kinds the policy names.
const (
	CaseWageArrears     CaseKind = "wage-arrears"
	CaseWorkInjury      CaseKind = "work-injury"
	CaseContractDispute CaseKind = "contract-dispute"
	CaseIllegalAgency   CaseKind = "illegal-agency"
	CaseOther           CaseKind = "other"
)

// CaseStatus is where a referred case stands.
type CaseStatus string

// The case states: referred -> accepted | rejected; accepted -> investigating
// -> resolved -> closed. Every move but closing is the answer of the
// province the case was referred to (the referral's To); the province that
// opened it (its From) may only close it.
const (
	CaseReferred      CaseStatus = "referred"
	CaseAccepted      CaseStatus = "accepted"
	CaseInvestigating CaseStatus = "investigating"
	CaseResolved      CaseStatus = "resolved"
	CaseClosed        CaseStatus = "closed"
	CaseRejected      CaseStatus = "rejected"
)

// Referral is a rights-case referral (维权案件转介): a case opened in one province
// that needs the other, such as a destination's wage-arrears case that needs
// the origin to reach the worker back home. It may travel either way between
// the parties.
type Referral struct {
	Header
	Kind     CaseKind       `json:"kind"`
	Worker   ReferralWorker `json:"worker"`
	Employer Employer       `json:"employer"`
	// AmountOwedFen is the wage or compensation at stake, in fen.
	AmountOwedFen int64      `json:"amount_owed_fen"`
	Status        CaseStatus `json:"status"`
	// Deadline is the day by which the receiving side should have acted.
	Deadline Date `json:"deadline"`
	// ArbitrationFeeWaived records that labor-dispute arbitration fees are waived
	// for the worker.
	ArbitrationFeeWaived bool      `json:"arbitration_fee_waived"`
	Notes                string    `json:"notes,omitempty"`
	OpenedAt             time.Time `json:"opened_at"`
}

// ReferralWorker identifies the worker in a case. Every field is personal data.
type ReferralWorker struct {
	Name              string `json:"name"`
	IDNumber          string `json:"id_number"`
	Phone             string `json:"phone,omitempty"`
	HouseholdDivision string `json:"household_division"`
}

// Employer is the employer a case is against.
type Employer struct {
	Name       string `json:"name"`
	CreditCode string `json:"credit_code"`
	// Division is the 6-digit code where the employer operates.
	Division string `json:"division"`
}

// ReferralUpdate moves a referred case along: accepted, investigating,
// resolved, closed or rejected, with a note. Accepted, rejected,
// investigating and resolved are sent by the province the case was
// referred to; closed by either province. Nodes refuse an update its
// sender may not send, submitted or arriving.
type ReferralUpdate struct {
	Header
	// ReferralID is the Header.ID of the referral being updated.
	ReferralID string     `json:"referral_id"`
	Status     CaseStatus `json:"status"`
	Note       string     `json:"note,omitempty"`
	// AmountRecoveredFen is what was recovered for the worker so far.
	AmountRecoveredFen int64     `json:"amount_recovered_fen,omitempty"`
	At                 time.Time `json:"at"`
}
