package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/devfed/devfedtest"
)

// policyFixtures writes a synthetic transfer and the active agreement it
// travels under, and returns their files.
func policyFixtures(t *testing.T) (recordFile, agreementFile string) {
	t.Helper()
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	a := g.Agreement()
	a.Status = contracts.AgreementActive
	a.Origin.Division, a.Destination.Division = "510000", "440000"
	tr := g.Transfer()
	tr.Purpose = contracts.PurposeEmploymentService
	tr.Worker.Phone = "13812345678"
	dir := t.TempDir()
	write := func(name string, v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("transfer.json", tr), write("agreement.json", a)
}

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPolicyCommands(t *testing.T) {
	rec, ag := policyFixtures(t)
	failing := writeDir(t, map[string]string{
		"d.rego":      "package laborlink.federation\n\ndecision := {\"allow\": true}\n",
		"d_test.rego": "package laborlink.federation_test\n\nimport data.laborlink.federation\n\ntest_never_allows if { not federation.decision.allow }\n",
	})
	broken := writeDir(t, map[string]string{"d.rego": "package laborlink.federation\n\ndecision := {\"allow\": nope}\n"})
	closed := writeDir(t, map[string]string{"p.rego": "package laborlink.province\n\ndeny contains \"Guangdong accepts no transfers today\" if input.side == \"import\"\n"})
	unread := writeDir(t, map[string]string{
		"p.rego":      "package laborlink.province.rules\n\ndeny contains \"no statistics\" if input.purpose == \"statistics\"\n",
		"p_test.rego": "package laborlink.province_test\n\ntest_compiles if true\n",
	})
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout []string
		inStderr string
	}{
		{"test the shipped bundle", []string{"policy", "test", "-v", "../../gateway/policy/bundle"}, 0,
			[]string{"PASS data.laborlink.federation_test.test_expired_denied", "0 failed"}, ""},
		{"test a failing directory", []string{"policy", "test", failing}, 1, []string{"FAIL data.laborlink.federation_test.test_never_allows"}, "1 of 1 tests failed"},
		{"test a directory that does not compile", []string{"policy", "test", broken}, 1, nil, "d.rego:3"},
		{"test warns of a rule never read", []string{"policy", "test", unread}, 0, []string{"0 failed"},
			"warning: p.rego:3: deny in package laborlink.province.rules is never read: decisions read laborlink.province.deny only"},
		{"eval allowed", []string{"policy", "eval", "--record", rec, "--agreement", ag, "--from", "51", "--to", "44", "--date", "2026-03-15"}, 0,
			[]string{"export: ALLOWED under AG-51-44-2026-001 v1", "import: ALLOWED", "the record as it crosses:", "138****5678"}, ""},
		{"eval statistics drops identifiers", []string{"policy", "eval", "--record", rec, "--agreement", ag, "--purpose", "statistics", "--date", "2026-03-15"}, 0,
			[]string{"worker.name", "drop (statistics_no_identifiers)"}, ""},
		{"eval wrong direction", []string{"policy", "eval", "--record", rec, "--agreement", ag, "--from", "44", "--to", "51", "--date", "2026-03-15"}, 1,
			[]string{"export: DENIED", "wrong_direction"}, "would not cross"},
		{"eval quota reached", []string{"policy", "eval", "--record", rec, "--agreement", ag, "--quota-used", "10000000", "--date", "2026-03-15"}, 1,
			[]string{"quota_reached"}, ""},
		{"eval destination policy denies", []string{"policy", "eval", "--record", rec, "--agreement", ag, "--destination-policy", closed, "--date", "2026-03-15"}, 1,
			[]string{"export: ALLOWED", "import: DENIED", "province_denied [province]: Guangdong accepts no transfers today"}, ""},
		{"eval as json", []string{"policy", "eval", "--json", "--record", rec, "--agreement", ag, "--date", "2026-03-15"}, 0,
			[]string{`"allow": true`, `"record":`}, ""},
		{"eval needs an agreement", []string{"policy", "eval", "--record", rec}, 2, nil, "--agreement FILE is required"},
		{"eval --node needs credentials", []string{"policy", "eval", "--record", rec, "--node", "https://localhost:8443"}, 2, nil, "missing --cert (or LABORLINK_CERT)"},
		{"push refuses failing tests", []string{"policy", "push", failing}, 1, []string{"FAIL"}, "refused"},
		{"push refuses what does not compile", []string{"policy", "push", broken}, 1, nil, "d.rego:3"},
		{"push needs a node", []string{"policy", "push", "../../gateway/policy/bundle"}, 2, []string{"tests pass"}, "missing --node (or LABORLINK_NODE)"},
		{"show", []string{"policy", "show", "--province", closed}, 0, []string{"federation bundle  sha256:", "1 files, " + closed}, ""},
		{"unknown subcommand", []string{"policy", "frob"}, 2, nil, "unknown policy subcommand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, want := range tt.inStdout {
				if !strings.Contains(out, want) {
					t.Errorf("stdout does not contain %q:\n%s", want, out)
				}
			}
			if !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.inStderr)
			}
		})
	}
}

// guideFile is a file the admin guide writes (a block marked
// "```yaml file=NAME"), exactly as a reader following the guide holds it.
func guideFile(t *testing.T, name string) string {
	t.Helper()
	guide, err := os.ReadFile("../../docs/admin-guide.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(guide), "```yaml file="+name+"\n")
	body, _, closed := strings.Cut(rest, "\n```")
	if !ok || !closed {
		t.Fatalf("docs/admin-guide.md has no block file=%s", name)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rewritten is a copy of file with old replaced by new.
func rewritten(t *testing.T, file, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(file))
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), old, new)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// showJSON writes the registry's record of the fixture agreement as
// `laborlink agreement show --json` prints it: version 1 approved, with
// version 2 (which covers no transfer) awaiting approval; suspendedBy
// suspends version 1.
func showJSON(t *testing.T, agreementFile string, suspendedBy ...string) (show, record string) {
	t.Helper()
	b, err := os.ReadFile(agreementFile)
	if err != nil {
		t.Fatal(err)
	}
	var v1 contracts.Agreement
	if err := json.Unmarshal(b, &v1); err != nil {
		t.Fatal(err)
	}
	v1.Status = contracts.AgreementApproved
	v2 := v1
	v2.Version, v2.Status = 2, contracts.AgreementProposed
	v2.Scope = slices.DeleteFunc(slices.Clone(v1.Scope), func(r contracts.ScopeRule) bool { return r.RecordType == contracts.RecordTransfer })
	rec := &registry.AgreementRecord{ID: v1.ID, Versions: []*registry.Version{
		{Agreement: v1, Digest: "d1", SuspendedBy: suspendedBy},
		{Agreement: v2, Digest: "d2"},
	}}
	var out bytes.Buffer
	if err := printJSON(&out, &registry.Read[*registry.AgreementRecord]{Data: rec}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	show, record = filepath.Join(dir, "show.json"), filepath.Join(dir, "record.json")
	if err := os.WriteFile(show, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(record, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return show, record
}

// TestPolicyEvalTakesTheAgreementAnAdminHolds: --agreement takes the file an
// admin proposes (the admin guide's pact.yaml, without a status: evaluated
// as approved, started or not by its dates) and the registry's record as
// `agreement show --json` prints it (its version in force, with its status
// on --date); anything else is refused naming the file and what it wants.
func TestPolicyEvalTakesTheAgreementAnAdminHolds(t *testing.T) {
	rec, ag := policyFixtures(t)
	pact, pactV2 := guideFile(t, "pact.yaml"), guideFile(t, "pact-v2.yaml")
	underPact := rewritten(t, rec, "AG-51-44-2026-001", "AG-51-44-2026-002")
	show, bare := showJSON(t, ag)
	suspended, _ := showJSON(t, ag, "44")
	list := writeDir(t, map[string]string{"list.json": `{"freshness": {"applied_index": 9}, "data": [{"id": "AG-51-44-2026-001"}]}`})
	prose := writeDir(t, map[string]string{"notes.txt": "the agreement is on the shared drive\n"})
	tests := []struct {
		name      string
		record    string
		agreement string
		date      string
		code      int
		inStdout  []string
		inStderr  []string
	}{
		{"the admin guide's pact.yaml", underPact, pact, "2026-03-15", 0,
			[]string{"export: ALLOWED under AG-51-44-2026-002", "import: ALLOWED", "worker.phone                       drop (outside_scope)"}, []string{"no status", "evaluated as approved"}},
		// The guide's test runs it on today's clock: its pact must stay
		// in force for as long as the guide is read.
		{"pact.yaml in 2029", underPact, pact, "2029-06-01", 0,
			[]string{"export: ALLOWED under AG-51-44-2026-002", "import: ALLOWED"}, nil},
		{"pact.yaml in 2031", underPact, pact, "2031-01-01", 0,
			[]string{"export: ALLOWED under AG-51-44-2026-002", "import: ALLOWED"}, nil},
		{"pact-v2.yaml in 2031", underPact, pactV2, "2031-01-01", 0,
			[]string{"export: ALLOWED under AG-51-44-2026-002", "import: ALLOWED"}, nil},
		{"pact.yaml before its first day", underPact, pact, "2025-12-31", 1,
			[]string{"agreement_not_started"}, []string{"would not cross"}},
		{"agreement show --json", rec, show, "2026-03-15", 0,
			[]string{"export: ALLOWED under AG-51-44-2026-001 v1", "import: ALLOWED"}, nil},
		{"agreement show --json, suspended", rec, suspended, "2026-03-15", 1,
			[]string{"agreement_suspended"}, []string{"would not cross"}},
		{"agreement show --json, expired on the day", rec, show, "2029-01-01", 1,
			[]string{"agreement_expired"}, nil},
		{"the record alone (jq .data)", rec, bare, "2026-03-15", 0,
			[]string{"export: ALLOWED under AG-51-44-2026-001 v1"}, nil},
		{"a file as today, with its status", rec, ag, "2026-03-15", 0,
			[]string{"export: ALLOWED under AG-51-44-2026-001 v1"}, nil},
		{"a record instead", rec, rec, "2026-03-15", 1,
			nil, []string{"--agreement " + rec, `"laborlink.transfer/v1"`, "agreement show ID --json"}},
		{"agreement list --json", rec, filepath.Join(list, "list.json"), "2026-03-15", 1,
			nil, []string{"--agreement " + filepath.Join(list, "list.json"), "not an agreement's registry record", "agreement show ID --json"}},
		{"prose", rec, filepath.Join(prose, "notes.txt"), "2026-03-15", 1,
			nil, []string{"--agreement " + filepath.Join(prose, "notes.txt") + " is not an object", "laborlink.agreement/v1"}},
		{"no such file", rec, filepath.Join(prose, "pact.yaml"), "2026-03-15", 1,
			nil, []string{"--agreement: ", filepath.Join(prose, "pact.yaml")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, "", "policy", "eval", "--record", tt.record, "--agreement", tt.agreement, "--date", tt.date)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, want := range tt.inStdout {
				if !strings.Contains(out, want) {
					t.Errorf("stdout does not contain %q:\n%s", want, out)
				}
			}
			for _, want := range tt.inStderr {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr does not contain %q:\n%s", want, errOut)
				}
			}
		})
	}
}

// TestPolicyEvalTakesAgreementShowJSON feeds the dry run what `agreement
// show --json` prints on a running federation.
func TestPolicyEvalTakesAgreementShowJSON(t *testing.T) {
	f := devfedtest.Seeded(t, 1)
	auditor := f.Certs["51"].Auditor
	rec, _ := policyFixtures(t)
	code, out, errOut := run(t, "", "agreement", "show", "AG-51-44-2026-001", "--json",
		"--node", f.URL("51"), "--cert", auditor.CertFile, "--key", auditor.KeyFile, "--ca", f.Root)
	if code != 0 {
		t.Fatalf("agreement show: exit %d\n%s", code, errOut)
	}
	show := filepath.Join(t.TempDir(), "show.json")
	if err := os.WriteFile(show, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "", "policy", "eval", "--record", rec, "--agreement", show, "--date", "2026-03-15")
	if code != 0 || !strings.Contains(out, "export: ALLOWED under AG-51-44-2026-001 v1") || !strings.Contains(out, "import: ALLOWED") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
