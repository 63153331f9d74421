package node

import (
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

func TestRuntimeApply(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	noEnv := func(string) string { return "" }

	got := RuntimeConfig{GCPercent: 400, MemoryLimitMiB: 160}.Apply(3, noEnv)
	if gc := debug.SetGCPercent(100); gc != 400 {
		t.Errorf("gc percent %d, want 400", gc)
	}
	if limit := debug.SetMemoryLimit(-1); limit != 3*160<<20 {
		t.Errorf("memory limit %d, want %d (three nodes of 160 MiB)", limit, 3*160<<20)
	}
	if want := "gc_percent 400, memory limit 480 MiB"; got != want {
		t.Errorf("Apply says %q, want %q", got, want)
	}

	// The operator's environment wins.
	debug.SetMemoryLimit(math.MaxInt64)
	env := map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}
	got = RuntimeConfig{GCPercent: 400, MemoryLimitMiB: 160}.Apply(1, func(k string) string { return env[k] })
	if gc := debug.SetGCPercent(100); gc != 100 {
		t.Errorf("gc percent %d with GOGC set, want it left at 100", gc)
	}
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		t.Errorf("memory limit %d with GOMEMLIMIT set, want it left alone", limit)
	}
	if want := "GOGC from the environment, GOMEMLIMIT from the environment"; got != want {
		t.Errorf("Apply says %q, want %q", got, want)
	}
}

func TestRuntimeConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		rc   RuntimeConfig
		want string
	}{
		{RuntimeConfig{GCPercent: 0, MemoryLimitMiB: 160}, "runtime.gc_percent"},
		{RuntimeConfig{GCPercent: -2, MemoryLimitMiB: 160}, "runtime.gc_percent"},
		{RuntimeConfig{GCPercent: 100, MemoryLimitMiB: -1}, "runtime.memory_limit_mib"},
		{RuntimeConfig{GCPercent: -1, MemoryLimitMiB: 0}, "runtime.memory_limit_mib"},
	} {
		cfg := DefaultConfig()
		cfg.Runtime = tc.rc
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error naming %s", tc.rc, err, tc.want)
		}
	}
}
