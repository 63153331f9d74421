package contracts

import "time"

// AgreementStatus is where an agreement is in its lifecycle:
// proposed -> approved (by every party) -> active (from its start date) ->
// suspended <-> active -> terminated, or expired at its end date.
type AgreementStatus string

// The agreement lifecycle states.
const (
	AgreementProposed   AgreementStatus = "proposed"
	AgreementApproved   AgreementStatus = "approved"
	AgreementActive     AgreementStatus = "active"
	AgreementSuspended  AgreementStatus = "suspended"
	AgreementTerminated AgreementStatus = "terminated"
	AgreementExpired    AgreementStatus = "expired"
)

// AgreementStatuses returns every state of the lifecycle, in its order.
func AgreementStatuses() []AgreementStatus {
	return []AgreementStatus{AgreementProposed, AgreementApproved, AgreementActive, AgreementSuspended, AgreementTerminated, AgreementExpired}
}

// Agreement is a labor-cooperation agreement (劳务协作协议) between an origin and
// a destination government, agency or organizer. Both parties must approve it
// before anything may cross under it, and policy consults its scope for every
// record. Amendments create a new version; earlier versions stay in the
// registry's history.
type Agreement struct {
	Schema string `json:"schema"`
	// ID is the agreement's stable identifier across versions, such as
	// "AG-51-44-2026-001".
	ID string `json:"id"`
	// Version starts at 1 and grows with every amendment.
	Version int    `json:"version"`
	Title   string `json:"title"`
	// Origin is the party workers come from (输出地).
	Origin Party `json:"origin"`
	// Destination is the party workers go to (输入地).
	Destination Party `json:"destination"`
	// ValidFrom is the first day the agreement is in force.
	ValidFrom Date `json:"valid_from"`
	// ValidUntil is the last day the agreement is in force.
	ValidUntil Date `json:"valid_until"`
	// Scope lists, per record type, the purposes and fields that may cross.
	Scope []ScopeRule `json:"scope"`
	// Quotas cap how many records of a type may cross per period.
	Quotas []Quota `json:"quotas,omitempty"`
	// Status is maintained by the registry; a proposal leaves it empty or "proposed".
	Status AgreementStatus `json:"status,omitempty"`
	// Approvals are the parties' signed approvals of this version.
	Approvals []Approval `json:"approvals,omitempty"`
}

// Party is one side of an agreement: a division at province, prefecture or
// county level and the body that signs for it.
type Party struct {
	// Division is a 6-digit GB/T 2260 code: "510000" (province), "511300"
	// (prefecture) or "511321" (county).
	Division string `json:"division"`
	// Name is the signing body, such as "四川省人力资源和社会保障厅".
	Name string `json:"name"`
}

// Province returns the 2-digit province code of the party's division.
func (p Party) Province() string {
	if len(p.Division) < 2 {
		return ""
	}
	return p.Division[:2]
}

// ScopeRule says what one record type may carry across under the agreement.
type ScopeRule struct {
	RecordType RecordType `json:"record_type"`
	// Purposes are the purposes records of this type may cross for.
	Purposes []Purpose `json:"purposes"`
	// Fields are the field paths ("worker.name", "placement") that may cross;
	// a path admits everything below it. Other fields are dropped.
	Fields []string `json:"fields"`
	// Clear lists identifier fields ("worker.id_number", "worker.phone") the
	// agreement lets cross unmasked; policy still masks them for purposes that
	// do not need them.
	Clear []string `json:"clear,omitempty"`
}

// QuotaPeriod is the window a quota counts over.
type QuotaPeriod string

// The quota windows.
const (
	QuotaMonth QuotaPeriod = "month"
	QuotaYear  QuotaPeriod = "year"
	QuotaTotal QuotaPeriod = "total"
)

// Quota caps the number of records of one type crossing under the agreement.
type Quota struct {
	RecordType RecordType  `json:"record_type"`
	Period     QuotaPeriod `json:"period"`
	Max        int         `json:"max"`
}

// Approval is one party's signed approval of an agreement version.
type Approval struct {
	// Province is the 2-digit code of the approving party.
	Province string `json:"province"`
	// Admin is the identity URI of the admin certificate that approved.
	Admin string    `json:"admin"`
	At    time.Time `json:"at"`
	// Signature is the admin's signature of the registry command that
	// approved (its signing bytes: op, signer, time, nonce and a body naming
	// the agreement, the version and the hex SigningDigest of its terms, so
	// the terms approved are bound). The agreement's history keeps that
	// command, with which the signature is checked.
	Signature []byte `json:"signature"`
}

// Parties returns the province codes of both parties.
func (a *Agreement) Parties() [2]string {
	return [2]string{a.Origin.Province(), a.Destination.Province()}
}

// IsParty reports whether the province is a party to the agreement.
func (a *Agreement) IsParty(province string) bool {
	return province != "" && (a.Origin.Province() == province || a.Destination.Province() == province)
}

// Rule returns the scope rule for a record type, or nil when the agreement does
// not cover that type.
func (a *Agreement) Rule(t RecordType) *ScopeRule {
	for i := range a.Scope {
		if a.Scope[i].RecordType == t {
			return &a.Scope[i]
		}
	}
	return nil
}

// InForce reports whether the day falls within the agreement's validity.
func (a *Agreement) InForce(day Date) bool {
	return !day.Before(a.ValidFrom) && !a.ValidUntil.Before(day)
}

// AsProposal sets what the registry decides of a proposed or amended
// version, whatever the document said: its number, version, and no status
// or approvals yet. The registry applies a proposal with it, and
// checkProposal checks a document as that proposal, so the two cannot
// disagree on which members a proposal file may leave out.
func (a *Agreement) AsProposal(version int) {
	a.Version, a.Status, a.Approvals = version, "", nil
}

// SigningDigest is what a party's admin signs to approve, suspend, resume or
// terminate this version: the canonical digest of the agreement's terms, with
// the registry-maintained Status and Approvals left out so that every party
// signs the same bytes whatever order they approve in.
func (a *Agreement) SigningDigest() ([32]byte, error) {
	terms := *a
	terms.Status = ""
	terms.Approvals = nil
	return Digest(&terms)
}
