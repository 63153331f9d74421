package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/laborlink/laborlink/gateway/devfed"
)

// TestDeadLettersDiscardFlags: discard takes requeue's flags, and refuses
// what requeue refuses, naming the flag or argument at fault and its own
// act, before it dials anything; its --all, unlike requeue's, needs
// --through, and --through goes with --all alone.
func TestDeadLettersDiscardFlags(t *testing.T) {
	dir := t.TempDir()
	conn := connFlags(dir, "https://127.0.0.1:1")
	with := func(args ...string) []string { return append(append([]string{"deadletters"}, args...), conn...) }
	checkRefusals(t, dir, []badInputCase{
		{"no id nor --all", with("discard", "--peer", "44"), 2, "name the envelope id to discard, or --all for every dead letter for 44"},
		{"requeue names its act", with("requeue", "--peer", "44"), 2, "name the envelope id to requeue, or --all"},
		{"bad --peer", with("discard", "--peer", "4", "--all"), 2, `--peer must be a province code such as 44, got "4"`},
		{"no --peer", with("discard", "--all"), 2, `--peer must be a province code such as 44, got ""`},
		{"id and --all", with("discard", "--peer", "44", "--all", "--through", "3", "01J"), 2, "an envelope id and --all exclude each other"},
		{"two ids", with("discard", "--peer", "44", "01A", "01B"), 2, "want at most one envelope id, got 2"},
		{"--all without --through", with("discard", "--peer", "44", "--all"), 2, "--all needs --through, the position `laborlink deadletters list --peer 44` ends with, so that dead letters buried after you listed are kept"},
		{"--through with an id", with("discard", "--peer", "44", "--through", "3", "01J"), 2, "--through bounds --all: leave it out with an envelope id"},
		{"--through not a position", with("discard", "--peer", "44", "--all", "--through", "-1"), 2, `invalid value "-1" for flag -through`},
		{"requeue --through with an id", with("requeue", "--peer", "44", "--through", "3", "01J"), 2, "--through bounds --all"},
		{"no connection flags", []string{"deadletters", "discard", "--peer", "44", "--all", "--through", "0"}, 2, "missing --node (or LABORLINK_NODE)"},
		{"requeue --all needs no --through", []string{"deadletters", "requeue", "--peer", "44", "--all"}, 2, "missing --node (or LABORLINK_NODE)"},
	})
	if _, _, errOut := run(t, "", "deadletters", "-h"); !strings.Contains(errOut, "  discard ") || !strings.Contains(errOut, "they are not sent") {
		t.Errorf("deadletters -h does not list discard:\n%s", errOut)
	}
	if _, _, errOut := run(t, "", "deadletters", "discard", "-h"); !strings.Contains(errOut, "the peer province whose dead letters to discard") || !strings.Contains(errOut, "discard every dead letter for the peer") {
		t.Errorf("deadletters discard -h:\n%s", errOut)
	}
}

// TestDeadLettersDiscardOnANode: against a running node, an operator's
// list says how many dead letters there are (none here), the discard of
// all of a peer's through a list's position says how many went and that
// they will not be sent, and the discard of an unknown envelope fails
// with the node's not found.
func TestDeadLettersDiscardOnANode(t *testing.T) {
	f, err := devfed.Start(context.Background(), devfed.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	op := f.Certs["51"].Operator
	conn := []string{"--node", f.URL("51"), "--cert", op.CertFile, "--key", op.KeyFile, "--ca", f.Root}
	code, out, errOut := run(t, "", append([]string{"deadletters", "list", "--peer", "44"}, conn...)...)
	if code != 0 || out != "0 dead letters\n" {
		t.Errorf("list: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = run(t, "", append([]string{"deadletters", "discard", "--peer", "44", "--all", "--through", "0"}, conn...)...)
	if code != 0 || out != "discarded 0 dead letters for 44; they will not be sent\n" {
		t.Errorf("discard --all: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = run(t, "", append([]string{"deadletters", "discard", "--peer", "44", "01NOSUCH"}, conn...)...)
	if code != 1 || !strings.Contains(errOut, "no dead letter 01NOSUCH for 44") {
		t.Errorf("discard of an unknown envelope: exit %d, stderr %q; want 1 and the node's not found", code, errOut)
	}
}

// TestDeadLettersDiscardAllSendsItsBound: `deadletters list` ends with the
// burial position its list goes through, `discard --all --through N` asks
// the node for those buried through N alone, and says how many the node
// kept because they were buried after, pointing to the list; a discard
// that left none says nothing of them.
func TestDeadLettersDiscardAllSendsItsBound(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fed")
	if code, _, errOut := run(t, "", "dev", "--init-only", "--dir", dir, "--node", "51=a", "--node", "44=b", "--node", "33=c"); code != 0 {
		t.Fatalf("dev --init-only: exit %d: %s", code, errOut)
	}
	var mu sync.Mutex
	var bodies []string
	left := 1
	node := fakeNode(t, dir, "51", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			io.WriteString(w, `{"dead_letters":[{"envelope_id":"01JA","peer":"44","status":422,"reason":"refused","at":"2026-03-02T10:15:03Z","burial":7},`+
				`{"envelope_id":"01JB","peer":"44","status":422,"reason":"refused","at":"2026-03-02T10:15:04Z","burial":9}],"through":9}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, r.URL.Path+" "+string(b))
		fmt.Fprintf(w, `{"discarded":2,"left":%d}`, left)
	})
	pk := filepath.Join(dir, "pki", "p51")
	conn := []string{"--node", node, "--cert", filepath.Join(pk, "operator-ops.pem"), "--key", filepath.Join(pk, "operator-ops-key.pem"),
		"--ca", filepath.Join(dir, "pki", "root", "root.pem")}

	code, out, errOut := run(t, "", append([]string{"deadletters", "list", "--peer", "44"}, conn...)...)
	if code != 0 || !strings.HasSuffix(out, "2 dead letters, buried through 9: --all --through 9 takes these and none buried since\n") {
		t.Errorf("list: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = run(t, "", append([]string{"deadletters", "discard", "--peer", "44", "--all", "--through", "9"}, conn...)...)
	want := "discarded 2 dead letters for 44; they will not be sent\n" +
		"kept 1 buried after 9, which your list did not show: see them with laborlink deadletters list --peer 44\n"
	if code != 0 || out != want {
		t.Errorf("discard --all --through 9: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	mu.Lock()
	left = 0
	mu.Unlock()
	code, out, errOut = run(t, "", append([]string{"deadletters", "discard", "--peer", "44", "--all", "--through", "0"}, conn...)...)
	if code != 0 || out != "discarded 2 dead letters for 44; they will not be sent\n" {
		t.Errorf("discard --all --through 0 leaving none: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	wantBodies := []string{`/api/v1/deadletters/discard {"peer":"44","all":true,"through":9}`, `/api/v1/deadletters/discard {"peer":"44","all":true,"through":0}`}
	if !slices.Equal(bodies, wantBodies) {
		t.Errorf("the node was asked %q, want %q", bodies, wantBodies)
	}
}
