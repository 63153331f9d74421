package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego test (a rule named test_*).
type TestResult struct {
	// Name is the test's package and rule, such as
	// "data.laborlink.federation_test.test_expired_denied".
	Name string
	// Location is file:line of the test rule.
	Location string
	Pass     bool
	Skipped  bool
	// Error is the evaluation error, if the test did not merely fail.
	Error    error
	Duration time.Duration
}

// TestReport is the result of running a layer's tests.
type TestReport struct {
	Results []TestResult
}

// Failed counts the tests that failed or errored.
func (r TestReport) Failed() int {
	n := 0
	for _, t := range r.Results {
		if !t.Pass && !t.Skipped {
			n++
		}
	}
	return n
}

// Err is nil when every test passed, and otherwise says how many failed and
// names the first.
func (r TestReport) Err() error {
	for _, t := range r.Results {
		if !t.Pass && !t.Skipped {
			return fmt.Errorf("%d of %d policy tests failed, the first %s at %s", r.Failed(), len(r.Results), t.Name, t.Location)
		}
	}
	return nil
}

// RunTests compiles every file of the layers, tests included, and runs the
// tests through OPA's tester, as `opa test` would. Extra layers are compiled
// alongside, so a province policy's tests can refer to the federation bundle.
// A compile error is returned as the compiler reported it (file:line: message)
// and no test runs.
func RunTests(ctx context.Context, l Layer, extra ...Layer) (TestReport, error) {
	mods, err := l.parse("", true)
	if err != nil {
		return TestReport{}, err
	}
	for _, x := range extra {
		xm, err := x.parse("", false)
		if err != nil {
			return TestReport{}, err
		}
		for name, m := range xm {
			mods["extra/"+name] = m
		}
	}
	store := inmem.New()
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return TestReport{}, err
	}
	defer store.Abort(ctx, txn)
	ch, err := tester.NewRunner().
		SetStore(store).
		SetModules(mods).
		SetTimeout(10*time.Second).
		RaiseBuiltinErrors(true).
		RunTests(ctx, txn)
	if err != nil {
		return TestReport{}, fmt.Errorf("compile policy: %w", err)
	}
	var rep TestReport
	for r := range ch {
		tr := TestResult{
			Name:     r.Package + "." + r.Name,
			Pass:     r.Pass(),
			Skipped:  r.Skip,
			Error:    r.Error,
			Duration: r.Duration,
		}
		if r.Location != nil {
			tr.Location = fmt.Sprintf("%s:%d", r.Location.File, r.Location.Row)
		}
		rep.Results = append(rep.Results, tr)
	}
	slices.SortFunc(rep.Results, func(a, b TestResult) int {
		if c := strings.Compare(a.Location, b.Location); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("policy tests interrupted: %w", err)
	}
	return rep, nil
}
