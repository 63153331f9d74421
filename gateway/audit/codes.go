package audit

import "slices"

// Kind is what happened, from the point of view of the node that logs it.
type Kind string

// The entry kinds.
const (
	KindSent           Kind = "sent"            // an envelope left for a peer
	KindReceived       Kind = "received"        // an envelope from a peer was stored
	KindDenied         Kind = "denied"          // policy refused an export or an import
	KindReceipt        Kind = "receipt"         // a peer's signed receipt arrived
	KindConfirmation   Kind = "confirmation"    // an employment confirmation was sent or received
	KindReferralUpdate Kind = "referral-update" // a rights-case referral changed status
	KindAgreement      Kind = "agreement"       // an agreement changed state in the registry
	KindPolicy         Kind = "policy"          // a federation bundle or province policy changed
	KindCertificate    Kind = "certificate"     // a certificate was issued, revoked or rotated
	KindRequeue        Kind = "requeue"         // an operator sent a dead letter back to the delivery queue
	KindDiscard        Kind = "discard"         // an operator discarded a dead letter: it will not be sent
	KindPruned         Kind = "pruned"          // inbox retention dropped a received envelope and its record
)

var kinds = []Kind{KindSent, KindReceived, KindDenied, KindReceipt, KindConfirmation,
	KindReferralUpdate, KindAgreement, KindPolicy, KindCertificate, KindRequeue, KindDiscard, KindPruned}

// Kinds lists every entry kind, in a stable order.
func Kinds() []Kind { return slices.Clone(kinds) }

// Decision is the policy outcome recorded with a flow.
type Decision string

// The decisions.
const (
	Allow Decision = "allow"
	Deny  Decision = "deny"
)

// Reason is a machine-readable code explaining a decision. The set is closed
// so that no free text (and so no personal data) can enter the log through a
// reason; the policy layer maps its own reasons onto these codes.
type Reason string

// The reason codes.
const (
	ReasonNoAgreement          Reason = "no-agreement"
	ReasonAgreementNotInForce  Reason = "agreement-not-in-force"
	ReasonAgreementSuspended   Reason = "agreement-suspended"
	ReasonRecordTypeNotCovered Reason = "record-type-not-covered"
	ReasonPurposeNotAllowed    Reason = "purpose-not-allowed"
	ReasonFieldNotAllowed      Reason = "field-not-allowed"
	ReasonQuotaExceeded        Reason = "quota-exceeded"
	ReasonProvinceMismatch     Reason = "province-mismatch"
	ReasonPeerNotAuthorized    Reason = "peer-not-authorized"
	ReasonCertificateRevoked   Reason = "certificate-revoked"
	ReasonSignatureInvalid     Reason = "signature-invalid"
	ReasonContractInvalid      Reason = "contract-invalid"
	ReasonFederationPolicy     Reason = "federation-policy-deny"
	ReasonProvincePolicy       Reason = "province-policy-deny"
	ReasonPolicyError          Reason = "policy-error"
	ReasonOther                Reason = "other"
)

var reasons = []Reason{ReasonNoAgreement, ReasonAgreementNotInForce, ReasonAgreementSuspended,
	ReasonRecordTypeNotCovered, ReasonPurposeNotAllowed, ReasonFieldNotAllowed,
	ReasonQuotaExceeded, ReasonProvinceMismatch, ReasonPeerNotAuthorized,
	ReasonCertificateRevoked, ReasonSignatureInvalid, ReasonContractInvalid,
	ReasonFederationPolicy, ReasonProvincePolicy, ReasonPolicyError, ReasonOther}

// Reasons lists every reason code, for documentation and for the policy
// layer's mapping tests.
func Reasons() []Reason { return slices.Clone(reasons) }

// Valid reports whether r is one of the closed set of reason codes.
func (r Reason) Valid() bool { return slices.Contains(reasons, r) }

// Detail qualifies an entry of a kind that has states: the new status of a
// referral, the agreement transition, the policy layer that changed, the
// certificate event, a receipt that says the destination's node rejected
// the envelope. Like Reason it is a closed set.
type Detail string

// Referral statuses (KindReferralUpdate, and KindSent/KindReceived of a referral).
const (
	DetailReferred      Detail = "referred"
	DetailAccepted      Detail = "accepted"
	DetailInvestigating Detail = "investigating"
	DetailResolved      Detail = "resolved"
	DetailClosed        Detail = "closed"
	DetailRejected      Detail = "rejected"
)

// Agreement transitions (KindAgreement).
const (
	DetailProposed   Detail = "proposed"
	DetailApproved   Detail = "approved"
	DetailActivated  Detail = "activated"
	DetailSuspended  Detail = "suspended"
	DetailResumed    Detail = "resumed"
	DetailAmended    Detail = "amended"
	DetailTerminated Detail = "terminated"
	DetailExpired    Detail = "expired"
	// DetailRegistryRestored says the registry's state, agreements with
	// their history included, was replaced by a backup: the transitions
	// it brought are not logged one by one, as they were not made then.
	DetailRegistryRestored Detail = "registry-restored"
)

// Policy changes (KindPolicy).
const (
	DetailFederationBundle Detail = "federation-bundle"
	DetailProvincePolicy   Detail = "province-policy"
)

// Certificate events (KindCertificate).
const (
	DetailIssued  Detail = "issued"
	DetailRevoked Detail = "revoked"
	DetailRotated Detail = "rotated"
)

// referralStatuses are the details a referral's status can take; the last
// three end a case, so such a referral is never overdue.
var referralStatuses = []Detail{DetailReferred, DetailAccepted, DetailInvestigating,
	DetailResolved, DetailClosed, DetailRejected}

// detailsByKind is the closed set of details each kind may carry. A kind
// missing from the map carries no detail, except that flows of a referral may
// carry its status.
//
// A receipt denied carries DetailRejected when the destination's node
// rejected the envelope, for good and for what it holds, and none when
// delivery gave up on it (a dead letter, which a requeue may yet deliver):
// both are denials, with reason codes that do not tell them apart, and a
// referral rejected so ends its case at the origin (Stats counts it
// rejected). Receipts logged by earlier releases carry no detail, whichever
// they were.
var detailsByKind = map[Kind][]Detail{
	KindReferralUpdate: referralStatuses,
	KindSent:           referralStatuses,
	KindReceived:       referralStatuses,
	KindReceipt:        {DetailRejected},
	KindAgreement: {DetailProposed, DetailApproved, DetailActivated, DetailSuspended,
		DetailResumed, DetailAmended, DetailTerminated, DetailExpired, DetailRegistryRestored},
	KindPolicy:      {DetailFederationBundle, DetailProvincePolicy},
	KindCertificate: {DetailIssued, DetailRevoked, DetailRotated},
}

// terminal reports whether a referral status ends the case.
func (d Detail) terminal() bool {
	return d == DetailResolved || d == DetailClosed || d == DetailRejected
}

// provinces are the federation's provinces: the 31 GB/T 2260 provincial
// units of the mainland and 66, the Xinjiang Production and Construction
// Corps, as in contracts and pki (a test in gateway/node keeps them equal).
var provinces = []Province{"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33",
	"34", "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54",
	"61", "62", "63", "64", "65", "66"}

// Provinces lists the province codes an entry may name.
func Provinces() []Province { return slices.Clone(provinces) }

// Province is a two-digit GB/T 2260 province code, such as "51" (Sichuan).
type Province string

// Valid reports whether p is a province-level GB/T 2260 code.
func (p Province) Valid() bool {
	return len(p) == 2 && isDigit(p[0]) && isDigit(p[1]) && provinceCodes[(p[0]-'0')*10+p[1]-'0']
}

// provinceCodes marks the provinces by their number: every entry names one
// or two, and its peer a third, so Valid looks them up rather than search
// the list.
var provinceCodes = func() (codes [100]bool) {
	for _, p := range provinces {
		codes[(p[0]-'0')*10+p[1]-'0'] = true
	}
	return codes
}()

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// The record types and purposes mirror contracts.RecordType and
// contracts.Purpose. They are repeated here, rather than imported, so that the
// log's closed vocabulary is fixed by this package and an auditor's tools
// need nothing else; a test in the node wiring keeps the two in step.
var recordTypes = []string{"transfer", "confirmation", "agreement", "referral", "referral-update"}

var purposes = []string{"employment-service", "employment-confirmation", "rights-protection",
	"training-subsidy", "statistics"}

// RecordTypes lists the record types an entry may name.
func RecordTypes() []string { return slices.Clone(recordTypes) }

// Purposes lists the purposes an entry may name.
func Purposes() []string { return slices.Clone(purposes) }
