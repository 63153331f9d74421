package exchange

import (
	"os"
	"path/filepath"
	"regexp"
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

// TestTheAuditorGuideMapsReasonsAsTheLogDoes: the auditor guide's table of
// audit reasons names, for each, the policy and import codes behind it;
// it said agreement_inactive was a federation-policy-deny after the log
// had come to record it as agreement-not-in-force. (From a review.) Every
// code the table names is now held to the reason the log records for it.
func TestTheAuditorGuideMapsReasonsAsTheLogDoes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "auditor-guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| (.*) \\|$")
	code := regexp.MustCompile("`([a-z]+(?:_[a-z]+)+)`")
	checked := 0
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		reason := audit.Reason(m[1])
		if !reason.Valid() {
			continue // a row of another table
		}
		for _, c := range code.FindAllStringSubmatch(m[2], -1) {
			checked++
			if got := auditReason(c[1]); got != reason {
				t.Errorf("the auditor guide lists %s under %s; the log records it as %s", c[1], reason, got)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("found %d codes in the auditor guide's table of reasons; is it still there?", checked)
	}
}
