package laborlink.federation_test

import data.laborlink.federation

agreement := {
	"id": "AG-51-44-2026-001",
	"version": 2,
	"origin": {"division": "510000", "name": "四川省人力资源和社会保障厅"},
	"destination": {"division": "440000", "name": "广东省人力资源和社会保障厅"},
	"valid_from": "2026-01-01",
	"valid_until": "2026-12-31",
	"status": "active",
	"scope": [
		{
			"record_type": "transfer",
			"purposes": ["employment-service", "rights-protection", "statistics"],
			"fields": ["worker", "placement", "organizer", "training"],
			"clear": ["worker.id_number"],
		},
		{
			"record_type": "confirmation",
			"purposes": ["employment-confirmation"],
			"fields": ["transfer_id", "worker_id_number", "employed", "since", "months_employed", "confirmed_on"],
			"clear": ["worker_id_number"],
		},
		{
			"record_type": "referral",
			"purposes": ["rights-protection"],
			"fields": ["kind", "worker", "employer", "amount_owed_fen", "status", "deadline"],
		},
	],
	"quotas": [{"record_type": "transfer", "period": "month", "max": 100}],
}

transfer := {
	"side": "export",
	"record_type": "transfer",
	"schema": "laborlink.transfer/v1",
	"purpose": "employment-service",
	"agreement_id": "AG-51-44-2026-001",
	"from": "51",
	"to": "44",
	"peer": "spiffe://p51.laborlink.test/system/hr",
	"fields": ["schema", "id", "worker.name", "worker.id_number", "worker.phone", "placement.employer_name", "labor_brand"],
	"facts": {"worker_division": "511321", "employer_division": "440305"},
	"agreements": [agreement],
	"quota_used": {},
	"today": "2026-03-15",
}

test_allowed_with_agreement_reported if {
	d := federation.decision with input as transfer
	d.allow
	d.agreement == {"id": "AG-51-44-2026-001", "version": 2}
	some r in d.reasons
	r.code == "agreement_covers"
}

test_no_agreement_denied if {
	d := federation.decision with input as object.union(transfer, {"agreements": []})
	not d.allow
	codes(d) == {"no_agreement"}
}

test_suspended_denied if {
	d := federation.decision with input as with_agreement({"status": "suspended"})
	not d.allow
	codes(d) == {"agreement_suspended"}
}

test_not_yet_started_denied if {
	d := federation.decision with input as object.union(transfer, {"today": "2025-12-31"})
	codes(d) == {"agreement_not_started"}
}

test_expired_denied if {
	d := federation.decision with input as object.union(transfer, {"today": "2027-01-01"})
	codes(d) == {"agreement_expired"}
}

test_wrong_purpose_denied if {
	d := federation.decision with input as object.union(transfer, {"purpose": "training-subsidy"})
	codes(d) == {"purpose_not_covered"}
}

test_transfer_backwards_is_wrong_direction if {
	d := federation.decision with input as object.union(transfer, {"from": "44", "to": "51"})
	codes(d) == {"wrong_direction"}
}

test_third_province_not_covered if {
	d := federation.decision with input as object.union(transfer, {"to": "32"})
	codes(d) == {"province_not_covered"}
}

test_field_outside_scope_dropped if {
	d := federation.decision with input as transfer
	d.obligations.labor_brand == {"action": "drop", "code": "outside_scope"}
	not d.obligations["worker.name"]
	not d.obligations.schema
}

test_phone_masked_id_masked_for_employment_service if {
	d := federation.decision with input as transfer
	d.obligations["worker.phone"].pattern == "phone"
	d.obligations["worker.id_number"].pattern == "id_number"
}

test_id_clear_for_rights_protection_when_granted if {
	d := federation.decision with input as object.union(transfer, {"purpose": "rights-protection"})
	d.allow
	not d.obligations["worker.id_number"]
	d.obligations["worker.phone"].action == "mask"
}

test_statistics_gets_no_direct_identifiers if {
	d := federation.decision with input as object.union(transfer, {"purpose": "statistics"})
	d.allow
	d.obligations["worker.name"].code == "statistics_no_identifiers"
	d.obligations["worker.id_number"].action == "drop"
	d.obligations["worker.phone"].action == "drop"
}

test_quota_reached_denied if {
	used := {"AG-51-44-2026-001": {"transfer": {"month": 100}}}
	d := federation.decision with input as object.union(transfer, {"quota_used": used})
	codes(d) == {"quota_reached"}
}

test_quota_below_max_allowed if {
	used := {"AG-51-44-2026-001": {"transfer": {"month": 99}}}
	d := federation.decision with input as object.union(transfer, {"quota_used": used})
	d.allow
}

test_county_agreement_covers_only_its_county if {
	county := object.union(agreement, {"origin": {"division": "511300", "name": "南充市"}})
	ok := federation.decision with input as object.union(transfer, {"agreements": [county]})
	ok.allow
	other := object.union(transfer, {"agreements": [county], "facts": {"worker_division": "510104", "employer_division": "440305"}})
	d := federation.decision with input as other
	codes(d) == {"division_not_covered"}
}

test_confirmation_returns if {
	conf := object.union(transfer, {
		"record_type": "confirmation",
		"purpose": "employment-confirmation",
		"from": "44",
		"to": "51",
		"fields": ["transfer_id", "worker_id_number", "employed"],
		"facts": {"worker_division": "", "employer_division": ""},
	})
	d := federation.decision with input as conf
	d.allow
	d.obligations == {}
}

test_referral_to_third_province_denied if {
	third := object.union(agreement, {"destination": {"division": "320000", "name": "江苏省"}})
	ref := object.union(transfer, {
		"record_type": "referral",
		"purpose": "rights-protection",
		"to": "32",
		"fields": ["kind", "worker.name"],
		"facts": {"worker_division": "511321", "employer_division": "440305"},
		"agreements": [third],
	})
	d := federation.decision with input as ref
	codes(d) == {"referral_destination"}
}

test_one_usable_agreement_is_enough if {
	suspended := object.union(agreement, {"id": "AG-51-44-2025-009", "status": "suspended"})
	d := federation.decision with input as object.union(transfer, {"agreements": [suspended, agreement]})
	d.allow
	d.agreement.id == "AG-51-44-2026-001"
}

test_agreement_other_than_named_denied if {
	other := object.union(agreement, {"id": "AG-51-44-2026-002"})
	d := federation.decision with input as object.union(transfer, {"agreements": [other]})
	not d.allow
	codes(d) == {"agreement_mismatch"}
}

test_named_agreement_chosen_among_others if {
	other := object.union(agreement, {"id": "AG-51-44-2025-009"})
	d := federation.decision with input as object.union(transfer, {"agreements": [other, agreement]})
	d.allow
	d.agreement.id == "AG-51-44-2026-001"
}

test_record_naming_no_agreement_denied if {
	d := federation.decision with input as object.union(transfer, {"agreement_id": ""})
	not d.allow
	codes(d) == {"agreement_unnamed"}
	d.agreement == null
	d.obligations == {}
}

test_record_without_agreement_id_denied if {
	d := federation.decision with input as object.remove(transfer, {"agreement_id"})
	not d.allow
	codes(d) == {"agreement_unnamed"}
}

codes(d) := {r.code | some r in d.reasons}

with_agreement(patch) := object.union(transfer, {"agreements": [object.union(agreement, patch)]})
