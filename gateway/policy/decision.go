package policy

import (
	"fmt"
	"strings"

	"github.com/laborlink/laborlink/contracts"
)

// Side says which end of a border decides: the origin exporting a record or
// the destination importing it.
type Side string

// The two decisions every record gets.
const (
	Export Side = "export"
	Import Side = "import"
)

// Layer names in reasons.
const (
	LayerFederation = "federation"
	LayerProvince   = "province"
)

// Decision is the policy's answer for one record at one end of a border. A
// Decision returned by the engine may be shared with other callers through the
// cache: treat its slices and map as read-only.
type Decision struct {
	// Allow is true only when both layers allow.
	Allow bool `json:"allow"`
	Side  Side `json:"side"`
	// Reasons explain the decision: when allowed, the agreement that covers
	// the record; when denied, every problem found.
	Reasons []Reason `json:"reasons"`
	// Obligations say what happens to each field path before the record
	// crosses (export) or is stored (import). Empty when denied.
	Obligations map[string]Obligation `json:"obligations,omitempty"`
	// Agreement is the agreement the decision relied on; nil when none was
	// usable.
	Agreement *AgreementRef `json:"agreement,omitempty"`
	// Revisions are the policy layers the decision was made with; audit
	// entries carry them.
	Revisions Revisions `json:"revisions"`

	// edits are the Obligations as contracts' edits, made with the decision.
	edits map[string]*contracts.Edits
}

// Reason is one stable, machine-readable code and a sentence for people.
type Reason struct {
	// Code is stable across releases: "agreement_expired", "quota_reached",
	// ... (the list is in docs/policy.md).
	Code    string `json:"code"`
	Message string `json:"message"`
	// Layer is LayerFederation or LayerProvince.
	Layer string `json:"layer"`
}

// Obligation actions.
const (
	ActionDrop = "drop"
	ActionMask = "mask"
)

// Obligation is what must happen to one field path.
type Obligation struct {
	// Action is ActionDrop or ActionMask.
	Action string `json:"action"`
	// Pattern names the mask (see Mask); empty for drops.
	Pattern string `json:"pattern,omitempty"`
	// Code says why, such as "outside_scope" or "identifier_masked".
	Code string `json:"code,omitempty"`
}

// AgreementRef names one version of an agreement.
type AgreementRef struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// Revisions identify the two policy layers in force.
type Revisions struct {
	// Bundle is the federation bundle's content revision (see Layer.Revision).
	Bundle string `json:"bundle"`
	// BundleVersion is the registry's version number of the bundle; 0 for the
	// bundle shipped in the binary.
	BundleVersion uint64 `json:"bundle_version"`
	// Province is the province layer's content revision.
	Province string `json:"province"`
}

// String formats the revisions for logs and audit entries.
func (r Revisions) String() string {
	return fmt.Sprintf("bundle v%d %s, province %s", r.BundleVersion, r.Bundle, r.Province)
}

// Codes lists the reason codes, in order, for tests and logs.
func (d Decision) Codes() []string {
	codes := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		codes[i] = r.Code
	}
	return codes
}

// Summary is one line for people: allowed or denied, and the reason codes.
func (d Decision) Summary() string {
	verdict := "denied"
	if d.Allow {
		verdict = "allowed"
	}
	return fmt.Sprintf("%s %s (%s)", d.Side, verdict, strings.Join(d.Codes(), ", "))
}
