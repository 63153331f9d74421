package contracts

import (
	"fmt"
	"strings"
)

// DivisionPaths returns the fields of a record type that hold the divisions
// an agreement's parties are checked against: the worker's household
// division, which an origin party below province level must contain, and the
// employer's division, which such a destination party must contain. Both are
// "" for a type that carries neither (confirmations and referral updates,
// which answer a record checked already).
func DivisionPaths(t RecordType) (worker, employer string) {
	switch t {
	case RecordTransfer:
		return "worker.household_division", "placement.division"
	case RecordReferral:
		return "worker.household_division", "employer.division"
	}
	return "", ""
}

// CheckScopeDivisions reports, as a ValidationError, every scope rule that
// leaves out a division its agreement's parties are checked against, or nil.
//
// A party below province level covers only the records whose worker
// (origin) or employer (destination) is inside it, and each end checks
// that on the record as it has it. Left out of the scope, the division is
// dropped before the record crosses: the origin, which checked it, accepts
// the record, and the destination, which cannot, refuses it for good, so
// every record under the rule would be a dead letter.
//
// It is not part of Validate: the registry's log holds agreements proposed
// before this rule, which every replica must go on applying as it did, so
// the registry holds proposals, amendments and approvals to it before they
// enter the log, and nodes refuse the records such an agreement would
// strand.
func (a *Agreement) CheckScopeDivisions() error {
	var c checker
	for i := range a.Scope {
		r := &a.Scope[i]
		worker, employer := DivisionPaths(r.RecordType)
		c.scopeDivision(i, r, "origin", a.Origin.Division, worker, "the worker's household")
		c.scopeDivision(i, r, "destination", a.Destination.Division, employer, "the employer")
	}
	return c.err()
}

// scopeDivision adds a problem when rule i leaves out path, the field that
// party (the agreement's side, of division) is checked against.
func (c *checker) scopeDivision(i int, r *ScopeRule, side, division, path, whose string) {
	if path == "" || !BelowProvince(division) || covers(r.Fields, path) {
		return
	}
	parent, _, _ := strings.Cut(path, ".")
	c.addf(fmt.Sprintf("scope[%d].fields", i),
		"leaves out %q: the %s party %s is a %s, so the destination checks that %s is inside it on every %s, and refuses for good a %s without it; add %q (or %q)",
		path, side, division, PartyLevel(division), whose, r.RecordType, r.RecordType, path, parent)
}

// BelowProvince reports whether a party's division is a prefecture or a
// county: one that covers part of its province only. A malformed one is
// Validate's to report.
func BelowProvince(division string) bool {
	return len(division) == 6 && !strings.HasSuffix(division, "0000")
}

// PartyLevel names the level of a party below its province as policy reads
// it from the code: a prefecture (xxyy00) covers its counties, anything
// else only itself.
func PartyLevel(division string) string {
	if strings.HasSuffix(division, "00") {
		return "prefecture"
	}
	return "county"
}
