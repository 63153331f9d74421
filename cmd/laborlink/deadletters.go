package main

import (
	"context"
	"fmt"
	"net/http"
	"text/tabwriter"

	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/pki"
)

// deadlettersCommands are the subcommands of `laborlink deadletters`.
func deadlettersCommands() []command {
	return []command{
		{"list", "list the envelopes delivery gave up on, by peer, with the peer's refusal (operator, admin)", runDeadLettersList},
		{"requeue", "put a peer's dead letters back in its outbox once the peer is fixed (operator, admin)", runDeadLettersRequeue},
		{"discard", "delete a peer's dead letters it will never accept, with their personal data; they are not sent (operator, admin)", runDeadLettersDiscard},
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
	return runDeadLetterAct(ctx, m, args, "requeue", (*api.Client).Requeue,
		"requeued %d dead letters for %s; its delivery worker sends them now\n")
}

func runDeadLettersDiscard(ctx context.Context, m *Main, args []string) error {
	return runDeadLetterAct(ctx, m, args, "discard", (*api.Client).Discard,
		"discarded %d dead letters for %s; they will not be sent\n")
}

// runDeadLetterAct runs `laborlink deadletters requeue` or `discard`
// (act): it reads --peer 44 (ENVELOPE_ID | --all), has the node do it
// with the peer and the envelope id ("" for all of the peer's dead
// letters), and prints done with how many it took and the peer.
func runDeadLetterAct(ctx context.Context, m *Main, args []string, act string,
	do func(cl *api.Client, ctx context.Context, peer, envelopeID string) (int, error), done string) error {
	fs := m.flagSet("deadletters "+act, "--peer 44 (ENVELOPE_ID | --all) [connection flags]")
	c := m.connFlags(fs)
	peer := fs.String("peer", "", "the peer province whose dead letters to "+act+" (required)")
	all := fs.Bool("all", false, act+" every dead letter for the peer")
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
		return usageErrorf("name the envelope id to %s, or --all for every dead letter for %s", act, *peer)
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
	n, err := do(cl, ctx, *peer, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, done, n, *peer)
	return nil
}
