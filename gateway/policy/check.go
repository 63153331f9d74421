package policy

import (
	"context"
	"errors"
)

// ErrTestsFailed reports that a layer compiled but some of its tests failed.
var ErrTestsFailed = errors.New("policy tests failed")

// CheckBundle is what must hold before a bundle version enters the registry:
// it compiles as the federation layer, so every node can prepare its decision
// query, and its own tests pass. The error is the compiler's message (file,
// line, problem) or wraps ErrTestsFailed naming the first failure.
func CheckBundle(ctx context.Context, bundle Layer) (TestReport, error) {
	if _, err := compile(ctx, bundle, Layer{}, -1); err != nil {
		return TestReport{}, err
	}
	return testsPass(RunTests(ctx, bundle))
}

// CheckProvince is CheckBundle for a province policy directory, compiled
// with the federation bundle it will run beside; its tests may refer to the
// bundle's rules.
func CheckProvince(ctx context.Context, province, bundle Layer) (TestReport, error) {
	if _, err := compile(ctx, bundle, province, -1); err != nil {
		return TestReport{}, err
	}
	return testsPass(RunTests(ctx, province, bundle))
}

func testsPass(rep TestReport, err error) (TestReport, error) {
	if err != nil {
		return rep, err
	}
	if err := rep.Err(); err != nil {
		return rep, errors.Join(ErrTestsFailed, err)
	}
	return rep, nil
}
