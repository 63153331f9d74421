package contracts

// Schema names identify a record type and its version. A record carries its
// schema name in the "schema" field; a new incompatible version gets a new name.
const (
	SchemaTransfer       = "laborlink.transfer/v1"
	SchemaConfirmation   = "laborlink.confirmation/v1"
	SchemaAgreement      = "laborlink.agreement/v1"
	SchemaReferral       = "laborlink.referral/v1"
	SchemaReferralUpdate = "laborlink.referral-update/v1"
)

// RecordType names a kind of record independent of its version. Agreements
// scope what may cross by record type.
type RecordType string

// The record types.
const (
	RecordTransfer       RecordType = "transfer"
	RecordConfirmation   RecordType = "confirmation"
	RecordAgreement      RecordType = "agreement"
	RecordReferral       RecordType = "referral"
	RecordReferralUpdate RecordType = "referral-update"
)

// Purpose is why a record crosses a border. Agreements list the purposes they
// allow, and policy decides which fields each purpose may see.
type Purpose string

// The purposes of an exchange.
const (
	// PurposeEmploymentService: placing and following a worker at the destination.
	PurposeEmploymentService Purpose = "employment-service"
	// PurposeEmploymentConfirmation: the destination confirms that the worker
	// took up and kept the job, which releases the origin's subsidies.
	PurposeEmploymentConfirmation Purpose = "employment-confirmation"
	// PurposeRightsProtection: wage arrears, work injury, disputes, inspection.
	PurposeRightsProtection Purpose = "rights-protection"
	// PurposeTrainingSubsidy: verifying a training or job-referral subsidy claim.
	PurposeTrainingSubsidy Purpose = "training-subsidy"
	// PurposeStatistics: counts by brand, county and period; no direct identifiers.
	PurposeStatistics Purpose = "statistics"
)

// Header is what every exchanged record carries besides its body: who sends it
// to whom, under which agreement and why.
type Header struct {
	// Schema is the record's schema name, such as SchemaTransfer.
	Schema string `json:"schema"`
	// ID is the submitter's own reference for the record, unique within the
	// sending province; resubmitting the same ID is idempotent.
	ID string `json:"id"`
	// From is the 2-digit code of the sending province.
	From string `json:"from"`
	// To is the 2-digit code of the receiving province.
	To string `json:"to"`
	// AgreementID names the cooperation agreement the record travels under.
	AgreementID string `json:"agreement_id"`
	// Purpose is why the record crosses.
	Purpose Purpose `json:"purpose"`
}

// Head returns the record's header; it makes every record type a Record.
func (h *Header) Head() *Header { return h }
