package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/devfed/devfedtest"
	"github.com/laborlink/laborlink/pki/durable"
)

func TestAuditReconcileUsage(t *testing.T) {
	// Connection flags to a node that does not answer: each refusal comes
	// before anything is read.
	conn := devConnFlags(t, "auditor-auditor", "https://127.0.0.1:1")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--a", "51"}, "--a and --b must name two different provinces"},
		{[]string{"--a", "51", "--b", "51"}, "--a and --b must name two different provinces"},
		{[]string{"--with", "44", "--a", "51"}, "leave out --a, --b, --a-node and --b-node"},
		{[]string{"--with", "44", "--b-node", "https://127.0.0.1:1"}, "leave out --a, --b, --a-node and --b-node"},
		{[]string{"--with", "4"}, `--with: "4" is not a province code`},
		{[]string{"--with", "44", "--from", "soon"}, "--from: "},
		// A window that holds no time (a mistyped month) would read nothing
		// and say the logs reconcile. (From a review.)
		{[]string{"--a", "51", "--b", "44", "--from", "2026-03-15", "--to", "2026-01-15"}, "--from and --to: from 2026-03-15"},
		{[]string{"--a", "51", "--b", "44", "--from", "2026-03-15", "--to", "2026-03-15"}, "--from and --to: from 2026-03-15"},
		{[]string{"--with", "44", "--from", "2026-03-15", "--to", "2026-01-15"}, "--from and --to: from 2026-03-15"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := run(t, "", append(append([]string{"audit", "reconcile"}, tt.args...), conn...)...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and an error containing %q", code, errOut, tt.want)
			}
		})
	}
}

// TestAuditReconcileBothWays reconciles 51 with 44 after the development
// federation's sample traffic: by the auditor reading both logs, and by
// 51's node reading 44's through the peer API. Both agree, and count the
// same entries: those of flows between 51 and 44 within the window, though
// 51 also sent to 33.
func TestAuditReconcileBothWays(t *testing.T) {
	f := devfedtest.Seeded(t, 1)
	auditor := f.Certs["51"].Auditor
	conn := []string{"--node", f.URL("51"), "--cert", auditor.CertFile, "--key", auditor.KeyFile, "--ca", f.Root}
	outs := map[string]string{}
	for _, args := range [][]string{{"--with", "44"}, {"--a", "51", "--b", "44"}, {"--with", "33", "--from", "2026-01-01"},
		{"--with", "44", "--from", "2099-01-01"}, {"--a", "51", "--b", "44", "--from", "2099-01-01"}} {
		code, out, errOut := run(t, "", append(append([]string{"audit", "reconcile"}, args...), conn...)...)
		if code != 0 || !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, "reconcile") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		outs[strings.Join(args, " ")] = out
	}
	if with, ab := outs["--with 44"], outs["--a 51 --b 44"]; with != ab || strings.HasPrefix(with, "ok: 0 ") {
		t.Errorf("--a 51 --b 44 says %q, --with 44 %q: want the same counts, not 0, of the flows between 51 and 44", ab, with)
	}
	for _, args := range []string{"--with 44 --from 2099-01-01", "--a 51 --b 44 --from 2099-01-01"} {
		if want := "ok: 0 entries of 51 and 0 of 44 reconcile\n"; outs[args] != want {
			t.Errorf("%s says %q; want %q: no entry is within the window", args, outs[args], want)
		}
	}
	// --from after --to (a mistyped month) holds no time: refused, not
	// "ok" over an empty window. (From a review.)
	code, out, errOut := run(t, "", append([]string{"audit", "reconcile", "--a", "51", "--b", "44", "--from", "2026-03-15", "--to", "2026-01-15"}, conn...)...)
	if code != 2 || strings.HasPrefix(out, "ok: ") || !strings.Contains(errOut, "--from and --to") {
		t.Errorf("--from after --to: exit %d, stdout %q, stderr %q; want 2 naming --from and --to", code, out, errOut)
	}
	code, _, errOut = run(t, "", append([]string{"audit", "reconcile", "--with", "32"}, conn...)...)
	if code != 1 || !strings.Contains(errOut, "province 32") {
		t.Errorf("--with a province without a node: exit %d, stderr %q; want 1 naming 32", code, errOut)
	}

	// An auditor of 44 may read only 44's flows with each node: the flows
	// between 51 and 33 are not its to reconcile, and it is told so rather
	// than that the two logs, read empty, agree.
	other := f.Certs["44"].Auditor
	conn44 := []string{"--node", f.URL("44"), "--cert", other.CertFile, "--key", other.KeyFile, "--ca", f.Root}
	code, out, errOut = run(t, "", append([]string{"audit", "reconcile", "--a", "51", "--b", "33"}, conn44...)...)
	if code == 0 || strings.HasPrefix(out, "ok: ") || !strings.Contains(errOut, "between 51 and 33") {
		t.Errorf("44's auditor reconciling 51 with 33: exit %d, %q %q; want refused naming the pair", code, out, errOut)
	}
}

// TestAuditExportStreamsTheNodesExport: the CLI writes what the node's
// export route sends, filters applied by the node, and refuses a format it
// does not know before asking.
func TestAuditExportStreamsTheNodesExport(t *testing.T) {
	f := devfedtest.Seeded(t, 1)
	auditor := f.Certs["51"].Auditor
	conn := []string{"--node", f.URL("51"), "--cert", auditor.CertFile, "--key", auditor.KeyFile, "--ca", f.Root}
	code, out, errOut := run(t, "", append([]string{"audit", "export", "--format", "csv", "--kind", "sent", "--type", "transfer"}, conn...)...)
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(rows) < 2 || !strings.HasPrefix(rows[0], "index,time,kind,") {
		t.Fatalf("export: exit %d, %d lines\n%s%s", code, len(rows), out, errOut)
	}
	for _, row := range rows[1:] {
		if cols := strings.Split(row, ","); cols[2] != "sent" || cols[5] != "transfer" {
			t.Errorf("row %q is not a sent transfer", row)
		}
	}
	code, _, errOut = run(t, "", append([]string{"audit", "export", "--format", "xml"}, conn...)...)
	if code != 2 || !strings.Contains(errOut, `--format must be csv or jsonl, got "xml"`) {
		t.Errorf("--format xml: exit %d, stderr %q; want 2 naming --format", code, errOut)
	}
}

// TestAnExportIsBoundedByIdleTimeNotItsLength: the export's writer cancels
// its context once nothing was written for --timeout, and not while writes
// keep coming, however long they take together.
func TestAnExportIsBoundedByIdleTimeNotItsLength(t *testing.T) {
	const idle = time.Second
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	var out bytes.Buffer
	w := newIdleWriter(&out, idle, cancel)
	for start := time.Now(); time.Since(start) < 2*idle; time.Sleep(idle / 20) {
		if _, err := w.Write([]byte("entry\n")); err != nil {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatalf("cancelled while entries kept coming: %v", context.Cause(ctx))
		}
	}
	w.stop()
	// A write that takes longer than idle (stdout read slowly) is not the
	// node's silence.
	slow := newIdleWriter(writerFunc(func(p []byte) (int, error) { time.Sleep(2 * idle); return len(p), nil }), idle, cancel)
	if _, err := slow.Write([]byte("entry\n")); err != nil || ctx.Err() != nil {
		t.Fatalf("cancelled during a slow write: %v, %v", err, context.Cause(ctx))
	}
	// Then nothing comes.
	select {
	case <-ctx.Done():
		if cause := context.Cause(ctx); !errors.Is(cause, errIdle) || !strings.Contains(cause.Error(), "--timeout") {
			t.Errorf("cause %v; want errIdle naming --timeout", cause)
		}
	case <-time.After(10 * idle):
		t.Fatal("not cancelled after the writes stopped")
	}
}

// TestTheLocalAPIClientTrustsOnlyItsProvincesNode: a command of the local
// API refuses, at the handshake, a --node of another province than the
// caller's certificate, so a mistyped address sends nothing there; an
// auditor reading another province's node names it with --node-province,
// and then reads only the flows between the two provinces.
func TestTheLocalAPIClientTrustsOnlyItsProvincesNode(t *testing.T) {
	f := devfedtest.Seeded(t, 1)
	auditor := f.Certs["51"].Auditor
	at := func(province string) []string {
		return []string{"--node", f.URL(province), "--cert", auditor.CertFile, "--key", auditor.KeyFile, "--ca", f.Root}
	}
	code, _, errOut := run(t, "", append([]string{"audit", "query"}, at("44")...)...)
	if code != 1 || !strings.Contains(errOut, "belongs to province 44, expected province 51") || !strings.Contains(errOut, "pass --node-province 44") {
		t.Errorf("51's auditor at 44's node, no --node-province: exit %d, stderr %q; want 1 naming both provinces and --node-province 44", code, errOut)
	}
	code, _, errOut = run(t, "", append([]string{"audit", "query", "--node-province", "33"}, at("44")...)...)
	if code != 1 || !strings.Contains(errOut, "expected province 33") || !strings.Contains(errOut, "pass --node-province 44") {
		t.Errorf("--node-province 33 at 44's node: exit %d, stderr %q; want 1 naming --node-province 44", code, errOut)
	}
	// audit reconcile --a --b refuses --node-province: a node of another
	// province than its flag's gets no hint at it.
	code, _, errOut = run(t, "", append([]string{"audit", "reconcile", "--a", "51", "--b", "44", "--a-node", f.URL("44"), "--b-node", f.URL("44")}, at("44")[2:]...)...)
	if code != 1 || !strings.Contains(errOut, "expected province 51") || strings.Contains(errOut, "--node-province") {
		t.Errorf("reconcile with 44's node as 51's: exit %d, stderr %q; want 1 without a --node-province hint", code, errOut)
	}
	code, out, errOut := run(t, "", append([]string{"audit", "query", "--node-province", "44", "--json"}, at("44")...)...)
	if code != 0 || strings.TrimSpace(out) == "" {
		t.Fatalf("with --node-province 44: exit %d, stderr %q, %d bytes out", code, errOut, len(out))
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, `"origin":"51"`) && !strings.Contains(line, `"destination":"51"`) {
			t.Errorf("51's auditor read an entry of 44's node without 51 in it: %s", line)
		}
	}
	code, _, errOut = run(t, "", append([]string{"audit", "query", "--node-province", "4x"}, at("44")...)...)
	if code != 2 || !strings.Contains(errOut, `--node-province "4x"`) {
		t.Errorf("--node-province 4x: exit %d, stderr %q; want 2 naming the flag", code, errOut)
	}
}

// testLogOrigin is the origin of signingLog's heads.
const testLogOrigin = "laborlink.test/p51/gw-1"

// signingLog opens an empty audit log in a new directory, dir, that signs
// its heads with a key made for it, whose verifier key is vkey; it is
// closed when the test ends.
func signingLog(t *testing.T) (l *audit.Log, vkey, dir string) {
	t.Helper()
	skey, vkey, err := audit.GenerateKey(testLogOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	cfg := audit.DefaultConfig()
	cfg.Origin, cfg.Signer, cfg.SignInterval = testLogOrigin, signer, -1
	if l, err = audit.OpenFile(filepath.Join(dir, "audit.db"), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, vkey, dir
}

// offlineExport writes what an auditor verifying offline holds: the node's
// verifier key, a signed head and the export of the log it covers, as lines
// without their newlines.
func offlineExport(t *testing.T, n int) (vkeyFile, headFile string, lines []string) {
	t.Helper()
	l, vkey, dir := signingLog(t)
	ctx := context.Background()
	for i := range n {
		e := audit.Entry{Kind: audit.KindSent, EnvelopeID: fmt.Sprintf("env-%d", i), Origin: "51", Destination: "44"}
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	head, err := l.SignedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var export bytes.Buffer
	each := func(yield func(audit.Entry) error) error { return l.Each(ctx, audit.Filter{}, yield) }
	if err := audit.ExportJSONL(&export, each); err != nil {
		t.Fatal(err)
	}
	vkeyFile, headFile = filepath.Join(dir, "audit.key.pub"), filepath.Join(dir, "head")
	if err := os.WriteFile(vkeyFile, []byte(vkey), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(headFile, head.Note, 0o600); err != nil {
		t.Fatal(err)
	}
	return vkeyFile, headFile, strings.Split(strings.TrimSuffix(export.String(), "\n"), "\n")
}

// offlineExportFile is offlineExport with its lines in a file, as an
// auditor keeps an export: the verifier key's file, the head's, and the
// export's.
func offlineExportFile(t *testing.T, n int) (vkeyFile, headFile, file string) {
	t.Helper()
	vkeyFile, headFile, lines := offlineExport(t, n)
	file = filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return vkeyFile, headFile, file
}

// TestAuditVerifyFileRefusesAnAddedLine: an export holding every genuine
// line and a forged one for a position they already cover fails offline
// verification, naming the lines, wherever the forged line sits; a line
// beyond the head passes, but is said to be unverified.
func TestAuditVerifyFileRefusesAnAddedLine(t *testing.T) {
	vkey, head, lines := offlineExport(t, 4)
	forged := strings.Replace(lines[2], `"kind":"sent"`, `"kind":"received"`, 1) // claims index 2
	beyond := strings.Replace(lines[3], `"index":3`, `"index":4`, 1)             // a head of 4 covers 0..3
	tests := []struct {
		name  string
		lines []string
		code  int
		want  string
	}{
		{"intact", lines, 0, "ok: 4 entries"},
		{"forged line first", append([]string{forged}, lines...), 1, "line 4 states index 2, which line 1 already holds"},
		{"genuine line repeated", append(append([]string(nil), lines...), lines[1]), 1, "line 5 states index 1, which line 2 already holds"},
		// A line beyond the head is no head's to check: said, not passed
		// over in silence. (From a review.)
		{"line beyond the head", append(append([]string(nil), lines...), beyond), 0,
			"ok: 4 entries of laborlink.test/p51/gw-1 verified against its signed head\n1 entry beyond the head was not verified"},
		{"line beyond the head repeated", append(append([]string(nil), lines...), beyond, beyond), 1, "line 6 states index 4, which line 5 already holds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "audit.jsonl")
			if err := os.WriteFile(file, []byte(strings.Join(tc.lines, "\n")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := run(t, "", "audit", "verify", "--verifier", vkey, "--file", file, "--head", head)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d\nstdout %q\nstderr %q\nwant exit %d and %q", code, out, errOut, tc.code, tc.want)
			}
		})
	}
}

// TestAuditVerifyRefusesFlagsOfTheOtherMode: --head without --file was
// ignored and the node verified online, "ok", the head the auditor meant
// unchecked; connection flags with --file were ignored as silently. Both
// are refused by name, before anything is read. (From a review.)
func TestAuditVerifyRefusesFlagsOfTheOtherMode(t *testing.T) {
	vkey, head, file := offlineExportFile(t, 2)
	conn := devConnFlags(t, "auditor-auditor", "https://127.0.0.1:1")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"head without file", append([]string{"--head", head}, conn...), "--head needs --file (a kept head for an online check is --earlier)"},
		{"file with connection flags", append([]string{"--file", file, "--head", head}, conn...), "leave out --ca, --cert, --key, --node"},
		{"file with --timeout", []string{"--file", file, "--head", head, "--timeout", "5s"}, "leave out --timeout"},
		// Ignored offline until a review found it (the node's CRLs).
		{"file with --crl", []string{"--file", file, "--head", head, "--crl", "crl.pem"}, "leave out --crl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, "", append([]string{"audit", "verify", "--verifier", vkey}, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tc.want)
			}
		})
	}
}

// writerFunc adapts a function to io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestAuditVerifySavesTheHeadDurably: the head kept with --save-head is
// the next visit's --earlier, often saved over this visit's. It was
// written in place and not synced, so a crash could leave it torn or
// lost with the verification reported done. It replaces the kept head
// whole, and a sync that fails fails the command, the kept head as it
// was.
func TestAuditVerifySavesTheHeadDurably(t *testing.T) {
	vkey, head, file := offlineExportFile(t, 2)
	kept := filepath.Join(t.TempDir(), "p51-head.txt")
	const old = "the head of the last visit\n"
	if err := os.WriteFile(kept, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"audit", "verify", "--verifier", vkey, "--file", file, "--head", head, "--save-head", kept}
	errSync := errors.New("injected sync failure")
	restore := durable.SetSyncForTest(func(*os.File) error { return errSync })
	code, _, errOut := run(t, "", args...)
	restore()
	if code == 0 || !strings.Contains(errOut, "--save-head") || !strings.Contains(errOut, errSync.Error()) {
		t.Errorf("with syncs failing: exit %d, stderr %q; want a failure of --save-head saying why", code, errOut)
	}
	if b, err := os.ReadFile(kept); err != nil || string(b) != old {
		t.Errorf("after a failed save the kept head holds %q, %v; want it as it was", b, err)
	}

	if code, out, errOut := run(t, "", args...); code != 0 {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	want, err := os.ReadFile(head)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(kept); err != nil || !bytes.Equal(b, want) {
		t.Errorf("the kept head holds %q, %v; want the head verified", b, err)
	}
}

// TestAuditVerifySavesTheHeadThroughASymlink: auditors keep heads behind
// links (a "latest" naming the last visit's file). The save put its file
// in place of the link, so the link was gone and the file it named kept
// the old head. The save follows the link, relative or absolute, to a file
// that exists or not yet, writes there and syncs that file's directory,
// leaving the link as it was.
func TestAuditVerifySavesTheHeadThroughASymlink(t *testing.T) {
	vkey, head, file := offlineExportFile(t, 2)
	want, err := os.ReadFile(head)
	if err != nil {
		t.Fatal(err)
	}
	heads := t.TempDir()
	kept := filepath.Join(heads, "p51-head-1.txt")
	if err := os.WriteFile(kept, []byte("the head of the last visit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := t.TempDir()
	for _, tc := range []struct{ name, to, file string }{
		{"relative, to the kept head", "../" + filepath.Base(heads) + "/p51-head-1.txt", kept},
		{"absolute, to a file not made yet", filepath.Join(heads, "p51-head-2.txt"), filepath.Join(heads, "p51-head-2.txt")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			latest := filepath.Join(links, "latest")
			os.Remove(latest)
			if err := os.Symlink(tc.to, latest); err != nil {
				t.Fatal(err)
			}
			var synced []string
			restore := durable.SetSyncForTest(func(f *os.File) error {
				synced = append(synced, f.Name())
				return nil
			})
			code, out, errOut := run(t, "", "audit", "verify", "--verifier", vkey, "--file", file, "--head", head, "--save-head", latest)
			restore()
			if code != 0 {
				t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
			}
			if to, err := os.Readlink(latest); err != nil || to != tc.to {
				t.Errorf("after the save, latest links to %q, %v; want the link kept, to %q", to, err, tc.to)
			}
			if b, err := os.ReadFile(tc.file); err != nil || !bytes.Equal(b, want) {
				t.Errorf("the file latest names holds %q, %v; want the head verified", b, err)
			}
			// The save resolves the links among the directories too (a
			// temporary directory may sit behind one, as on macOS).
			dir, err := filepath.EvalSymlinks(heads)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(synced, dir) {
				t.Errorf("synced %q; want the directory of the file written, %s", synced, dir)
			}
		})
	}
}

// TestAuditVerifySavesTheHeadThroughALinkInALinkedDirectory: a relative
// link is read from the directory the link is in as the kernel finds it,
// through any link among the directories of the path. A link
// "visits/latest" to "../heads/p51-head.txt", where visits links to
// auditor/visits, names auditor/heads/p51-head.txt; joined to the path
// as written, "visits/.." cancelled out lexically and the head went to a
// heads directory beside visits, or nowhere.
func TestAuditVerifySavesTheHeadThroughALinkInALinkedDirectory(t *testing.T) {
	vkey, head, file := offlineExportFile(t, 2)
	want, err := os.ReadFile(head)
	if err != nil {
		t.Fatal(err)
	}
	auditor := t.TempDir()
	for _, d := range []string{"visits", "heads"} {
		if err := os.Mkdir(filepath.Join(auditor, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../heads/p51-head.txt", filepath.Join(auditor, "visits", "latest")); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	if err := os.Mkdir(filepath.Join(elsewhere, "heads"), 0o700); err != nil {
		t.Fatal(err)
	}
	visits := filepath.Join(elsewhere, "visits")
	if err := os.Symlink(filepath.Join(auditor, "visits"), visits); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "", "audit", "verify", "--verifier", vkey, "--file", file, "--head", head, "--save-head", filepath.Join(visits, "latest"))
	if code != 0 {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	named := filepath.Join(auditor, "heads", "p51-head.txt")
	if b, err := os.ReadFile(named); err != nil || !bytes.Equal(b, want) {
		t.Errorf("%s, which the link names, holds %q, %v; want the head verified", named, b, err)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "heads", "p51-head.txt")); err == nil {
		t.Errorf("the head was written beside the linked directory, not where the link names")
	}

	// The same within a link: "inner/../p51-head.txt", where inner links
	// to deep/inner, names deep/p51-head.txt.
	if err := os.MkdirAll(filepath.Join(auditor, "deep", "inner"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(auditor, "deep", "inner"), filepath.Join(auditor, "visits", "inner")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("inner/../p51-head.txt", filepath.Join(auditor, "visits", "deeper")); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "", "audit", "verify", "--verifier", vkey, "--file", file, "--head", head, "--save-head", filepath.Join(visits, "deeper"))
	if code != 0 {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	named = filepath.Join(auditor, "deep", "p51-head.txt")
	if b, err := os.ReadFile(named); err != nil || !bytes.Equal(b, want) {
		t.Errorf("%s, which the link deeper names, holds %q, %v; want the head verified", named, b, err)
	}
}

// TestAuditVerifyKeepsAHeadItDidNotCheckAgainst: --save-head without
// --earlier replaced a kept head of the log unchecked. A node serving an
// old head (here the export and head of 2 entries, the kept head of 3), or
// one of a fork, passed, with nothing to compare it with, and the head
// that proved it was gone. It is refused by name, the kept head as it was;
// with --earlier, the head is checked against it. (From a review.)
func TestAuditVerifyKeepsAHeadItDidNotCheckAgainst(t *testing.T) {
	l, vkey, dir := signingLog(t)
	ctx := context.Background()
	var heads [][]byte // heads[n] covers n entries
	for i := range 3 {
		h, err := l.SignedHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		heads = append(heads, h.Note)
		if _, err := l.Append(ctx, audit.Entry{Kind: audit.KindSent, EnvelopeID: fmt.Sprintf("env-%d", i), Origin: "51", Destination: "44"}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := l.SignedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	heads = append(heads, h.Note)
	var export bytes.Buffer
	old := func(yield func(audit.Entry) error) error {
		return l.Each(ctx, audit.Filter{}, func(e audit.Entry) error {
			if e.Index >= 2 {
				return nil
			}
			return yield(e)
		})
	}
	if err := audit.ExportJSONL(&export, old); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	vkeyFile, file, oldHead := write("audit.key.pub", []byte(vkey)), write("old.jsonl", export.Bytes()), write("old-head", heads[2])
	kept := write("p51-head.txt", heads[3])

	args := []string{"audit", "verify", "--verifier", vkeyFile, "--file", file, "--head", oldHead, "--save-head", kept}
	code, out, errOut := run(t, "", args...)
	if code != 2 || !strings.Contains(errOut, "--save-head "+kept+" holds a signed head of "+testLogOrigin) || !strings.Contains(errOut, "--earlier") {
		t.Errorf("exit %d\nstdout %q\nstderr %q; want 2 asking for --earlier", code, out, errOut)
	}
	if b, err := os.ReadFile(kept); err != nil || !bytes.Equal(b, heads[3]) {
		t.Errorf("after the refusal the kept head holds %q, %v; want it as it was", b, err)
	}
	code, out, errOut = run(t, "", append(args, "--earlier", kept)...)
	if code != 1 || !strings.Contains(out, "log shrank from 3 to 2 entries") {
		t.Errorf("with --earlier: exit %d\nstdout %q\nstderr %q; want 1, the log shrank", code, out, errOut)
	}
	if b, err := os.ReadFile(kept); err != nil || !bytes.Equal(b, heads[3]) {
		t.Errorf("after a failed verify the kept head holds %q, %v; want it as it was", b, err)
	}
}
