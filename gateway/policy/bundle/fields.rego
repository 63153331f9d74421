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

# admitted: a scope path admits itself and everything below it.
admitted(f, paths) if f in paths

admitted(f, paths) if {
	some p in paths
	startswith(f, concat("", [p, "."]))
}

drop_code(f) := "outside_scope" if not admitted(f, chosen_rule.fields)

drop_code(f) := "statistics_no_identifiers" if {
	admitted(f, chosen_rule.fields)
	input.purpose == "statistics"
	direct_identifiers[f]
}

cleared(f) if {
	clearing_purposes[input.purpose]
	admitted(f, object.get(chosen_rule, "clear", []))
}

field_obligations[f] := {"action": "drop", "code": code} if {
	allow
	some f in input.fields
	not header_fields[f]
	code := drop_code(f)
}

field_obligations[f] := {"action": "mask", "pattern": pattern, "code": "identifier_masked"} if {
	allow
	some f in input.fields
	not header_fields[f]
	not drop_code(f)
	pattern := mask_patterns[f]
	not cleared(f)
}
