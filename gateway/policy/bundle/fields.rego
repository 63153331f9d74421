# Field obligations under the chosen agreement: what is dropped and what is
# masked before a record crosses. Applying them is the engine's job (Go).
package laborlink.federation

# header_fields always cross: the envelope cannot be routed without them.
header_fields := {"schema", "id", "from", "to", "agreement_id", "purpose"}

# mask_patterns names the identifier fields that are masked unless cleared,
# and the pattern the engine applies (documented in docs/policy.md).
mask_patterns := {
	"worker.id_number": "id_number",
	"worker.phone": "phone",
	"worker_id_number": "id_number",
}

# direct_identifiers never cross for statistics.
direct_identifiers := {
	"worker.name",
	"worker.id_number",
	"worker.phone",
	"worker_id_number",
	"training.certificate.number",
	"training.subsidy.voucher_number",
}

# clearing_purposes are the purposes that may see identifiers unmasked, where
# the agreement's scope rule lists them under "clear".
clearing_purposes := {"rights-protection", "employment-confirmation"}

chosen_rule := scope_rules(input.agreements[chosen])[0]

# The field rules below work on whole sets (difference, intersection) and
# call one builtin per field at most: negation and per-field function calls
# allocate a sub-evaluation each and made up most of a decision's cost.

body_fields := {f | some f in input.fields} - header_fields

# within(paths) is the fields a list of scope paths admits: a path admits
# itself and everything below it.
within(paths) := (body_fields & {p | some p in paths}) | {f |
	prefixes := {concat("", [p, "."]) | some p in paths}
	some f in body_fields
	strings.any_prefix_match(f, prefixes)
}

outside_scope := body_fields - within(chosen_rule.fields)

default identifiers_for_statistics := set()

identifiers_for_statistics := (body_fields & direct_identifiers) - outside_scope if input.purpose == "statistics"

identifier_fields := {f | some f, _ in mask_patterns}

default cleared := set()

cleared := within(object.get(chosen_rule, "clear", [])) if clearing_purposes[input.purpose]

masked := (((body_fields & identifier_fields) - outside_scope) - identifiers_for_statistics) - cleared

field_obligations[f] := {"action": "drop", "code": "outside_scope"} if {
	allow
	some f in outside_scope
}

field_obligations[f] := {"action": "drop", "code": "statistics_no_identifiers"} if {
	allow
	some f in identifiers_for_statistics
}

field_obligations[f] := {"action": "mask", "pattern": mask_patterns[f], "code": "identifier_masked"} if {
	allow
	some f in masked
}

# reveals_masked are fields that, crossing beside a masked ID number, would
# give back what the mask hides: the birth date is 8 of its 11 masked
# digits, and the household division with the mask's first 3 the rest of
# its address code, so a masked ID number with the birth date beside it is
# one of about 90 numbers. The birth date is dropped instead.
default reveals_masked := set()

reveals_masked := {"worker.birth_date"} & (body_fields - outside_scope) if masked["worker.id_number"]

field_obligations[f] := {"action": "drop", "code": "reveals_masked_identifier"} if {
	allow
	some f in reveals_masked
}
