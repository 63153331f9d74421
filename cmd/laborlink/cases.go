package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/store"
)

// runCases lists the province's rights-case referrals as GET
// /api/v1/referrals gives them: the cases a provincial system follows, and
// those an operator settles (overdue, or diverged: an update sent from here
// that the other province refused or delivery gave up on).
func runCases(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("cases", "[--status S] [--overdue] [--json] [connection flags]")
	c := m.connFlags(fs)
	status := fs.String("status", "", "only cases of this status: referred, accepted, investigating, resolved, closed or rejected")
	overdue := fs.Bool("overdue", false, "only cases past their deadline and not finished")
	asJSON := fs.Bool("json", false, "print each case, with its updates, as a JSON line")
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if s := contracts.CaseStatus(*status); s != "" && !s.Known() {
		return usageErrorf("--status %q: want referred, accepted, investigating, resolved, closed or rejected", *status)
	}
	cl, ctx, cancel, err := c.dialAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	cases, err := cl.Referrals(ctx, *status, *overdue)
	if err != nil {
		return err
	}
	if *asJSON {
		for _, cs := range cases {
			b, err := json.Marshal(cs)
			if err != nil {
				return err
			}
			fmt.Fprintln(m.Stdout, string(b))
		}
		return nil
	}
	return printCases(m.Stdout, cases)
}

// printCases writes cases as `laborlink cases` lists them, one a line, the
// last update's time as the records commands print theirs.
func printCases(w io.Writer, cases []store.Case) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tDIRECTION\tKIND\tSTATUS\tDEADLINE\tUPDATED\tFLAGS")
	for _, cs := range cases {
		var flags []string
		if cs.Overdue {
			flags = append(flags, "overdue")
		}
		if cs.Diverged {
			flags = append(flags, "diverged")
		}
		if cs.Referral != "" && cs.Referral != store.StateDelivered {
			flags = append(flags, "referral "+string(cs.Referral))
		}
		deadline := cs.Deadline
		if deadline == "" {
			deadline = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cs.Key, cs.Direction, cs.Kind, cs.Status, deadline,
			cs.UpdatedAt.Format(timeLayout), strings.Join(flags, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	noun := "cases"
	if len(cases) == 1 {
		noun = "case"
	}
	_, err := fmt.Fprintf(w, "%d %s\n", len(cases), noun)
	return err
}
