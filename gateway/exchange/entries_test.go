package exchange

import (
	"testing"

	"github.com/laborlink/laborlink/gateway/audit"
)

// Every denial code the federation bundle and the import checks give has a
// precise counterpart in the audit log's closed set (docs/policy.md lists
// the bundle's codes); only province-policy codes, which are free, fall back
// to a layer-wide code.
func TestEveryReasonCodeMapsPrecisely(t *testing.T) {
	tests := map[string]audit.Reason{
		"no_agreement":            audit.ReasonNoAgreement,
		"agreement_suspended":     audit.ReasonAgreementSuspended,
		"agreement_expired":       audit.ReasonAgreementNotInForce,
		"agreement_not_started":   audit.ReasonAgreementNotInForce,
		"agreement_inactive":      audit.ReasonAgreementNotInForce,
		"province_not_covered":    audit.ReasonProvinceMismatch,
		"wrong_direction":         audit.ReasonProvinceMismatch,
		"division_not_covered":    audit.ReasonProvinceMismatch,
		"record_type_not_covered": audit.ReasonRecordTypeNotCovered,
		"purpose_not_covered":     audit.ReasonPurposeNotAllowed,
		"quota_reached":           audit.ReasonQuotaExceeded,
		"referral_destination":    audit.ReasonProvinceMismatch,
		"division_not_crossing":   audit.ReasonFieldNotAllowed,
		"bundle_undefined":        audit.ReasonPolicyError,
		ReasonMalformed:           audit.ReasonContractInvalid,
		ReasonInvalidRecord:       audit.ReasonContractInvalid,
		ReasonInvalidTransition:   audit.ReasonContractInvalid,
		ReasonReferralIDTaken:     audit.ReasonContractInvalid,
		ReasonOriginMismatch:      audit.ReasonProvinceMismatch,
		ReasonWrongDest:           audit.ReasonProvinceMismatch,
		ReasonEnvelopeMismatch:    audit.ReasonProvinceMismatch,
		ReasonSignerMismatch:      audit.ReasonPeerNotAuthorized,
		ReasonBadSignature:        audit.ReasonSignatureInvalid,
		"some_province_rule":      audit.ReasonFederationPolicy,
	}
	for code, want := range tests {
		if got := auditReason(code); got != want {
			t.Errorf("auditReason(%q) = %s, want %s", code, got, want)
		}
	}
}
