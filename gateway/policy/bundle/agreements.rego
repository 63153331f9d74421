# What an agreement must satisfy for a record to cross under it. Each rule adds
# a problem for one agreement (by its index in input.agreements); an agreement
# with no problem is usable.
package laborlink.federation

# problem builds one problem entry with a human sentence naming the agreement.
problem(i, a, code, what) := {
	"index": i,
	"code": code,
	"message": sprintf("agreement %s v%d %s", [a.id, a.version, what]),
}

# The agreement must be the one the record names in its header: the engine
# looks candidates up by that id, but the decision should not depend on every
# source of agreements doing so. A record naming none is denied in
# decision.rego.
problems contains problem(i, a, "agreement_mismatch", sprintf("is not the agreement the record names (%s)", [input.agreement_id])) if {
	input.agreement_id != ""
	some i, a in input.agreements
	a.id != input.agreement_id
}

# Lifecycle: only approved or active agreements carry records; the dates below
# decide whether an approved agreement has started.
live_status := {"approved", "active"}

problems contains problem(i, a, "agreement_suspended", "is suspended") if {
	some i, a in input.agreements
	a.status == "suspended"
}

problems contains problem(i, a, "agreement_expired", "is marked expired in the registry") if {
	some i, a in input.agreements
	a.status == "expired"
}

problems contains problem(i, a, "agreement_inactive", sprintf("is %q, not active", [a.status])) if {
	some i, a in input.agreements
	not live_status[a.status]
	not a.status in {"suspended", "expired"}
}

problems contains problem(i, a, "agreement_not_started", sprintf("starts on %s; today is %s", [a.valid_from, input.today])) if {
	some i, a in input.agreements
	input.today < a.valid_from
}

problems contains problem(i, a, "agreement_expired", sprintf("ended on %s; today is %s", [a.valid_until, input.today])) if {
	some i, a in input.agreements
	input.today > a.valid_until
}

# Parties and direction. A record travels "forward" from the agreement's origin
# party to its destination party, or "return" the other way.
flow(a) := "forward" if {
	substring(a.origin.division, 0, 2) == input.from
	substring(a.destination.division, 0, 2) == input.to
}

flow(a) := "return" if {
	substring(a.destination.division, 0, 2) == input.from
	substring(a.origin.division, 0, 2) == input.to
	input.from != input.to
}

# directions says which way each record type may travel.
directions := {
	"transfer": {"forward"},
	"confirmation": {"return"},
	"referral": {"forward", "return"},
	"referral-update": {"forward", "return"},
}

problems contains problem(i, a, "province_not_covered", sprintf("is between %s and %s, not %s and %s", [substring(a.origin.division, 0, 2), substring(a.destination.division, 0, 2), input.from, input.to])) if {
	some i, a in input.agreements
	not flow(a)
}

problems contains problem(i, a, "wrong_direction", sprintf("lets a %s travel %s only; this one goes %s (%s to %s)", [input.record_type, concat(" or ", sort(object.get(directions, input.record_type, set()))), flow(a), input.from, input.to])) if {
	some i, a in input.agreements
	not directions[input.record_type][flow(a)]
}

# Divisions: a prefecture- or county-level party covers only records whose
# worker (origin side) or employer (destination side) is inside it.
problems contains problem(i, a, "division_not_covered", sprintf("covers origin %s; the worker's division is %q", [a.origin.division, input.facts.worker_division])) if {
	some i, a in input.agreements
	not covers(a.origin.division, input.facts.worker_division)
}

problems contains problem(i, a, "division_not_covered", sprintf("covers destination %s; the employer's division is %q", [a.destination.division, input.facts.employer_division])) if {
	some i, a in input.agreements
	not covers(a.destination.division, input.facts.employer_division)
}

# covers: a province-level party covers every division of its province (the
# province itself is checked by flow); a prefecture covers its counties; a
# county covers itself.
covers(party, _) if endswith(party, "0000")

covers(party, d) if {
	not endswith(party, "0000")
	endswith(party, "00")
	startswith(d, substring(party, 0, 4))
}

covers(party, d) if {
	not endswith(party, "00")
	d == party
}

# Confirmations and referral updates answer a record that already passed the
# division check; they carry no division and are decided at province level.
answers := {"confirmation", "referral-update"}

covers(_, "") if answers[input.record_type]

# Scope: the agreement must list the record type and the purpose.
scope_rules(a) := [r | some r in a.scope; r.record_type == input.record_type]

problems contains problem(i, a, "record_type_not_covered", sprintf("does not cover %s records", [input.record_type])) if {
	some i, a in input.agreements
	count(scope_rules(a)) == 0
}

problems contains problem(i, a, "purpose_not_covered", sprintf("does not allow %s records for %s", [input.record_type, input.purpose])) if {
	some i, a in input.agreements
	rule := scope_rules(a)[0]
	not input.purpose in rule.purposes
}

# Quotas: the engine passes how many records of this type were already sent
# under each agreement in each quota's current period. The engine caches
# decisions by whether each count has reached its maximum, so a policy may
# compare a count with its maximum but must not otherwise use it (not even in
# a message).
problems contains problem(i, a, "quota_reached", sprintf("allows %d %s records per %s, and that many have already crossed", [q.max, input.record_type, q.period])) if {
	some i, a in input.agreements
	some q in object.get(a, "quotas", [])
	q.record_type == input.record_type
	used := object.get(input.quota_used, [a.id, q.record_type, q.period], 0)
	used >= q.max
}

# Referrals go only to the worker's household-registration province or the
# employer's province.
problems contains problem(i, a, "referral_destination", sprintf("carries referrals only to the worker's province (%s) or the employer's (%s), not %s", [substring(input.facts.worker_division, 0, 2), substring(input.facts.employer_division, 0, 2), input.to])) if {
	input.record_type == "referral"
	some i, a in input.agreements
	input.to != substring(input.facts.worker_division, 0, 2)
	input.to != substring(input.facts.employer_division, 0, 2)
}
