package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/laborlink/laborlink/contracts"
)

// rawResult is the engine query's value: what each layer said.
type rawResult struct {
	Federation struct {
		Allow       bool                  `json:"allow"`
		Reasons     []rawReason           `json:"reasons"`
		Obligations map[string]Obligation `json:"obligations"`
		Agreement   *AgreementRef         `json:"agreement"`
	} `json:"federation"`
	ProvinceDeny        []json.RawMessage     `json:"province_deny"`
	ProvinceObligations map[string]Obligation `json:"province_obligations"`
}

type rawReason struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// decode turns the query's value into a Decision on a record of type rt
// with the fields present: both layers must allow; obligations from both
// apply, the stricter where both name a path.
func decode(v any, side Side, rt contracts.RecordType, present presentFields, revs Revisions) (*Decision, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var raw rawResult
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("policy result has an unexpected shape: %w", err)
	}
	d := &Decision{Side: side, Allow: raw.Federation.Allow, Agreement: raw.Federation.Agreement, Revisions: revs}
	for _, r := range raw.Federation.Reasons {
		d.Reasons = append(d.Reasons, Reason{Code: r.Code, Message: r.Message, Layer: LayerFederation})
	}
	for _, m := range raw.ProvinceDeny {
		d.Allow = false
		d.Reasons = append(d.Reasons, provinceReason(m))
	}
	if !d.Allow {
		// An "allowed by the federation" reason would mislead next to a
		// province denial; keep only the reasons for the denial. A
		// province's code is its own, whatever it reads.
		d.Reasons = slices.DeleteFunc(d.Reasons, func(r Reason) bool {
			return r.Layer == LayerFederation && r.Code == "agreement_covers"
		})
		return d, nil
	}
	// An obligation on a path none acts on (inside an array) would be
	// left undone, its field crossing: an error, so nothing crosses. The
	// shipped bundle names whole fields only; one published through the
	// registry is held to that too.
	for _, l := range [...]struct {
		name        string
		obligations map[string]Obligation
	}{{"federation bundle", raw.Federation.Obligations}, {"province policy", raw.ProvinceObligations}} {
		for path := range l.obligations {
			if err := checkObligationPath(rt, path); err != nil {
				return nil, fmt.Errorf("%s: %w", l.name, err)
			}
		}
	}
	d.Obligations = mergeObligations(raw.Federation.Obligations, raw.ProvinceObligations)
	dropBesideMaskedID(d.Obligations, present)
	for path, o := range d.Obligations {
		if err := o.check(); err != nil {
			return nil, fmt.Errorf("policy obligation for %s: %w", path, err)
		}
	}
	// Made once here: a cached decision applies them to every record it
	// decides.
	d.edits, _ = editsFor(d.Obligations)
	return d, nil
}

// provinceReason accepts a province rule's reason either as an object with
// code and message or as a plain sentence.
func provinceReason(m json.RawMessage) Reason {
	var r rawReason
	if err := json.Unmarshal(m, &r); err == nil && r.Code != "" {
		return Reason{Code: r.Code, Message: r.Message, Layer: LayerProvince}
	}
	var s string
	if err := json.Unmarshal(m, &s); err == nil {
		return Reason{Code: "province_denied", Message: s, Layer: LayerProvince}
	}
	return Reason{Code: "province_denied", Message: strings.TrimSpace(string(m)), Layer: LayerProvince}
}

// mergeObligations joins the obligations of both layers. Where both name
// the same path, the stricter one applies (stricter); on a tie, the
// federation's, so that the outcome does not depend on map order.
func mergeObligations(fed, prov map[string]Obligation) map[string]Obligation {
	if len(fed)+len(prov) == 0 {
		return nil
	}
	out := make(map[string]Obligation, len(fed)+len(prov))
	for path, o := range fed {
		out[path] = o
	}
	for path, o := range prov {
		if cur, ok := out[path]; ok && !o.stricter(cur) {
			continue
		}
		out[path] = o
	}
	return out
}

// Where an ID number is masked, the birth date beside it gives back 8 of
// the 11 digits the mask hides. The bundle drops it beside a mask of its
// own; a province may mask an ID number the bundle lets cross in clear (a
// purpose that clears it), and the birth date must go then too.
const (
	idNumberPath  = "worker.id_number"
	birthDatePath = "worker.birth_date"
)

// dropBesideMaskedID drops the birth date, when the record has one, beside an
// ID number the merged obligations mask.
func dropBesideMaskedID(obligations map[string]Obligation, present presentFields) {
	if o, ok := obligations[idNumberPath]; !ok || o.Action != ActionMask || !present.has(birthDatePath) {
		return
	}
	if o, ok := obligationOn(obligations, birthDatePath); ok && o.Action == ActionDrop {
		return
	}
	obligations[birthDatePath] = Obligation{Action: ActionDrop, Code: "reveals_masked_identifier"}
}

// stricter reports whether o hides more of a field than p. The order is
// fixed: a drop, then masks by how many characters they keep, fewest first
// ("all", then "name", then "id_number" and "phone", which tie). An
// obligation check refuses (unknown action or pattern) ranks above all, so
// that merging never hides a policy mistake: it is kept, and the decision
// fails.
func (o Obligation) stricter(p Obligation) bool { return o.rank() < p.rank() }

// rank orders obligations for stricter: lower hides more.
func (o Obligation) rank() int {
	if o.check() != nil {
		return -2
	}
	if o.Action == ActionDrop {
		return -1
	}
	return maskPatterns[o.Pattern].kept
}

// check rejects obligations Apply could not carry out, so that a policy
// mistake denies at decision time instead of failing later or leaking.
func (o Obligation) check() error {
	switch o.Action {
	case ActionDrop:
		return nil
	case ActionMask:
		if _, ok := maskPatterns[o.Pattern]; !ok {
			return fmt.Errorf("unknown mask pattern %q; the patterns are %s", o.Pattern, strings.Join(MaskPatterns(), ", "))
		}
		return nil
	}
	return fmt.Errorf("unknown action %q; want %q or %q", o.Action, ActionDrop, ActionMask)
}

// checkAgreement refuses an allow that names no agreement, or one that is
// not among the request's candidates under the id the record names: the
// exchange counts quotas and seals envelopes under the agreement a
// decision names, and a bundle pushed through the registry is code this
// node did not ship. An error denies.
func (p *prepared) checkAgreement(d *Decision) error {
	if !d.Allow {
		return nil
	}
	a := d.Agreement
	switch {
	case a == nil:
		return errors.New("the policy allowed a record under no agreement")
	case a.ID != p.head.AgreementID:
		return fmt.Errorf("the policy allowed a record naming agreement %q under agreement %q", p.head.AgreementID, a.ID)
	case !slices.ContainsFunc(p.req.Agreements, func(c contracts.Agreement) bool { return c.ID == a.ID && c.Version == a.Version }):
		return fmt.Errorf("the policy allowed a record under agreement %s version %d, which is not one of the agreements it was given", a.ID, a.Version)
	}
	return nil
}
