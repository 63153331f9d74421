package main

import (
	"context"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/devfed"
)

// TestDeadLettersDiscardFlags: discard takes requeue's flags, and refuses
// what requeue refuses, naming the flag or argument at fault and its own
// act, before it dials anything.
func TestDeadLettersDiscardFlags(t *testing.T) {
	dir := t.TempDir()
	conn := connFlags(dir, "https://127.0.0.1:1")
	with := func(args ...string) []string { return append(append([]string{"deadletters"}, args...), conn...) }
	checkRefusals(t, dir, []badInputCase{
		{"no id nor --all", with("discard", "--peer", "44"), 2, "name the envelope id to discard, or --all for every dead letter for 44"},
		{"requeue names its act", with("requeue", "--peer", "44"), 2, "name the envelope id to requeue, or --all"},
		{"bad --peer", with("discard", "--peer", "4", "--all"), 2, `--peer must be a province code such as 44, got "4"`},
		{"no --peer", with("discard", "--all"), 2, `--peer must be a province code such as 44, got ""`},
		{"id and --all", with("discard", "--peer", "44", "--all", "01J"), 2, "an envelope id and --all exclude each other"},
		{"two ids", with("discard", "--peer", "44", "01A", "01B"), 2, "want at most one envelope id, got 2"},
		{"no connection flags", []string{"deadletters", "discard", "--peer", "44", "--all"}, 2, "missing --ca, --cert, --key, --node"},
	})
	if _, _, errOut := run(t, "", "deadletters", "-h"); !strings.Contains(errOut, "  discard ") || !strings.Contains(errOut, "they are not sent") {
		t.Errorf("deadletters -h does not list discard:\n%s", errOut)
	}
	if _, _, errOut := run(t, "", "deadletters", "discard", "-h"); !strings.Contains(errOut, "the peer province whose dead letters to discard") || !strings.Contains(errOut, "discard every dead letter for the peer") {
		t.Errorf("deadletters discard -h:\n%s", errOut)
	}
}

// TestDeadLettersDiscardOnANode: against a running node, an operator's
// discard of all of a peer's dead letters says how many went (none here)
// and that they will not be sent, and the discard of an unknown envelope
// fails with the node's not found.
func TestDeadLettersDiscardOnANode(t *testing.T) {
	f, err := devfed.Start(context.Background(), devfed.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	op := f.Certs["51"].Operator
	conn := []string{"--node", f.URL("51"), "--cert", op.CertFile, "--key", op.KeyFile, "--ca", f.Root}
	code, out, errOut := run(t, "", append([]string{"deadletters", "discard", "--peer", "44", "--all"}, conn...)...)
	if code != 0 || out != "discarded 0 dead letters for 44; they will not be sent\n" {
		t.Errorf("discard --all: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = run(t, "", append([]string{"deadletters", "discard", "--peer", "44", "01NOSUCH"}, conn...)...)
	if code != 1 || !strings.Contains(errOut, "no dead letter 01NOSUCH for 44") {
		t.Errorf("discard of an unknown envelope: exit %d, stderr %q; want 1 and the node's not found", code, errOut)
	}
}
