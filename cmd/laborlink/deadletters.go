package main

import (
	"context"
	"flag"
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
	list, err := cl.DeadLetters(ctx, *peer)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	for _, d := range list.DeadLetters {
		refusal := "unsendable"
		if d.Status != 0 {
			refusal = fmt.Sprintf("%d %s", d.Status, http.StatusText(d.Status))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Peer, d.EnvelopeID, d.At.Format(timeLayout), refusal, d.Reason)
	}
	tw.Flush()
	fmt.Fprintf(m.Stdout, "%d dead letters", len(list.DeadLetters))
	if len(list.DeadLetters) > 0 {
		// What an operator who read the list acts on with --all.
		fmt.Fprintf(m.Stdout, ", buried through %d: --all --through %d takes these and none buried since", list.Through, list.Through)
	}
	fmt.Fprintln(m.Stdout)
	return nil
}

func runDeadLettersRequeue(ctx context.Context, m *Main, args []string) error {
	return runDeadLetterAct(ctx, m, args, "requeue", false, func(ctx context.Context, cl *api.Client, r api.RequeueRequest) (string, error) {
		n, err := cl.Requeue(ctx, r)
		return fmt.Sprintf("requeued %d dead letters for %s; its delivery worker sends them now\n", n, r.Peer), err
	})
}

func runDeadLettersDiscard(ctx context.Context, m *Main, args []string) error {
	return runDeadLetterAct(ctx, m, args, "discard", true, func(ctx context.Context, cl *api.Client, r api.RequeueRequest) (string, error) {
		got, err := cl.Discard(ctx, api.DiscardRequest(r))
		if err != nil {
			return "", err
		}
		done := fmt.Sprintf("discarded %d dead letters for %s; they will not be sent\n", got.Discarded, r.Peer)
		if r.All && got.Left > 0 {
			done += fmt.Sprintf("kept %d buried after %d, which your list did not show: see them with laborlink deadletters list --peer %s\n", got.Left, *r.Through, r.Peer)
		}
		return done, nil
	})
}

// runDeadLetterAct runs `laborlink deadletters requeue` or `discard`
// (act): it reads --peer 44 (ENVELOPE_ID | --all [--through N]), which
// --all of a discard must bound (bounded), has the node do it, and prints
// what do says was done.
func runDeadLetterAct(ctx context.Context, m *Main, args []string, act string, bounded bool,
	do func(ctx context.Context, cl *api.Client, r api.RequeueRequest) (done string, err error)) error {
	usage := "--peer 44 (ENVELOPE_ID | --all [--through N]) [connection flags]"
	if bounded {
		usage = "--peer 44 (ENVELOPE_ID | --all --through N) [connection flags]"
	}
	fs := m.flagSet("deadletters "+act, usage)
	c := m.connFlags(fs)
	peer := fs.String("peer", "", "the peer province whose dead letters to "+act+" (required)")
	all := fs.Bool("all", false, act+" every dead letter for the peer")
	throughHelp := "with --all, only the dead letters buried through this position, which 'laborlink deadletters list --peer' of the same peer ends with"
	if bounded {
		throughHelp += " (required with --all: those buried after you listed are kept)"
	}
	through := fs.Uint64("through", 0, throughHelp)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	r := api.RequeueRequest{Peer: *peer, All: *all}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "through" {
			r.Through = through
		}
	})
	switch {
	case !pki.ValidProvince(*peer):
		return usageErrorf("--peer must be a province code such as 44, got %q", *peer)
	case len(pos) > 1:
		return usageErrorf("want at most one envelope id, got %d", len(pos))
	case len(pos) == 0 && !*all:
		return usageErrorf("name the envelope id to %s, or --all for every dead letter for %s", act, *peer)
	case len(pos) == 1 && *all:
		return usageErrorf("an envelope id and --all exclude each other")
	case r.Through != nil && !*all:
		return usageErrorf("--through bounds --all: leave it out with an envelope id")
	case bounded && *all && r.Through == nil:
		return usageErrorf("--all needs --through, the position `laborlink deadletters list --peer %s` ends with, so that dead letters buried after you listed are kept", *peer)
	}
	if len(pos) == 1 {
		r.EnvelopeID = pos[0]
	}
	cl, ctx, cancel, err := c.dialAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	done, err := do(ctx, cl, r)
	if err != nil {
		return err
	}
	fmt.Fprint(m.Stdout, done)
	return nil
}
