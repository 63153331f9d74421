# The federation bundle: the layer of policy every province applies to every
# record at both ends of a border. It is replicated through the registry and
# versioned there; this copy ships inside the binary as version 0.
#
# The engine queries data.laborlink.federation.decision with the input
# documented in docs/policy.md. Default deny: without an agreement that passes
# every check in agreements.rego, nothing crosses.
package laborlink.federation

# decision is the document the engine reads: allow, reasons, per-field
# obligations and the agreement that was used.
decision := {
	"allow": allow,
	"reasons": reasons,
	"obligations": field_obligations,
	"agreement": agreement_used,
}

default allow := false

# A record must name the agreement it travels under: one that names none
# crosses under none, even where the provinces have agreements that would do.
allow if {
	input.agreement_id != ""
	count(usable) > 0
}

# usable holds the indexes of the agreements in input.agreements under which
# the record may cross: those with no problem at all. Lookups here and below
# go to complete rules (comprehensions), which OPA evaluates once per
# decision; a lookup into a partial set with a bound key is evaluated again
# for every lookup.
usable := {i | some i, _ in input.agreements; not troubled[i]}

troubled := {p.index | some p in problems}

# chosen is the usable agreement the decision relies on. The engine orders
# input.agreements by id and descending version, so the lowest index is a
# stable choice when several agreements would do.
chosen := min(usable) if allow

default agreement_used := null

agreement_used := {"id": a.id, "version": a.version} if {
	a := input.agreements[chosen]
}

reasons contains {
	"code": "agreement_covers",
	"message": sprintf("agreement %s v%d covers a %s from %s to %s for %s", [a.id, a.version, input.record_type, input.from, input.to, input.purpose]),
} if {
	a := input.agreements[chosen]
}

reasons contains {"code": p.code, "message": p.message} if {
	not allow
	some p in problems
}

reasons contains {
	"code": "agreement_unnamed",
	"message": "the record names no agreement (its agreement_id is empty); nothing crosses without one",
} if {
	object.get(input, "agreement_id", "") == ""
}

reasons contains {
	"code": "no_agreement",
	"message": sprintf("no agreement between provinces %s and %s is registered for this record; nothing crosses without one", [input.from, input.to]),
} if {
	count(input.agreements) == 0
}
