package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/federation/registry"
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

// TestSynthAgreementIsInForceToday: an agreement synth writes by default
// was dated around synth.DefaultToday, valid to the end of 2028, so one
// generated and proposed after that had expired. By default it is dated
// around the clock's day, in force on it, today and after 2028 alike;
// --today still dates it, and records keep synth.DefaultToday.
func TestSynthAgreementIsInForceToday(t *testing.T) {
	for _, now := range []time.Time{time.Now(), time.Date(2029, time.June, 15, 9, 0, 0, 0, time.UTC)} {
		day := registry.DayOf(now)
		var a contracts.Agreement
		synthAt(t, now, &a, "--type", "agreement", "--count", "1")
		if !a.InForce(day) {
			t.Errorf("with the clock on %s, synth wrote an agreement valid %s to %s; want it in force that day", day, a.ValidFrom, a.ValidUntil)
		}
	}
	later := time.Date(2029, time.June, 15, 9, 0, 0, 0, time.UTC)
	var a contracts.Agreement
	synthAt(t, later, &a, "--type", "agreement", "--count", "1", "--today", "2026-03-01")
	if a.ValidFrom.Year != 2026 {
		t.Errorf("with --today 2026-03-01 the agreement is valid from %s; want 2026", a.ValidFrom)
	}
	var c contracts.Confirmation
	synthAt(t, later, &c, "--type", "confirmation", "--count", "1")
	if synth.DefaultToday.Before(c.ConfirmedOn) {
		t.Errorf("a confirmation by default is dated %s, after %s; want records dated up to it, whatever the clock", c.ConfirmedOn, synth.DefaultToday)
	}
}

// synthAt runs synth with the clock at now and decodes the one line it writes into v.
func synthAt(t *testing.T, now time.Time, v any, args ...string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Now: func() time.Time { return now }}
	if code := m.Run(context.Background(), append([]string{"synth"}, args...)); code != 0 {
		t.Fatalf("synth %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		t.Fatalf("synth %s wrote %q: %v", strings.Join(args, " "), out.String(), err)
	}
}
