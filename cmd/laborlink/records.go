package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/laborlink/laborlink/gateway/exchange"
	"github.com/laborlink/laborlink/gateway/store"
)

// timeLayout is how the record commands print times: to the second, with
// the zone, as an operator reads them beside the node's logs.
const timeLayout = "2006-01-02 15:04:05Z07:00"

// recordsCommands are the subcommands of `laborlink records`.
func recordsCommands() []command {
	return []command{
		{"submit", "submit records from a JSON or JSON-lines file (or -) as your province's system", runRecordsSubmit},
		{"show", "show a record's delivery state, receipt and confirmation, by envelope id or reference", runRecordsShow},
	}
}

func runRecords(ctx context.Context, m *Main, args []string) error {
	return runGroup(ctx, m, "records", recordsCommands(), args)
}

func runRecordsSubmit(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("records submit", "FILE|- [connection flags]")
	c := m.connFlags(fs)
	pos, err := positional(fs, args, 1, "a file of records (JSON, JSON array or JSON lines), or - for standard input")
	if err != nil {
		return err
	}
	data, err := readInput(m, pos[0])
	if err != nil {
		return err
	}
	docs, err := splitRecords(data)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	cl, ctx, cancel, err := c.dialAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	res, err := cl.Submit(ctx, docs...)
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range res {
		line := fmt.Sprintf("record %d: %s", r.Index+1, r.Outcome)
		if r.EnvelopeID != "" {
			line += " " + r.EnvelopeID
		}
		for _, p := range r.Problems {
			line += fmt.Sprintf("\n  %s: %s", p.Path, p.Message)
		}
		for _, rs := range r.Reasons {
			line += fmt.Sprintf("\n  %s: %s", rs.Code, rs.Message)
		}
		if r.Error != "" {
			line += "\n  " + r.Error
		}
		if r.Outcome != "accepted" && r.Outcome != "duplicate" {
			failed++
		}
		fmt.Fprintln(m.Stdout, line)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d records were not accepted", failed, len(res))
	}
	return nil
}

// splitRecords accepts one JSON record, a JSON array of records, or JSON lines.
func splitRecords(data []byte) ([]json.RawMessage, error) {
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "[") {
		var docs []json.RawMessage
		if err := json.Unmarshal([]byte(trimmed), &docs); err != nil {
			return nil, err
		}
		if len(docs) == 0 {
			return nil, fmt.Errorf("no records: the array is empty")
		}
		return docs, nil
	}
	var docs []json.RawMessage
	dec := json.NewDecoder(strings.NewReader(trimmed))
	for dec.More() {
		var d json.RawMessage
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("record %d: %w", len(docs)+1, err)
		}
		docs = append(docs, d)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("no records")
	}
	return docs, nil
}

func runRecordsShow(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("records show", "ENVELOPE_ID|REFERENCE [connection flags]")
	c := m.connFlags(fs)
	pos, err := positional(fs, args, 1, "an envelope id or a reference such as 51/transfer/T-0001")
	if err != nil {
		return err
	}
	cl, ctx, cancel, err := c.dialAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	v, err := cl.Record(ctx, pos[0])
	if err != nil {
		return err
	}
	printRecord(m.Stdout, v)
	return nil
}

// printRecord writes a record's state as `laborlink records show` shows it,
// its times as the inbox and dead letters show theirs.
func printRecord(w io.Writer, v exchange.RecordView) {
	fmt.Fprintf(w, "%s  %s  %s to %s: %s\n", v.EnvelopeID, v.Ref, v.Type, v.Peer, v.State)
	if len(v.Reasons) > 0 {
		fmt.Fprintf(w, "reasons: %s\n", strings.Join(v.Reasons, ", "))
	}
	switch {
	case !v.DiscardedAt.IsZero():
		fmt.Fprintf(w, "failed %s, discarded %s: it will never be sent\n", v.FailedAt.Format(timeLayout), v.DiscardedAt.Format(timeLayout))
	case !v.FailedAt.IsZero():
		fmt.Fprintf(w, "failed %s: a dead letter until requeued or discarded (laborlink deadletters list)\n", v.FailedAt.Format(timeLayout))
	}
	if !v.DeliveredAt.IsZero() {
		fmt.Fprintf(w, "delivered %s with the destination's signed receipt\n", v.DeliveredAt.Format(timeLayout))
	}
	if c := v.Confirmed; c != nil {
		fmt.Fprintf(w, "employment confirmed by the destination: employed=%v since %s, %d months (envelope %s)\n",
			c.Employed, c.Since, c.MonthsEmployed, c.EnvelopeID)
		if c.WorkerMatch != "" {
			fmt.Fprintf(w, "worker ID number against the transfer's: %s\n", c.WorkerMatch)
		}
		if c.SinceBeforeContractStart {
			fmt.Fprintln(w, "since is before the transfer's contract start: check it before paying for months employed")
		}
	}
	for _, a := range v.Answers {
		switch {
		case a.Refused != "":
			fmt.Fprintf(w, "refused answer: %s %s: %s\n", a.Type, a.EnvelopeID, a.Refused)
		case a.Type != "confirmation":
			fmt.Fprintf(w, "answer: %s %s %s\n", a.Type, a.EnvelopeID, a.Summary)
		}
	}
}

func runInbox(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("inbox", "[--after N] [--limit N] [--json] [connection flags]")
	c := m.connFlags(fs)
	after := fs.Uint64("after", 0, "show what arrived after this cursor")
	limit := fs.Int("limit", 100, "at most this many items")
	asJSON := fs.Bool("json", false, "print each item, with its record, as a JSON line")
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if *limit < 1 || *limit > 1000 {
		return usageErrorf("--limit %d: want 1 to 1000", *limit)
	}
	cl, ctx, cancel, err := c.dialAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	page, err := cl.Inbox(ctx, *after, *limit)
	if err != nil {
		return err
	}
	for _, it := range page.Items {
		if *asJSON {
			b, _ := json.Marshal(it)
			fmt.Fprintln(m.Stdout, string(b))
			continue
		}
		fmt.Fprintln(m.Stdout, inboxLine(it))
	}
	if !*asJSON {
		fmt.Fprintf(m.Stdout, "%d items; next cursor %d\n", len(page.Items), page.Next)
	}
	return nil
}

// inboxLine is an inbox item as `laborlink inbox` lists it: a
// confirmation's worker match is shown, so that one refused as another
// worker's (mismatch) is told apart without --json.
func inboxLine(it store.Incoming) string {
	line := fmt.Sprintf("%6d  %s  %-15s from %s  %s", it.Seq, it.EnvelopeID, it.Type, it.From, it.ReceivedAt.Format(timeLayout))
	if it.WorkerMatch != "" {
		line += "  worker " + it.WorkerMatch
	}
	return line
}

func runStatus(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("status", "[connection flags]")
	c := m.connFlags(fs)
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	cl, ctx, cancel, err := c.dialAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	st, err := cl.Status(ctx)
	if err != nil {
		return err
	}
	var v any
	json.Unmarshal(st, &v)
	return printJSON(m.Stdout, v)
}
