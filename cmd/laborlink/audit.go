package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/pki/durable"
)

// auditCommands are the subcommands of `laborlink audit`. Auditor
// certificates read the audit log and aggregates, never record payloads.
func auditCommands() []command {
	return []command{
		{"query", "entries by time, province pair, agreement, type and decision", runAuditQuery},
		{"stats", "flows per pair per day, denial reasons, latency, referrals", runAuditStats},
		{"export", "every matching entry as CSV or JSON lines", runAuditExport},
		{"verify", "check the log against its signed head and an earlier head you kept", runAuditVerify},
		{"reconcile", "compare two provinces' logs: sent without received, digest mismatches", runAuditReconcile},
	}
}

func runAudit(ctx context.Context, m *Main, args []string) error {
	return runGroup(ctx, m, "audit", auditCommands(), args)
}

// filterFlags are the selection flags query, stats and export share.
type filterFlags struct {
	from, to, pair, between, agreement, typ, kind, decision *string
}

func addFilterFlags(fs *flag.FlagSet) *filterFlags {
	return &filterFlags{
		from:      fs.String("from", "", "entries at or after this time (RFC 3339, or a day YYYY-MM-DD)"),
		to:        fs.String("to", "", "entries before this time (RFC 3339, or a day YYYY-MM-DD)"),
		pair:      fs.String("pair", "", "flows from one province to another, e.g. 51:44"),
		between:   fs.String("between", "", "flows between two provinces, both ways, e.g. 51,44"),
		agreement: fs.String("agreement", "", "flows under one agreement"),
		typ:       fs.String("type", "", "one record type ("+strings.Join(audit.RecordTypes(), ", ")+")"),
		kind:      fs.String("kind", "", "one entry kind (sent, received, denied, receipt, ...)"),
		decision:  fs.String("decision", "", "allow or deny (denied is accepted too)"),
	}
}

// values turns the flags into the API's query parameters, checking them first.
func (f *filterFlags) values() (url.Values, error) {
	q := url.Values{}
	for name, v := range map[string]*string{"from": f.from, "to": f.to} {
		if *v == "" {
			continue
		}
		t, err := parseTimeFlag(*v)
		if err != nil {
			return nil, usageErrorf("--%s: %v", name, err)
		}
		q.Set(name, t.Format(time.RFC3339Nano)) // to the nanosecond, as entry times are
	}
	if *f.pair != "" {
		if _, err := audit.ParsePair(*f.pair); err != nil {
			return nil, usageErrorf("--pair: %v", err)
		}
		q.Set("pair", *f.pair)
	}
	if *f.between != "" {
		if _, err := audit.ParseBetween(*f.between); err != nil {
			return nil, usageErrorf("--between: %v", err)
		}
		q.Set("between", *f.between)
	}
	if *f.agreement != "" {
		q.Set("agreement", *f.agreement)
	}
	if *f.kind != "" {
		q.Set("kind", *f.kind)
	}
	if *f.typ != "" {
		q.Set("type", *f.typ)
	}
	switch *f.decision {
	case "":
	case "allow", "allowed":
		q.Set("decision", "allow")
	case "deny", "denied":
		q.Set("decision", "deny")
	default:
		return nil, usageErrorf("--decision must be allow or deny, got %q", *f.decision)
	}
	return q, nil
}

func parseTimeFlag(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, time.FixedZone("CST", 8*3600))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", s)
	}
	return t, nil
}

// filtered parses the filter flags that query, stats and export share, with
// the command's own (extra), and returns the API's query parameters and the
// connection flags.
func filtered(m *Main, name string, args []string, extra func(*flag.FlagSet)) (url.Values, *conn, error) {
	fs := m.flagSet("audit "+name, "[filters] [connection flags]")
	c := m.connFlags(fs)
	f := addFilterFlags(fs)
	if extra != nil {
		extra(fs)
	}
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return nil, nil, err
	}
	q, err := f.values()
	if err != nil {
		return nil, nil, err
	}
	return q, c, nil
}

// fetch reads the entries the filter flags select, for query.
func fetch(ctx context.Context, m *Main, name string, args []string, extra func(*flag.FlagSet)) ([]audit.Entry, error) {
	q, c, err := filtered(m, name, args, extra)
	if err != nil {
		return nil, err
	}
	cl, ctx, cancel, err := c.dialAPI(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return cl.AuditEntries(ctx, q)
}

func runAuditQuery(ctx context.Context, m *Main, args []string) error {
	var asJSON *bool
	es, err := fetch(ctx, m, "query", args, func(fs *flag.FlagSet) {
		asJSON = fs.Bool("json", false, "JSON lines instead of a table")
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return audit.ExportJSONL(m.Stdout, audit.All(es))
	}
	return audit.WriteTable(m.Stdout, es)
}

// runAuditStats asks the node for the aggregates, which it computes over
// any number of entries without sending them.
func runAuditStats(ctx context.Context, m *Main, args []string) error {
	q, c, err := filtered(m, "stats", args, nil)
	if err != nil {
		return err
	}
	cl, ctx, cancel, err := c.dialAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	s, err := cl.AuditStats(ctx, q)
	if err != nil {
		return err
	}
	return printJSON(m.Stdout, s)
}

// runAuditExport streams the node's own export (GET /api/v1/audit/export):
// the entries as the node encodes them, without a pass through the CLI. A
// log's export can take longer than any timeout fit for one answer, so
// --timeout bounds how long the node may send nothing, not the whole.
func runAuditExport(ctx context.Context, m *Main, args []string) error {
	var format *string
	q, c, err := filtered(m, "export", args, func(fs *flag.FlagSet) {
		format = fs.String("format", api.FormatJSONL, "csv or jsonl")
	})
	if err != nil {
		return err
	}
	if *format != api.FormatCSV && *format != api.FormatJSONL {
		return usageErrorf("--format must be csv or jsonl, got %q", *format)
	}
	cl, err := c.apiClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := newIdleWriter(m.Stdout, *c.timeout, cancel)
	defer w.stop()
	if err := cl.AuditExport(ctx, q, *format, w); err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errIdle) {
			return cause
		}
		return err
	}
	return nil
}

// errIdle is an export's node sending nothing for --timeout.
var errIdle = errors.New("the node sent nothing")

// idleWriter is a writer that calls cancel if nothing is written to it for
// idle, from its creation on, outside its own writes.
type idleWriter struct {
	io.Writer
	idle  time.Duration
	timer *time.Timer
}

func newIdleWriter(w io.Writer, idle time.Duration, cancel context.CancelCauseFunc) *idleWriter {
	return &idleWriter{Writer: w, idle: idle, timer: time.AfterFunc(idle, func() {
		cancel(fmt.Errorf("%w for %s (--timeout); what it sent before is written", errIdle, idle))
	})}
}

// Write stops the clock while it writes: a slow reader of stdout is not
// the node sending nothing.
func (w *idleWriter) Write(p []byte) (int, error) {
	w.timer.Stop()
	defer w.timer.Reset(w.idle)
	return w.Writer.Write(p)
}

func (w *idleWriter) stop() { w.timer.Stop() }

func runAuditVerify(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("audit verify", "--verifier FILE [--earlier HEAD] [--save-head FILE] [connection flags | --file EXPORT --head HEAD]")
	c := m.connFlags(fs)
	verifierFile := fs.String("verifier", "", "the node's checkpoint verifier key (its audit.key.pub), obtained out of band")
	earlier := fs.String("earlier", "", "a signed head you kept from an earlier visit")
	save := fs.String("save-head", "", "write the head verified now here, for your next visit (through a symlink, to the file it names)")
	file := fs.String("file", "", "verify offline: a full export (audit export --format jsonl) instead of a node")
	headFile := fs.String("head", "", "with --file: the signed head to check the export against (from --save-head)")
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if err := verifyMode(fs, *file != ""); err != nil {
		return err
	}
	if *verifierFile == "" {
		return usageErrorf("--verifier is required: the node's audit.key.pub")
	}
	vkey, err := os.ReadFile(*verifierFile)
	if err != nil {
		return fmt.Errorf("--verifier: %w", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		return fmt.Errorf("--verifier %s: %w", *verifierFile, err)
	}
	if *save != "" && *earlier == "" {
		if err := refuseUncheckedSave(*save, v); err != nil {
			return err
		}
	}
	var earlierHead []byte
	if *earlier != "" {
		if earlierHead, err = os.ReadFile(*earlier); err != nil {
			return fmt.Errorf("--earlier: %w", err)
		}
	}
	in := audit.VerifyInput{Earlier: earlierHead, Origin: v.Name(), Verifier: v}
	if *file != "" {
		if *headFile == "" {
			return usageErrorf("--file needs --head: the signed head the export is checked against")
		}
		if in.Latest, err = os.ReadFile(*headFile); err != nil {
			return fmt.Errorf("--head: %w", err)
		}
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("--file: %w", err)
		}
		in.Entries, _, err = audit.ReadJSONL(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--file %s: %w", *file, err)
		}
	} else {
		cl, err := c.apiClient()
		if err != nil {
			return err
		}
		cctx, cancel := c.ctx(ctx)
		defer cancel()
		// The node's newest head: it may leave out the entries of the
		// last head interval, which a later visit checks.
		head, err := cl.AuditHead(cctx, 0)
		if err != nil {
			return err
		}
		// Verify reads the entries a chunk at a time: the node serves at
		// most api.MaxRawEntries positions a request.
		n := timedNode{cl, c}
		in.Read, in.Latest, in.Proofs = n.AuditRaw, head.Note, n
	}
	rep, err := audit.Verify(ctx, in)
	if err != nil {
		return err
	}
	for _, f := range rep.Findings {
		fmt.Fprintln(m.Stdout, f.String())
	}
	if !rep.OK() {
		printUnsigned(m.Stdout, rep.Unsigned)
		return &exitError{code: 1, err: fmt.Errorf("%d problems in the audit log of %s", len(rep.Findings), v.Name())}
	}
	fmt.Fprintf(m.Stdout, "ok: %d entries of %s verified against its signed head", rep.Checked, v.Name())
	if earlierHead != nil {
		fmt.Fprint(m.Stdout, ", consistent with the earlier head")
	}
	fmt.Fprintln(m.Stdout)
	printUnsigned(m.Stdout, rep.Unsigned)
	if *save != "" {
		if err := saveHead(*save, in.Latest); err != nil {
			return fmt.Errorf("--save-head: %w", err)
		}
	}
	return nil
}

// timedNode is the node verify reads, each request bounded by --timeout:
// a long log takes many, as long as they take together.
type timedNode struct {
	cl *api.Client
	c  *conn
}

var _ audit.ProofSource = timedNode{}

// AuditRaw is api.Client.AuditRaw within the timeout.
func (n timedNode) AuditRaw(ctx context.Context, start, end int64) ([]audit.RawEntry, error) {
	ctx, cancel := n.c.ctx(ctx)
	defer cancel()
	return n.cl.AuditRaw(ctx, start, end)
}

// InclusionProof is api.Client.InclusionProof within the timeout.
func (n timedNode) InclusionProof(ctx context.Context, index, size int64) (tlog.RecordProof, error) {
	ctx, cancel := n.c.ctx(ctx)
	defer cancel()
	return n.cl.InclusionProof(ctx, index, size)
}

// ConsistencyProof is api.Client.ConsistencyProof within the timeout.
func (n timedNode) ConsistencyProof(ctx context.Context, old, size int64) (tlog.TreeProof, error) {
	ctx, cancel := n.c.ctx(ctx)
	defer cancel()
	return n.cl.ConsistencyProof(ctx, old, size)
}

// refuseUncheckedSave refuses a --save-head over a head of the log that
// verify would not check the new head against (no --earlier): a node
// serving an old head, or one of a fork, would pass, with nothing to
// compare it with, and the head that proves it would be gone. A file that
// is missing or holds no head of the log is not evidence of it.
func refuseUncheckedSave(path string, v note.Verifier) error {
	kept, err := os.ReadFile(path)
	if err != nil {
		return nil // the save says why if it cannot write there either
	}
	if _, err := audit.ParseHead(kept, v.Name(), v); err != nil {
		return nil
	}
	return usageErrorf("--save-head %s holds a signed head of %s, which this would replace unchecked: give it as --earlier too, so that the new head is checked to extend it (or move it away to start afresh)", path, v.Name())
}

// saveHead writes the verified head to path, replaced whole and synced:
// the kept head is the next visit's --earlier, and is often this visit's,
// which a torn write would destroy. A symlink at path is followed, the
// head written where it points and that directory synced: auditors keep
// heads behind links (a "latest" naming the last visit's file), which a
// rename onto the link itself would replace with a plain file. It is done
// here, not in durable, whose other writes must not follow links: a key
// written through one would land outside the directory that guards it.
func saveHead(path string, head []byte) error {
	target, err := followLinks(path)
	if err != nil {
		return err
	}
	return durable.WriteFile(target, head, 0o644)
}

// maxLinks bounds followLinks, as the kernel's ELOOP bounds a lookup, so
// that a loop of links is an error rather than a hang.
const maxLinks = 40

// followLinks is path with the symlinks at it followed to the name they
// lead to, which need not exist yet (a link made before its first save).
// A relative link is read from the link's directory as the kernel finds
// it: that directory is resolved first (filepath.EvalSymlinks, which
// takes a ".." after a linked directory from where the link leads, as the
// kernel does), since joining a link's ".." to the path as written would
// cancel the linked directory out lexically.
func followLinks(path string) (string, error) {
	name := path
	for range maxLinks {
		at, base := splitAsWritten(path)
		dir, err := filepath.EvalSymlinks(at)
		if err != nil {
			return "", err
		}
		path = filepath.Join(dir, base)
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		to, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(to) {
			to = dir + string(filepath.Separator) + to
		}
		path = to
	}
	return "", fmt.Errorf("%s: more than %d symlinks in a row (a loop?)", name, maxLinks)
}

// splitAsWritten splits path at its last separator, leaving the directory
// as written: filepath.Dir cleans it, and a cleaned "link/.." is no longer
// where the kernel's lookup goes.
func splitAsWritten(path string) (dir, base string) {
	i := strings.LastIndexByte(path, filepath.Separator)
	switch {
	case i < 0:
		return ".", path
	case i == 0:
		return string(filepath.Separator), path[1:]
	}
	return path[:i], path[i+1:]
}

// printUnsigned says how many lines of an export lie beyond the head it
// was checked against. They are not a failure: an export taken after the
// head was kept holds the entries logged since, which no head the auditor
// holds covers yet. But nothing vouches for them, and an "ok" alone would
// say the whole file passed.
func printUnsigned(w io.Writer, n int64) {
	switch {
	case n == 1:
		fmt.Fprintln(w, "1 entry beyond the head was not verified: no head you hold covers it (check it against a later head)")
	case n > 1:
		fmt.Fprintf(w, "%d entries beyond the head were not verified: no head you hold covers them (check them against a later head)\n", n)
	}
}

// verifyMode refuses the flags of the mode verify is not in, which would
// otherwise be ignored: --head online (the auditor meant a head that would
// go unchecked, or --earlier), connection flags offline. Only flags given
// on the command line count: LABORLINK_NODE and the like may well be set.
func verifyMode(fs *flag.FlagSet, offline bool) error {
	given := givenFlags(fs)
	online, head := flagsAmong(given, connFlagNames...), given["head"]
	switch {
	case !offline && head:
		return usageErrorf("--head needs --file (a kept head for an online check is --earlier)")
	case offline && len(online) > 0:
		return usageErrorf("--file verifies an export offline: leave out %s, which are for a check against a node", strings.Join(online, ", "))
	}
	return nil
}

func runAuditReconcile(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("audit reconcile", "--a 51 --b 44 [--a-node URL --b-node URL] | --with 44; [--from T --to T] [connection flags]")
	c := m.connFlags(fs)
	a := fs.String("a", "", "one province: each node's entries of flows between --a and --b, both ways, are compared and counted within --from and --to, as --with counts them")
	b := fs.String("b", "", "the other province")
	aNode := fs.String("a-node", "", "province a's node (default: found in the registry through --node)")
	bNode := fs.String("b-node", "", "province b's node (default: found in the registry through --node)")
	with := fs.String("with", "", "have the --node node reconcile its own log with this province's node's, which it reads through the peer API")
	from := fs.String("from", "", "entries at or after this time")
	to := fs.String("to", "", "entries before this time")
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	var opt audit.ReconcileOptions
	var err error
	if *from != "" {
		if opt.From, err = parseTimeFlag(*from); err != nil {
			return usageErrorf("--from: %v", err)
		}
	}
	if *to != "" {
		if opt.To, err = parseTimeFlag(*to); err != nil {
			return usageErrorf("--to: %v", err)
		}
	}
	// A window that holds no time would read nothing and say the logs
	// reconcile; the node refuses it for --with, but --a/--b asks nobody.
	if err := (audit.Filter{From: opt.From, To: opt.To}).Check(); err != nil {
		return usageErrorf("--from and --to: %v", err)
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	if *with != "" {
		if *a != "" || *b != "" || *aNode != "" || *bNode != "" {
			return usageErrorf("--with has the --node node reconcile with one province: leave out --a, --b, --a-node and --b-node")
		}
		if !audit.Province(*with).Valid() {
			return usageErrorf("--with: %q is not a province code, such as 44", *with)
		}
		return reconcileOnNode(ctx, m, c, *with, opt)
	}
	if *a == "" || *b == "" || *a == *b {
		return usageErrorf("--a and --b must name two different provinces (or --with one province, for the --node node)")
	}
	if *c.nodeProvince != "" {
		// Each node read is checked against the province it is read for.
		return usageErrorf("--a and --b are the provinces of the nodes read, each checked to be theirs: leave out --node-province")
	}
	for _, f := range []struct{ flag, province string }{{"--a", *a}, {"--b", *b}} {
		if !audit.Province(f.province).Valid() {
			return usageErrorf("%s %q is not a 2-digit province code, such as 44", f.flag, f.province)
		}
	}
	opt.A, opt.B = audit.Province(*a), audit.Province(*b)
	logs := map[string][]audit.Entry{}
	for province, addr := range map[string]*string{*a: aNode, *b: bNode} {
		if *addr == "" {
			if *addr, err = nodeOf(ctx, c, province); err != nil {
				return err
			}
		}
		// Each node is checked against its province, which no flag
		// names: a refusal gets no --node-province hint (apiClient's).
		cc := *c
		cc.node = addr
		t, err := cc.tls()
		if err != nil {
			return err
		}
		cl, err := api.NewClient(*addr, t, province)
		if err != nil {
			return err
		}
		if logs[province], err = pairEntries(ctx, cl, opt); err != nil {
			return fmt.Errorf("audit log of %s: %w", province, err)
		}
	}
	found := audit.Reconcile(logs[*a], logs[*b], opt)
	return printReconciliation(m, api.AuditReconcileResponse{A: opt.A, B: opt.B,
		EntriesA: opt.Counted(logs[*a]), EntriesB: opt.Counted(logs[*b]), Mismatches: found})
}

// pairEntries reads a node's entries of flows between provinces opt.A and
// opt.B, both ways, in log order, within opt's window widened by
// api.ReconcileMargin: what a reconciliation compares, so that the counts,
// and the query limit, are of the pair's flows in the window and not of
// the whole log's, and flows at the window's edges find their
// counterparts, as with --with. One query reads both directions, so the
// node's limit holds for the two together, as --with's does: more entries
// than it returns fail the query, and the reconciliation with it.
func pairEntries(ctx context.Context, cl *api.Client, opt audit.ReconcileOptions) ([]audit.Entry, error) {
	window := url.Values{}
	from, to := opt.Widened(api.ReconcileMargin)
	if !from.IsZero() {
		window.Set("from", from.Format(time.RFC3339Nano))
	}
	if !to.IsZero() {
		window.Set("to", to.Format(time.RFC3339Nano))
	}
	q := maps.Clone(window)
	q.Set("between", string(opt.A)+","+string(opt.B))
	es, err := cl.AuditEntries(ctx, q)
	if err != nil && strings.Contains(err.Error(), `unknown query parameter "between"`) {
		return pairEntriesEachWay(ctx, cl, window, opt)
	}
	return es, err
}

// pairEntriesEachWay is pairEntries for a node of an earlier release,
// which refuses between (an upgrade goes node by node): one query a
// direction, merged in log order. Each has the node's limit to itself.
func pairEntriesEachWay(ctx context.Context, cl *api.Client, window url.Values, opt audit.ReconcileOptions) ([]audit.Entry, error) {
	var es []audit.Entry
	for _, pair := range []audit.Pair{{Origin: opt.A, Destination: opt.B}, {Origin: opt.B, Destination: opt.A}} {
		q := maps.Clone(window)
		q.Set("pair", pair.String())
		got, err := cl.AuditEntries(ctx, q)
		if err != nil {
			return nil, err
		}
		es = append(es, got...)
	}
	slices.SortFunc(es, func(x, y audit.Entry) int { return cmp.Compare(x.Index, y.Index) })
	return es, nil
}

// reconcileOnNode asks the --node node to reconcile its log with that of
// province with's node (GET /api/v1/audit/reconcile).
func reconcileOnNode(ctx context.Context, m *Main, c *conn, with string, opt audit.ReconcileOptions) error {
	cl, err := c.apiClient()
	if err != nil {
		return err
	}
	r, err := cl.AuditReconcile(ctx, with, opt.From, opt.To)
	if err != nil {
		return err
	}
	return printReconciliation(m, r)
}

// printReconciliation prints each finding as a JSON line, and fails with
// status 1 if there is any.
func printReconciliation(m *Main, r api.AuditReconcileResponse) error {
	for _, f := range r.Mismatches {
		line, _ := json.Marshal(f)
		fmt.Fprintln(m.Stdout, string(line))
	}
	if len(r.Mismatches) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d discrepancies between %s and %s", len(r.Mismatches), r.A, r.B)}
	}
	fmt.Fprintf(m.Stdout, "ok: %d entries of %s and %d of %s reconcile\n", r.EntriesA, r.A, r.EntriesB, r.B)
	return nil
}

// nodeOf finds a province's node in the registry through the --node node.
func nodeOf(ctx context.Context, c *conn, province string) (string, error) {
	cl, err := c.client(false)
	if err != nil {
		return "", err
	}
	nodes, err := cl.Nodes(ctx)
	if err != nil {
		return "", err
	}
	// The node the province's deliveries go to, whose log holds them.
	if n, ok := registry.DeliveryNode(nodes.Data, province); ok {
		return "https://" + n.APIAddr, nil
	}
	return "", errors.New("the registry knows no node of province " + province)
}
