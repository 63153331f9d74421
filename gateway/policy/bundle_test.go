package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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

func TestPackRoundTrip(t *testing.T) {
	b := FederationBundle()
	content, err := b.Pack()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := b.Pack()
	if string(content) != string(again) {
		t.Fatal("Pack is not deterministic")
	}
	l, err := UnpackBundle(content, 3)
	if err != nil {
		t.Fatal(err)
	}
	if l.Version != 3 || l.Revision() != b.Revision() {
		t.Errorf("unpacked v%d %s, want v3 %s", l.Version, l.Revision(), b.Revision())
	}
	for name, content := range map[string]string{
		"not json":    "tar.gz bytes",
		"wrong form":  `{"format":"other","files":{}}`,
		"escape path": `{"format":"laborlink.policy-bundle/v1","files":{"../x.rego":""}}`,
	} {
		if _, err := UnpackBundle([]byte(content), 1); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestCheckBundle(t *testing.T) {
	ctx := context.Background()
	if rep, err := CheckBundle(ctx, FederationBundle()); err != nil || len(rep.Results) == 0 {
		t.Fatalf("the shipped bundle: %v", err)
	}
	broken := FederationBundle()
	broken.Files = map[string]string{"decision.rego": "package laborlink.federation\n\ndecision := {\"allow\": undefined_rule}\n"}
	if _, err := CheckBundle(ctx, broken); err == nil || !strings.Contains(err.Error(), "decision.rego:3") {
		t.Errorf("want the compiler's message with file and line, got %v", err)
	}
	failing := Layer{Files: map[string]string{
		"d.rego":      "package laborlink.federation\n\ndecision := {\"allow\": true}\n",
		"d_test.rego": "package laborlink.federation_test\n\nimport data.laborlink.federation\n\ntest_never_allows if { not federation.decision.allow }\n",
	}}
	if _, err := CheckBundle(ctx, failing); !errors.Is(err, ErrTestsFailed) {
		t.Errorf("want ErrTestsFailed, got %v", err)
	}
	outside := Layer{Files: map[string]string{"d.rego": "package laborlink.province\n\ndeny contains 1 if false\n"}}
	if _, err := CheckBundle(ctx, outside); err == nil || !strings.Contains(err.Error(), "outside laborlink.federation") {
		t.Errorf("want a package error, got %v", err)
	}
}

// TestReadDirRefusesAFile: a file where a policy directory belongs would
// read as a directory without Rego files, an empty layer, which as a
// province layer allows everything; it is refused, naming the path.
func TestReadDirRefusesAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "province.rego")
	if err := os.WriteFile(file, []byte("package laborlink.province\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if l, err := ReadDir(file); err == nil || !strings.Contains(err.Error(), file+" is a file") {
		t.Errorf("ReadDir(a file) = %d files, %v; want it refused as a file", len(l.Files), err)
	}
	if _, err := ReadDir(filepath.Dir(file)); err != nil {
		t.Errorf("ReadDir(its directory): %v", err)
	}
}
