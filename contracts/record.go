package contracts

// Record is any record that crosses a border inside an envelope.
type Record interface {
	// Head returns the record's header.
	Head() *Header
	// Type returns the record's type.
	Type() RecordType
}

// Type reports that a Transfer is a transfer record.
func (*Transfer) Type() RecordType { return RecordTransfer }

// Type reports that a Confirmation is a confirmation record.
func (*Confirmation) Type() RecordType { return RecordConfirmation }

// Type reports that a Referral is a referral record.
func (*Referral) Type() RecordType { return RecordReferral }

// Type reports that a ReferralUpdate is a referral-update record.
func (*ReferralUpdate) Type() RecordType { return RecordReferralUpdate }

var (
	_ Record = (*Transfer)(nil)
	_ Record = (*Confirmation)(nil)
	_ Record = (*Referral)(nil)
	_ Record = (*ReferralUpdate)(nil)
)
