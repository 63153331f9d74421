package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/store"
)

// TestPrintCasesFlagsWhatNeedsAnOperator: `laborlink cases` shows a case
// past its deadline, one whose update the other province refused
// (diverged), and one whose referral never reached it, each on its line;
// a case with none of these has no flags.
func TestPrintCasesFlagsWhatNeedsAnOperator(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 15, 3, 0, time.UTC)
	cases := []store.Case{
		{Key: "44-51/RF-1", Direction: "sent", Kind: "wage-arrears", Status: "accepted", Deadline: "2026-02-01", UpdatedAt: at, Overdue: true, Referral: store.StateDelivered},
		{Key: "44-51/RF-2", Direction: "received", Kind: "wage-arrears", Status: "resolved", UpdatedAt: at, Diverged: true},
		{Key: "44-51/RF-3", Direction: "sent", Kind: "injury", Status: "referred", Deadline: "2026-04-01", UpdatedAt: at, Referral: store.StateFailed},
		{Key: "44-51/RF-4", Direction: "received", Kind: "injury", Status: "closed", Deadline: "2026-04-01", UpdatedAt: at},
	}
	var out bytes.Buffer
	if err := printCases(&out, cases); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 6 || lines[5] != "4 cases" {
		t.Fatalf("output:\n%s\nwant a header, 4 cases and a count", out.String())
	}
	for i, want := range []string{"overdue", "diverged", "referral failed", ""} {
		row := lines[i+1]
		if want == "" {
			if strings.Contains(row, "overdue") || strings.Contains(row, "diverged") || strings.Contains(row, "referral") {
				t.Errorf("row %q has flags; want none", row)
			}
			continue
		}
		if !strings.Contains(row, want) {
			t.Errorf("row %q lacks %q", row, want)
		}
	}
	if !strings.Contains(lines[2], " - ") {
		t.Errorf("a case without a deadline: %q; want - for it", lines[2])
	}
}
