package policy

import (
	"context"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// TestObligationTargetsCoverRecordTypes: every record type has its targets,
// all of them, and each is one of its field paths.
func TestObligationTargetsCoverRecordTypes(t *testing.T) {
	targets := obligationTargets()
	for _, rt := range contracts.RecordTypes() {
		t.Run(string(rt), func(t *testing.T) {
			rec := contracts.NewRecord(rt)
			if rec == nil || rec.Type() != rt {
				t.Fatalf("contracts.NewRecord(%s) = %T", rt, rec)
			}
			if !walkPaths(reflect.TypeOf(rec).Elem(), "", 0, func(string) bool { return true }) {
				t.Errorf("the walk of a %s stops short, so some of its targets are missing", rt)
			}
			if !targets[rt]["schema"] {
				t.Errorf("targets of a %s lack its schema: %v", rt, targets[rt])
			}
			for path := range targets[rt] {
				if !contracts.IsFieldPath(rt, path) {
					t.Errorf("target %q is no field path of a %s", path, rt)
				}
			}
		})
	}
	if len(targets) != len(contracts.RecordTypes()) {
		t.Errorf("targets for %d record types, want %d", len(targets), len(contracts.RecordTypes()))
	}
}

func TestCheckObligationPath(t *testing.T) {
	tests := []struct {
		rt   contracts.RecordType
		path string
		err  string // "" when the path is accepted, else part of the error
	}{
		{contracts.RecordTransfer, "worker.id_number", ""},
		{contracts.RecordTransfer, "worker", ""},
		{contracts.RecordTransfer, "events", ""},
		{contracts.RecordTransfer, "training.certificate.number", ""},
		// a field of transfers, absent from confirmations: nothing to do
		{contracts.RecordConfirmation, "worker.birth_date", ""},
		{contracts.RecordTransfer, "events.kind", `"events.kind" goes inside the array events of a transfer record`},
		{contracts.RecordTransfer, "worker.birthdate", `"worker.birthdate" names no field of a transfer record`},
		{"", "events.at", `"events.at" goes inside the array events of a transfer record`},
		{"", "worker.birthdate", `"worker.birthdate" names no field of any record type`},
		{"", "worker.birth_date", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.rt)+"/"+tt.path, func(t *testing.T) {
			err := checkObligationPath(tt.rt, tt.path)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want one saying %s", err, tt.err)
			}
		})
	}
}

// A province rule naming a path no obligation can act on is refused when the
// policy is loaded, with the file, line, path and record type.
func TestProvinceObligationPathRefusedOnLoad(t *testing.T) {
	tests := map[string]struct{ rule, want string }{
		"inside an array": {`obligations["events.kind"] := {"action": "drop", "code": "p"}`,
			`p.rego:3: obligation path "events.kind" goes inside the array events of a transfer record`},
		"misspelt, as a ref": {`obligations.worker_birth_date := {"action": "drop", "code": "p"}`,
			`p.rego:3: obligation path "worker_birth_date" names no field of any record type`},
		"misspelt, in an object": {`obligations := {"worker.birthdate": {"action": "drop", "code": "p"}} if input.side == "export"`,
			`p.rego:3: obligation path "worker.birthdate" names no field of any record type`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := writeProvince(t, map[string]string{"p.rego": "package laborlink.province\n\n" + tt.rule + "\n"})
			_, err := NewEngine(context.Background(), FederationBundle(), Config{ProvinceDir: dir})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %s", err, tt.want)
			}
		})
	}
}

// A path the policy computes is checked on the decision, for the record's
// type: the decision fails, which a node treats as a denial.
func TestProvinceObligationPathRefusedOnDecide(t *testing.T) {
	dir := writeProvince(t, map[string]string{"p.rego": `package laborlink.province

obligations[path] := {"action": "mask", "pattern": "all", "code": "p"} if {
	some path in {concat(".", ["events", "kind"]), "worker.name"}
}
`})
	e := newEngine(t, dir, DefaultCacheSize)
	d, err := e.Decide(context.Background(), Request{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{agreement51to44()}})
	want := `obligation path "events.kind" goes inside the array events of a transfer record`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("decision %v, error %v; want an error saying %s", d, err, want)
	}
}

// TestABundleObligationInsideAnArrayDecidesNothing: a federation bundle
// published through the registry whose obligation names a path inside an
// array (events.at) loaded, and its decisions allowed the record with an
// obligation nothing carries out: the field crossed. (From a review.) Such
// a decision is now an error, as a province policy's is, so nothing
// crosses.
func TestABundleObligationInsideAnArrayDecidesNothing(t *testing.T) {
	ctx := t.Context()
	e := newEngine(t, "", -1)
	if err := e.SetBundle(ctx, registryBundle("events.rego", `package laborlink.federation

field_obligations["events.at"] := {"action": "drop", "code": "no_event_times"} if allow
`)); err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(ctx, Request{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{agreement51to44()}, Time: march15})
	if err == nil || !strings.Contains(err.Error(), `federation bundle: obligation path "events.at" goes inside the array events`) {
		t.Errorf("decision %+v, err %v; want an error naming the bundle's path inside the array", d, err)
	}
}

// TestProvinceRulesNoDecisionReads: the engine reads laborlink.province's
// deny and obligations only; a deny written in a package below it was
// compiled and silently never applied, a province that meant to deny
// denying nothing. Such rules are listed, and a node logs them as it loads
// the policy. (From a review of policy.)
func TestProvinceRulesNoDecisionReads(t *testing.T) {
	files := map[string]string{
		"main.rego": "package laborlink.province\n\ndeny contains \"read\" if input.purpose == \"statistics\"\n",
		"extra.rego": "package laborlink.province.extra\n\ndeny contains \"never read\" if input.purpose == \"statistics\"\n\n" +
			"obligations[\"worker.phone\"] := {\"action\": \"drop\"}\n\nhelper := true\n",
	}
	unread, err := UnreadProvinceRules(Layer{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"extra.rego:3: deny in package laborlink.province.extra is never read: decisions read laborlink.province.deny only",
		"extra.rego:5: obligations in package laborlink.province.extra is never read: decisions read laborlink.province.obligations only",
	}
	if !slices.Equal(unread, want) {
		t.Errorf("unread rules:\n got %q\nwant %q", unread, want)
	}
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	if _, err := NewEngine(context.Background(), FederationBundle(), Config{ProvinceDir: writeProvince(t, files), Logger: log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), "extra.rego:3: deny in package laborlink.province.extra is never read") {
		t.Errorf("the engine did not warn of the unread deny; logged:\n%s", logged.String())
	}
}
