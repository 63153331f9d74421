package policy

import (
	"context"
	"strings"
	"testing"
)

// TestShippedBundleRegoTests runs the bundle's own *_test.rego files through
// OPA's tester: a failing Rego test fails the Go suite.
func TestShippedBundleRegoTests(t *testing.T) {
	rep, err := RunTests(context.Background(), FederationBundle())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) < 15 {
		t.Errorf("only %d rego tests ran", len(rep.Results))
	}
	for _, r := range rep.Results {
		if !r.Pass {
			t.Errorf("%s (%s) failed: %v", r.Name, r.Location, r.Error)
		}
	}
}

func TestRunTestsReportsCompileErrors(t *testing.T) {
	l := Layer{Files: map[string]string{"bad.rego": "package laborlink.province\n\ndeny contains x if { x := input.y\n"}}
	_, err := RunTests(context.Background(), l)
	if err == nil || !strings.Contains(err.Error(), "bad.rego") {
		t.Fatalf("want an error naming bad.rego, got %v", err)
	}
}

func TestRunTestsReportsFailures(t *testing.T) {
	l := Layer{Files: map[string]string{
		"p.rego":      "package laborlink.province\n\ndeny contains \"no\" if input.x == 1\n",
		"p_test.rego": "package laborlink.province_test\n\nimport data.laborlink.province\n\ntest_denies if { \"no\" in province.deny with input as {\"x\": 2} }\ntest_ok if { count(province.deny) == 0 with input as {\"x\": 2} }\n",
	}}
	rep, err := RunTests(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || rep.Failed() != 1 || rep.Err() == nil {
		t.Fatalf("want 2 results with 1 failure, got %+v", rep.Results)
	}
}
