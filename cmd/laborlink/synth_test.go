package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSynthThenValidate(t *testing.T) {
	for _, typ := range []string{"transfer", "confirmation", "agreement", "referral", "referral-update"} {
		t.Run(typ, func(t *testing.T) {
			code, out, errOut := run(t, "", "synth", "-type", typ, "-count", "25", "-origin", "41", "-dest", "33", "-seed", "9")
			if code != 0 {
				t.Fatalf("synth exit %d: %s", code, errOut)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 25 {
				t.Fatalf("%d lines, want 25", len(lines))
			}
			var head struct{ Schema string }
			if err := json.Unmarshal([]byte(lines[0]), &head); err != nil || !strings.Contains(head.Schema, typ+"/") {
				t.Fatalf("first line %s: schema %q, err %v", lines[0], head.Schema, err)
			}
			code, vout, verr := run(t, out, "validate", "-now", "2026-03-02", "-")
			if code != 0 {
				t.Fatalf("validate exit %d:\n%s%s", code, vout, verr)
			}
		})
	}
}

func TestSynthIsDeterministic(t *testing.T) {
	_, a, _ := run(t, "", "synth", "-count", "5", "-seed", "3")
	_, b, _ := run(t, "", "synth", "-count", "5", "-seed", "3")
	_, c, _ := run(t, "", "synth", "-count", "5", "-seed", "4")
	if a != b || a == c {
		t.Error("same seed must give the same records, another seed others")
	}
}

func TestSynthRejectsBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-origin", "99"}, `-origin "99" is not a province`},
		{[]string{"-dest", "4"}, `-dest "4" is not a province`},
		{[]string{"-origin", "44", "-dest", "44"}, "both 44"},
		{[]string{"-count", "0"}, "-count 0"},
		{[]string{"-count", "-3"}, "-count -3"},
		{[]string{"-type", "memo"}, `-type "memo" is not a record type`},
		{[]string{"-today", "2026-02-30"}, "-today"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := run(t, "", append([]string{"synth"}, tt.args...)...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tt.want)
			}
		})
	}
}
