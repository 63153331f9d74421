package contracts

import (
	"fmt"
	"slices"
	"strings"
)

// Validate checks the agreement's terms and returns a ValidationError listing
// every problem, or nil. It checks form only: whether the approvals' signatures
// verify, and whether the lifecycle transition is allowed, is the registry's
// business.
func (a *Agreement) Validate() error {
	var c checker
	if a.Schema != SchemaAgreement {
		c.addf("schema", "is %q, want %q", a.Schema, SchemaAgreement)
	}
	// The registry's log holds agreements proposed while an id was any
	// printable ASCII, and every replica applies them alike on every
	// replay: their id keeps that rule here. A new proposal is held to
	// CheckAgreementID, the rule of the agreement_id records carry, before
	// it enters the log.
	c.id("id", a.ID)
	if a.Version < 1 || a.Version > MaxVersion {
		c.addf("version", "is %d, want 1 to %d", a.Version, MaxVersion)
	}
	c.text("title", a.Title, MaxTitleLen)
	c.party("origin", &a.Origin)
	c.party("destination", &a.Destination)
	if op, dp := a.Origin.Province(), a.Destination.Province(); op != "" && op == dp && IsProvince(op) {
		c.addf("destination.division", "is in province %s like the origin: an agreement is between two provinces", dp)
	}
	fromOK := c.date("valid_from", a.ValidFrom)
	if c.date("valid_until", a.ValidUntil) && fromOK && a.ValidUntil.Before(a.ValidFrom) {
		c.addf("valid_until", "%s is before valid_from %s", a.ValidUntil, a.ValidFrom)
	}
	c.scope(a.Scope)
	c.quotas(a.Quotas)
	switch a.Status {
	case "", AgreementProposed, AgreementApproved, AgreementActive, AgreementSuspended, AgreementTerminated, AgreementExpired:
	default:
		c.addf("status", "%q is not an agreement status", a.Status)
	}
	c.approvals(a)
	return c.err()
}

// Bounds on agreement numbers; they also keep every number within the ±2^53
// that canonical encoding admits.
const (
	MaxVersion = 1_000_000
	MaxQuota   = 1_000_000_000
)

func (c *checker) party(path string, p *Party) {
	c.division(path+".division", p.Division, "", anyLevel)
	c.text(path+".name", p.Name, MaxTitleLen)
}

func (c *checker) scope(rules []ScopeRule) {
	switch {
	case len(rules) == 0:
		c.add("scope", "is required: at least one rule")
		return
	case len(rules) > MaxScopeRules:
		c.addf("scope", "has %d rules, want at most %d", len(rules), MaxScopeRules)
		return
	}
	for i := range rules {
		r := &rules[i]
		p := fmt.Sprintf("scope[%d]", i)
		if slices.ContainsFunc(rules[:i], func(o ScopeRule) bool { return o.RecordType == r.RecordType }) {
			c.addf(p+".record_type", "%q has a rule already", r.RecordType)
		}
		if !slices.Contains(RecordTypes(), r.RecordType) {
			c.addf(p+".record_type", "%q is not a record type that crosses a border; want one of %v", r.RecordType, RecordTypes())
			continue
		}
		c.scopePurposes(p+".purposes", r)
		c.scopeFields(p, r)
	}
}

func (c *checker) scopePurposes(path string, r *ScopeRule) {
	if len(r.Purposes) == 0 || len(r.Purposes) > MaxPurposes {
		c.addf(path, "has %d purposes, want 1 to %d", len(r.Purposes), MaxPurposes)
		return
	}
	allowed := recordPurposes[r.RecordType]
	for j, pu := range r.Purposes {
		switch {
		case !slices.Contains(allowed, pu):
			c.addf(fmt.Sprintf("%s[%d]", path, j), "%q is not a purpose a %s may cross for; want one of %v", pu, r.RecordType, allowed)
		case slices.Contains(r.Purposes[:j], pu):
			c.addf(fmt.Sprintf("%s[%d]", path, j), "%q is listed twice", pu)
		}
	}
}

func (c *checker) scopeFields(p string, r *ScopeRule) {
	if len(r.Fields) == 0 || len(r.Fields) > MaxScopeFields {
		c.addf(p+".fields", "has %d paths, want 1 to %d", len(r.Fields), MaxScopeFields)
	}
	for j, f := range r.Fields {
		if !IsFieldPath(r.RecordType, f) {
			c.addf(fmt.Sprintf("%s.fields[%d]", p, j), "%q is not a field of a %s; see FieldPaths", f, r.RecordType)
		}
	}
	if len(r.Clear) > MaxScopeFields {
		c.addf(p+".clear", "has %d paths, want at most %d", len(r.Clear), MaxScopeFields)
		return
	}
	for j, f := range r.Clear {
		switch {
		case !IsFieldPath(r.RecordType, f):
			c.addf(fmt.Sprintf("%s.clear[%d]", p, j), "%q is not a field of a %s; see FieldPaths", f, r.RecordType)
		case !covers(r.Fields, f):
			c.addf(fmt.Sprintf("%s.clear[%d]", p, j), "%q is not among the fields that may cross", f)
		}
	}
}

// covers reports whether one of paths is path or an object above it.
func covers(paths []string, path string) bool {
	for _, p := range paths {
		if p == path || (strings.HasPrefix(path, p) && path[len(p)] == '.') {
			return true
		}
	}
	return false
}

func (c *checker) quotas(qs []Quota) {
	if len(qs) > MaxQuotas {
		c.addf("quotas", "has %d quotas, want at most %d", len(qs), MaxQuotas)
		return
	}
	for i, q := range qs {
		p := fmt.Sprintf("quotas[%d]", i)
		if !slices.Contains(RecordTypes(), q.RecordType) {
			c.addf(p+".record_type", "%q is not a record type that crosses a border", q.RecordType)
		}
		switch q.Period {
		case QuotaMonth, QuotaYear, QuotaTotal:
		default:
			c.addf(p+".period", "%q is not month, year or total", q.Period)
		}
		if q.Max < 1 || q.Max > MaxQuota {
			c.addf(p+".max", "is %d, want 1 to %d", q.Max, MaxQuota)
		}
	}
}

func (c *checker) approvals(a *Agreement) {
	if len(a.Approvals) > MaxApprovals {
		c.addf("approvals", "has %d approvals, want at most one per party", len(a.Approvals))
		return
	}
	for i, ap := range a.Approvals {
		p := fmt.Sprintf("approvals[%d]", i)
		switch {
		case !a.IsParty(ap.Province):
			c.addf(p+".province", "%q is not a party to the agreement", ap.Province)
		case slices.ContainsFunc(a.Approvals[:i], func(o Approval) bool { return o.Province == ap.Province }):
			c.addf(p+".province", "%s approved already", ap.Province)
		}
		if ap.Admin == "" {
			c.add(p+".admin", "is required")
		} else {
			c.optText(p+".admin", ap.Admin, MaxURILen, false)
		}
		c.instant(p+".at", ap.At)
		if len(ap.Signature) == 0 || len(ap.Signature) > MaxSignature {
			c.addf(p+".signature", "has %d bytes, want 1 to %d", len(ap.Signature), MaxSignature)
		}
	}
}
