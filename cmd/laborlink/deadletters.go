package main

import (
	"context"
	"fmt"
	"net/http"
	"text/tabwriter"

	"github.com/laborlink/laborlink/pki"
)

// deadlettersCommands are the subcommands of `laborlink deadletters`.
func deadlettersCommands() []command {
	return []command{
		{"list", "list the envelopes delivery gave up on, by peer, with the peer's refusal (operator, admin)", runDeadLettersList},
		{"requeue", "put a peer's dead letters back in its outbox once the peer is fixed (operator, admin)", runDeadLettersRequeue},
	}
}

func runDeadLetters(ctx context.Context, m *Main, args []string) error {
	return runGroup(ctx, m, "deadletters", deadlettersCommands(), args)
}

func runDeadLettersList(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("deadletters list", "[--peer 44] [connection flags]")
	c := m.connFlags(fs)
	peer := fs.String("peer", "", "only the dead letters for this peer province")
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if *peer != "" && !pki.ValidProvince(*peer) {
		return usageErrorf("--peer must be a province code such as 44, got %q", *peer)
	}
	cl, ctx, cancel, err := c.dialAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	ds, err := cl.DeadLetters(ctx, *peer)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	for _, d := range ds {
		refusal := "unsendable"
		if d.Status != 0 {
			refusal = fmt.Sprintf("%d %s", d.Status, http.StatusText(d.Status))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Peer, d.EnvelopeID, d.At.Format(timeLayout), refusal, d.Reason)
	}
	tw.Flush()
	fmt.Fprintf(m.Stdout, "%d dead letters\n", len(ds))
	return nil
}

func runDeadLettersRequeue(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("deadletters requeue", "--peer 44 (ENVELOPE_ID | --all) [connection flags]")
	c := m.connFlags(fs)
	peer := fs.String("peer", "", "the peer province whose dead letters to requeue (required)")
	all := fs.Bool("all", false, "requeue every dead letter for the peer")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case !pki.ValidProvince(*peer):
		return usageErrorf("--peer must be a province code such as 44, got %q", *peer)
	case len(pos) > 1:
		return usageErrorf("want at most one envelope id, got %d", len(pos))
	case len(pos) == 0 && !*all:
		return usageErrorf("name the envelope id to requeue, or --all for every dead letter for %s", *peer)
	case len(pos) == 1 && *all:
		return usageErrorf("an envelope id and --all exclude each other")
	}
	id := ""
	if len(pos) == 1 {
		id = pos[0]
	}
	cl, ctx, cancel, err := c.dialAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	n, err := cl.Requeue(ctx, *peer, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "requeued %d dead letters for %s; its delivery worker sends them now\n", n, *peer)
	return nil
}
