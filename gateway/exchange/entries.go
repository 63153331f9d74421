package exchange

import (
	"encoding/hex"
	"strings"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/pki"
)

// The audit log's vocabulary is closed, so that no free text can carry
// personal data into it; these functions build entries from identifiers,
// digests and codes only.

func sentEntry(env *contracts.Envelope, rec contracts.Record, refersTo string, dec *policy.Decision, caller pki.Identity) audit.Entry {
	e := flowEntry(audit.KindSent, env, dec)
	e.Peer = caller.URI()
	caseFacts(&e, rec, refersTo)
	return e
}

func receivedEntry(env *contracts.Envelope, rec contracts.Record, refersTo string, dec *policy.Decision, from pki.Identity) audit.Entry {
	e := flowEntry(audit.KindReceived, env, dec)
	e.Peer = from.URI()
	caseFacts(&e, rec, refersTo)
	return e
}

// caseFacts gives the flow of a referral or referral update the case's
// status, deadline and (for an update) the referral's envelope, so that
// auditors can follow cases and see the overdue ones without any content.
func caseFacts(e *audit.Entry, rec contracts.Record, refersTo string) {
	switch r := rec.(type) {
	case *contracts.Referral:
		e.Detail, e.Due = audit.Detail(r.Status), dueDay(r.Deadline)
	case *contracts.ReferralUpdate:
		e.Detail, e.RefersTo = audit.Detail(r.Status), refersTo
	}
}

// dueDay is a referral's deadline as entries and cases hold it: "" for
// none, which a referral may arrive without when its agreement does not
// let the field cross (the origin's obligations dropped it).
func dueDay(d contracts.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

func importDeniedEntry(env *contracts.Envelope, dec *policy.Decision, from pki.Identity) audit.Entry {
	e := flowEntry(audit.KindDenied, env, dec)
	e.Peer = from.URI()
	return e
}

func deniedEntry(id string, rec contracts.Record, dec *policy.Decision, caller pki.Identity) audit.Entry {
	h := rec.Head()
	e := audit.Entry{
		Kind:        audit.KindDenied,
		EnvelopeID:  id,
		RecordType:  string(rec.Type()),
		Origin:      audit.Province(h.From),
		Destination: audit.Province(h.To),
		AgreementID: h.AgreementID,
		Purpose:     string(h.Purpose),
		Peer:        caller.URI(),
	}
	decide(&e, dec)
	return e
}

// refusalEntry records this node's refusal, for good, of an envelope from
// the peer from for codes: check's reasons (a forged origin, a bad
// signature, a malformed envelope or record, ids outside the log's tokens)
// or a case's refusal in the commit; policy's denials have entries of
// their own (importDeniedEntry). The envelope may be malformed or forged
// (env nil when nothing of it could be read), so the flow is recorded as
// what it was, from the province of the node that sent it (the peer,
// always named) to this one (here), whatever the envelope claims; of the
// rest, what the log can hold is kept and what it cannot left out
// (auditable clears ids that are no tokens; a record type or purpose
// that is none is dropped).
func refusalEntry(env *contracts.Envelope, codes []string, from pki.Identity, here string) audit.Entry {
	if env == nil {
		env = &contracts.Envelope{}
	}
	reasons := make([]policy.Reason, len(codes))
	for i, c := range codes {
		reasons[i] = policy.Reason{Code: c}
	}
	e := importDeniedEntry(env, &policy.Decision{Reasons: reasons}, from)
	e.Origin, e.Destination = audit.Province(from.Province), audit.Province(here)
	e.Scrub()
	if e.Validate() != nil {
		e.RecordType, e.Purpose = "", ""
	}
	return e
}

// auditable is e with the identifiers the audit log refuses cleared
// (audit.Entry.Scrub), so that the entry of a flow whose identifiers are
// bad is written without them rather than not at all. The operator's log
// gets the names of the fields cleared, never their values.
func (x *Exchange) auditable(e audit.Entry) audit.Entry {
	if cleared := e.Scrub(); cleared != nil {
		x.d.Log.Warn("audit entry written without identifiers the audit log refuses", "kind", e.Kind, "envelope", e.EnvelopeID, "cleared", cleared)
	}
	return e
}

// receiptEntry records the destination's receipt of an envelope sent from here.
func receiptEntry(envelopeID, peerProvince, digest string, latencyMS int64) audit.Entry {
	return audit.Entry{
		Kind:          audit.KindReceipt,
		EnvelopeID:    envelopeID,
		RefersTo:      envelopeID,
		Destination:   audit.Province(peerProvince),
		PayloadDigest: parseDigest(digest),
		LatencyMS:     latencyMS,
	}
}

func flowEntry(kind audit.Kind, env *contracts.Envelope, dec *policy.Decision) audit.Entry {
	e := audit.Entry{
		Kind:             kind,
		EnvelopeID:       env.ID,
		RecordType:       string(env.Type),
		Origin:           audit.Province(env.Origin),
		Destination:      audit.Province(env.Destination),
		AgreementID:      env.AgreementID,
		AgreementVersion: int64(env.AgreementVersion),
		Purpose:          string(env.Purpose),
		PayloadDigest:    parseDigest(env.PayloadDigest),
		Size:             int64(len(env.Payload)),
	}
	decide(&e, dec)
	return e
}

func decide(e *audit.Entry, dec *policy.Decision) {
	e.Decision = audit.Deny
	if dec.Allow {
		e.Decision = audit.Allow
	}
	e.Policy = audit.PolicyRevisions{Federation: dec.Revisions.Bundle, Province: dec.Revisions.Province}
	if dec.Allow {
		return
	}
	seen := map[audit.Reason]bool{}
	for _, r := range dec.Reasons {
		code := auditReason(r.Code)
		if r.Layer == policy.LayerProvince {
			code = audit.ReasonProvincePolicy
		}
		if !seen[code] {
			seen[code] = true
			e.Reasons = append(e.Reasons, code)
		}
	}
}

// auditReason maps a policy or exchange reason code onto the audit log's
// closed set.
func auditReason(code string) audit.Reason {
	switch code {
	case "no_agreement":
		return audit.ReasonNoAgreement
	case "agreement_not_started", "agreement_expired", "agreement_inactive":
		return audit.ReasonAgreementNotInForce
	case "agreement_suspended":
		return audit.ReasonAgreementSuspended
	case "record_type_not_covered":
		return audit.ReasonRecordTypeNotCovered
	case "purpose_not_covered":
		return audit.ReasonPurposeNotAllowed
	case "quota_reached":
		return audit.ReasonQuotaExceeded
	case policy.ReasonDivisionNotCrossing:
		// A field the destination checks the record by would not cross.
		return audit.ReasonFieldNotAllowed
	case "wrong_direction", "province_not_covered", "division_not_covered", "referral_destination",
		ReasonOriginMismatch, ReasonWrongDest, ReasonEnvelopeMismatch:
		return audit.ReasonProvinceMismatch
	case ReasonSignerMismatch:
		return audit.ReasonPeerNotAuthorized
	case ReasonBadSignature:
		return audit.ReasonSignatureInvalid
	case ReasonMalformed, ReasonInvalidRecord, ReasonInvalidTransition, ReasonReferralIDTaken, ReasonEnvelopeIDReused:
		return audit.ReasonContractInvalid
	case "policy_error", "bundle_undefined", "registry_unavailable", "receipt_error":
		return audit.ReasonPolicyError
	}
	return audit.ReasonFederationPolicy
}

// parseDigest reads "sha256:<hex>"; anything else is the zero digest.
func parseDigest(s string) audit.Digest {
	var d audit.Digest
	b, err := hex.DecodeString(strings.TrimPrefix(s, "sha256:"))
	if err == nil && len(b) == len(d) {
		copy(d[:], b)
	}
	return d
}
