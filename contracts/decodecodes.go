package contracts

import "sync"

// Most string members of a record, an envelope or a receipt that are not
// names or identifiers hold one of a few codes: a schema, a purpose, a
// province or division, an event kind. The decoders read those members
// with code, which returns the code interned instead of allocating a copy
// of it.

// codes interns the codes: every value of the string types the decoders
// fill, the schemas, the province codes and the division codes.
// TestCodesHoldEveryDeclaredValue and TestCodesHoldEverySchemaEnum fail
// when a constant of such a type, or a value a schema allows, is missing.
var codes = sync.OnceValue(func() map[string]string {
	m := make(map[string]string)
	add := func(s string) { m[s] = s }
	for _, s := range []string{SchemaTransfer, SchemaConfirmation, SchemaReferral, SchemaReferralUpdate, SchemaAgreement} {
		add(s)
	}
	for _, t := range []RecordType{RecordTransfer, RecordConfirmation, RecordAgreement, RecordReferral, RecordReferralUpdate} {
		add(string(t))
	}
	for _, p := range []Purpose{PurposeEmploymentService, PurposeEmploymentConfirmation, PurposeRightsProtection, PurposeTrainingSubsidy, PurposeStatistics} {
		add(string(p))
	}
	for _, s := range []Sex{SexMale, SexFemale} {
		add(string(s))
	}
	for _, k := range []OrganizerKind{OrganizerPublicEmploymentService, OrganizerLaborCompany, OrganizerAgency,
		OrganizerTrainingInstitution, OrganizerVillageOrganization, OrganizerBroker, OrganizerSelf} {
		add(string(k))
	}
	for _, k := range []EventKind{EventRegistered, EventDeparted, EventArrived, EventEmployed, EventLeft, EventReturned} {
		add(string(k))
	}
	for _, k := range []CaseKind{CaseWageArrears, CaseWorkInjury, CaseContractDispute, CaseIllegalAgency, CaseOther} {
		add(string(k))
	}
	for _, s := range []CaseStatus{CaseReferred, CaseAccepted, CaseInvestigating, CaseResolved, CaseClosed, CaseRejected} {
		add(string(s))
	}
	for _, s := range []ReceiptStatus{ReceiptStored, ReceiptDuplicate, ReceiptRejected} {
		add(string(s))
	}
	for _, p := range divisions().provinces {
		add(p)
	}
	for c := range divisions().byCode {
		add(c)
	}
	return m
})

// code returns the code b spells, interned, when it is one.
func code(b []byte) (string, bool) {
	s, ok := codes()[string(b)]
	return s, ok
}

// codeInto is strInto for a member that usually holds a code.
func (l *lexer) codeInto(p *string) bool {
	if l.null() {
		return true
	}
	s, ok := l.interned(code)
	*p = s
	return ok
}
