package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
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
		{"eval --node needs credentials", []string{"policy", "eval", "--record", rec, "--node", "https://localhost:8443"}, 2, nil, "missing --ca, --cert, --key"},
		{"push refuses failing tests", []string{"policy", "push", failing}, 1, []string{"FAIL"}, "refused"},
		{"push refuses what does not compile", []string{"policy", "push", broken}, 1, nil, "d.rego:3"},
		{"push needs a node", []string{"policy", "push", "../../gateway/policy/bundle"}, 2, []string{"tests pass"}, "missing --ca, --cert, --key, --node"},
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
