package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/policy"
)

// policyCommands are the subcommands of "laborlink policy".
func policyCommands() []command {
	return []command{
		{"test", "run a policy directory's Rego tests", runPolicyTest},
		{"eval", "dry-run a record: both decisions and the record exactly as it would cross", runPolicyEval},
		{"push", "publish a directory as a new federation bundle version (admin)", runPolicyPush},
		{"show", "show the policy revisions", runPolicyShow},
	}
}

func runPolicy(ctx context.Context, m *Main, args []string) error {
	return runGroup(ctx, m, "policy", policyCommands(), args)
}

func runPolicyTest(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("policy test", "[-v] [--with-bundle] DIR")
	verbose := fs.Bool("v", false, "list every test, not only failures")
	withBundle := fs.Bool("with-bundle", false, "compile the shipped federation bundle alongside, for province policies whose tests use it")
	pos, err := positional(fs, args, 1, "one policy directory")
	if err != nil {
		return err
	}
	layer, err := readPolicyDir("policy directory", pos[0])
	if err != nil {
		return err
	}
	var extra []policy.Layer
	if *withBundle {
		extra = append(extra, policy.FederationBundle())
	}
	rep, err := policy.RunTests(ctx, layer, extra...)
	if err != nil {
		return fmt.Errorf("%s does not compile:\n%w", pos[0], err)
	}
	printTests(m.Stdout, rep, *verbose)
	// A province policy's rules no decision reads; a bundle's directory is
	// not one, and has none to list.
	if unread, err := policy.UnreadProvinceRules(layer); err == nil {
		for _, u := range unread {
			fmt.Fprintf(m.Stderr, "warning: %s\n", u)
		}
	}
	if rep.Failed() > 0 {
		return fmt.Errorf("%d of %d tests failed in %s", rep.Failed(), len(rep.Results), pos[0])
	}
	if len(rep.Results) == 0 {
		return fmt.Errorf("%s has no tests (rules named test_* in *_test.rego files)", pos[0])
	}
	return nil
}

func printTests(w io.Writer, rep policy.TestReport, verbose bool) {
	for _, r := range rep.Results {
		switch {
		case r.Skipped && verbose:
			fmt.Fprintf(w, "SKIP %s (%s)\n", r.Name, r.Location)
		case r.Pass && verbose:
			fmt.Fprintf(w, "PASS %s (%s)\n", r.Name, r.Location)
		case !r.Pass && !r.Skipped && r.Error != nil:
			fmt.Fprintf(w, "ERROR %s (%s): %v\n", r.Name, r.Location, r.Error)
		case !r.Pass && !r.Skipped:
			fmt.Fprintf(w, "FAIL %s (%s)\n", r.Name, r.Location)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", len(rep.Results)-rep.Failed(), rep.Failed())
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// errWouldNotCross makes a dry run whose record is denied exit with status 1
// after the decisions are printed.
var errWouldNotCross = errors.New("the record would not cross")

func runPolicyEval(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("policy eval", "--record FILE [--from 51 --to 44] [--purpose P] (--agreement FILE... [--date D] ... | --node URL)")
	recordFile := fs.String("record", "", "the record, JSON ('-' for standard input)")
	from := fs.String("from", "", "origin province of this crossing, e.g. 51 (default: the record's)")
	to := fs.String("to", "", "destination province, e.g. 44 (default: the record's)")
	purpose := fs.String("purpose", "", "purpose (default: the record's)")
	var agreements stringList
	fs.Var(&agreements, "agreement", "an agreement standing in for the registry, repeatable: a file in the form the admin guide proposes (pact.yaml, YAML or JSON; without a status it is taken as approved by both parties), or what 'laborlink agreement show ID --json' printed (its version in force, with its status on --date)")
	bundleDir := fs.String("bundle", "", "federation bundle directory (default: the bundle shipped in this binary)")
	originPolicy := fs.String("origin-policy", "", "the origin province's policy directory")
	destPolicy := fs.String("destination-policy", "", "the destination province's policy directory")
	date := fs.String("date", "", "decide as of this day, YYYY-MM-DD (default: today in China)")
	quotaUsed := fs.Int("quota-used", 0, "records of this type already sent under the agreement in each quota period")
	peer := fs.String("peer", "", "identity URI on the other end (the submitting system on export, the sending node on import)")
	asJSON := fs.Bool("json", false, "print the decisions and records as JSON")
	c := m.connFlags(fs)
	if _, err := positional(fs, args, 0, "no positional arguments"); err != nil {
		return err
	}
	if *recordFile == "" {
		return usageErrorf("--record FILE is required")
	}
	for _, p := range []struct{ flag, code string }{{"from", *from}, {"to", *to}} {
		if p.code != "" && !contracts.IsProvince(p.code) {
			return usageErrorf("--%s %q is not a province code; want 2 digits such as 51 (Sichuan) or 44 (Guangdong)", p.flag, p.code)
		}
	}
	if *quotaUsed < 0 {
		return usageErrorf("--quota-used %d: want 0 or more records", *quotaUsed)
	}
	onNode, err := runsOnNode(m, fs, c, "evaluates on the node, under its registry, policy in force and quota counts, today",
		"agreement", "date", "quota-used", "peer", "bundle", "origin-policy", "destination-policy")
	if err != nil {
		return err
	}
	if onNode {
		return evalOnNode(ctx, m, c, *recordFile, *from, *to, contracts.Purpose(*purpose), *asJSON)
	}
	if len(agreements) == 0 {
		return usageErrorf("--agreement FILE is required without --node: without the registry, the agreements must come from files (a record without an agreement never crosses)")
	}
	stdin := 0
	for _, f := range append([]string{*recordFile}, agreements...) {
		if f == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return usageErrorf("standard input ('-') is read once: give it to --record or to one --agreement, and the rest as files")
	}
	rec, doc, err := readRecord(m, *recordFile, *from, *to, contracts.Purpose(*purpose))
	if err != nil {
		return err
	}
	at := time.Now()
	if *date != "" {
		d, err := contracts.ParseDate(*date)
		if err != nil {
			return usageErrorf("--date: %v", err)
		}
		at = time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.FixedZone("CST", 8*3600))
	}
	index := policy.NewAgreementIndex()
	for _, f := range agreements {
		a, err := readEvalAgreement(m, f, at)
		if err != nil {
			return err
		}
		index.Put(*a)
	}
	bundle := policy.FederationBundle()
	if *bundleDir != "" {
		if bundle, err = readPolicyDir("--bundle", *bundleDir); err != nil {
			return err
		}
	}
	// The engines read these directories, and name no flag: check them
	// first, naming theirs, before either end decides.
	for _, d := range []struct{ flag, dir string }{{"--origin-policy", *originPolicy}, {"--destination-policy", *destPolicy}} {
		if d.dir != "" {
			if err := policy.CheckDir(d.dir); err != nil {
				return fmt.Errorf("%s: %w", d.flag, err)
			}
		}
	}
	run := dryRun{index: index, at: at, peer: *peer, quotaUsed: *quotaUsed}
	steps, err := run.cross(ctx, bundle, *originPolicy, *destPolicy, rec, doc)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(m.Stdout, steps); err != nil {
			return err
		}
	} else {
		for _, s := range steps {
			s.print(m.Stdout)
		}
	}
	if last := steps[len(steps)-1]; !last.Decision.Allow {
		return errWouldNotCross
	}
	return nil
}

// evalOnNode dry-runs the record on a running node: its registry, its policy
// in force and its quota counts decide.
func evalOnNode(ctx context.Context, m *Main, c *conn, file, from, to string, purpose contracts.Purpose, asJSON bool) error {
	_, doc, err := readRecord(m, file, from, to, purpose)
	if err != nil {
		return err
	}
	cl, cctx, cancel, err := c.dialAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	run, err := cl.PolicyEval(cctx, doc)
	if err != nil {
		return err
	}
	if asJSON {
		if err := printJSON(m.Stdout, run); err != nil {
			return err
		}
	} else if len(run.Problems) > 0 {
		for _, p := range run.Problems {
			fmt.Fprintf(m.Stdout, "%s: %s\n", p.Path, p.Message)
		}
	} else {
		step{Decision: run.Decision, Record: run.Record}.print(m.Stdout)
	}
	if len(run.Problems) > 0 || run.Decision == nil || !run.Decision.Allow {
		return errWouldNotCross
	}
	return nil
}

// readRecord decodes a record strictly and applies the command line's
// header overrides; doc is its JSON after the overrides.
func readRecord(m *Main, file, from, to string, purpose contracts.Purpose) (contracts.Record, []byte, error) {
	data, err := readInput(m, file)
	if err != nil {
		return nil, nil, err
	}
	rec, err := contracts.Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	h := rec.Head()
	if from != "" {
		h.From = from
	}
	if to != "" {
		h.To = to
	}
	if purpose != "" {
		h.Purpose = purpose
	}
	doc, err := json.Marshal(rec)
	if err != nil {
		return nil, nil, err
	}
	return rec, doc, nil
}

// wantAgreement says what --agreement takes, for the error about a file
// that is none of it.
const wantAgreement = `want an agreement file (schema laborlink.agreement/v1, such as the admin guide's pact.yaml) or what "laborlink agreement show ID --json" printed`

// readEvalAgreement reads an --agreement file for a dry run as of at. An
// administrator holds one of two things: the agreement file they propose,
// or the registry's record of an agreement as `agreement show --json`
// prints it. Of the record it takes what a node's registry replica gives
// the policy: the version in force, else the newest, with its status on
// the day.
func readEvalAgreement(m *Main, file string, at time.Time) (*contracts.Agreement, error) {
	data, err := readInput(m, file)
	if err != nil {
		return nil, fmt.Errorf("--agreement: %w", err)
	}
	if data, err = agreementJSON(file, data); err != nil {
		return nil, fmt.Errorf("--agreement %s: %w; %s", file, err, wantAgreement)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return nil, fmt.Errorf("--agreement %s is not an object; %s", file, wantAgreement)
	}
	switch {
	case top["schema"] != nil:
		return decodeAgreementFile(m, file, top["schema"], data)
	case top["data"] != nil:
		return effectiveAgreement(file, top["data"], at)
	case top["versions"] != nil:
		// The record alone, as `jq .data` leaves it.
		return effectiveAgreement(file, data, at)
	}
	return nil, fmt.Errorf("--agreement %s has no schema, data or versions: it is not an agreement; %s", file, wantAgreement)
}

// decodeAgreementFile decodes an agreement file strictly. A file without a
// status is one to propose: the dry run shows what would cross once both
// parties approve it, and says so.
func decodeAgreementFile(m *Main, file string, schema json.RawMessage, data []byte) (*contracts.Agreement, error) {
	var s string
	if json.Unmarshal(schema, &s) != nil || s != contracts.SchemaAgreement {
		return nil, fmt.Errorf("--agreement %s has schema %s, not %q; %s", file, schema, contracts.SchemaAgreement, wantAgreement)
	}
	a, err := contracts.DecodeAgreement(data)
	if err != nil {
		return nil, fmt.Errorf("--agreement %s: %w", file, err)
	}
	if a.Status == "" {
		a.Status = contracts.AgreementApproved
		fmt.Fprintf(m.Stderr, "%s: agreement %s has no status, as a file to propose: evaluated as approved by both parties\n", file, a.ID)
	}
	return a, nil
}

// effectiveAgreement is the agreement a node's policy would see in the
// registry record doc (registry.AgreementRecord) on at's day.
func effectiveAgreement(file string, doc json.RawMessage, at time.Time) (*contracts.Agreement, error) {
	var rec registry.AgreementRecord
	if err := json.Unmarshal(doc, &rec); err != nil {
		return nil, fmt.Errorf("--agreement %s: not an agreement's registry record: %w; %s", file, err, wantAgreement)
	}
	if len(rec.Versions) == 0 || slices.Contains(rec.Versions, nil) {
		return nil, fmt.Errorf("--agreement %s: the registry record of agreement %q lists no versions; %s", file, rec.ID, wantAgreement)
	}
	a := rec.AgreementAt(at)
	return &a, nil
}

// dryRun carries a record through both decisions as two nodes would.
type dryRun struct {
	index     *policy.AgreementIndex
	at        time.Time
	peer      string
	quotaUsed int
}

// step is one end's decision and the record after its obligations.
type step struct {
	Decision *policy.Decision `json:"decision"`
	// Record is the record exactly as it crosses (export) or is stored (import).
	Record json.RawMessage `json:"record,omitempty"`
}

func (r dryRun) cross(ctx context.Context, bundle policy.Layer, originDir, destDir string, rec contracts.Record, doc []byte) ([]step, error) {
	var steps []step
	for _, end := range []struct {
		side policy.Side
		dir  string
	}{{policy.Export, originDir}, {policy.Import, destDir}} {
		e, err := policy.NewEngine(ctx, bundle, policy.Config{ProvinceDir: end.dir, CacheSize: -1})
		if err != nil {
			return nil, err
		}
		ags, err := policy.Candidates(ctx, r.index, rec.Head())
		if err != nil {
			return nil, err
		}
		d, err := e.Decide(ctx, policy.Request{Side: end.side, Record: rec, Peer: r.peer, Agreements: ags, QuotaUsed: r.quotas(ags), Time: r.at})
		if err != nil {
			return nil, err
		}
		s := step{Decision: d}
		if !d.Allow {
			return append(steps, s), nil
		}
		if doc, err = policy.Apply(doc, d.Obligations); err != nil {
			return nil, err
		}
		s.Record = doc
		steps = append(steps, s)
		// The destination decides on what arrived, decoded as it will decode it.
		if rec, err = contracts.Decode(doc); err != nil {
			return nil, fmt.Errorf("the record as it crosses no longer decodes: %w", err)
		}
	}
	return steps, nil
}

func (r dryRun) quotas(ags []contracts.Agreement) map[policy.QuotaKey]int {
	used := map[policy.QuotaKey]int{}
	for _, a := range ags {
		for _, q := range a.Quotas {
			used[policy.QuotaKey{AgreementID: a.ID, Period: q.Period}] = r.quotaUsed
		}
	}
	return used
}

func (s step) print(w io.Writer) {
	d := s.Decision
	verdict := "DENIED"
	if d.Allow {
		verdict = "ALLOWED"
	}
	fmt.Fprintf(w, "%s: %s", d.Side, verdict)
	if d.Agreement != nil {
		fmt.Fprintf(w, " under %s v%d", d.Agreement.ID, d.Agreement.Version)
	}
	fmt.Fprintf(w, " (%s)\n", d.Revisions)
	for _, r := range d.Reasons {
		fmt.Fprintf(w, "  %s [%s]: %s\n", r.Code, r.Layer, r.Message)
	}
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range d.Obligations {
			if !yield(p) {
				return
			}
		}
	})
	for _, p := range paths {
		o := d.Obligations[p]
		what := o.Action
		if o.Pattern != "" {
			what += " " + o.Pattern
		}
		fmt.Fprintf(w, "  %-34s %s (%s)\n", p, what, o.Code)
	}
	if s.Record != nil {
		label := "the record as it crosses"
		if d.Side == policy.Import {
			label = "the record as the destination stores it"
		}
		fmt.Fprintf(w, "%s:\n%s\n", label, s.Record)
	}
}

func runPolicyPush(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("policy push", "DIR --node URL --cert FILE --key FILE --ca FILE [--note TEXT]")
	note := fs.String("note", "", "what changed, kept with the version in the registry")
	c := m.registryConnFlags(fs)
	pos, err := positional(fs, args, 1, "one bundle directory")
	if err != nil {
		return err
	}
	layer, err := readPolicyDir("bundle directory", pos[0])
	if err != nil {
		return err
	}
	rep, err := policy.CheckBundle(ctx, layer)
	if errors.Is(err, policy.ErrTestsFailed) {
		printTests(m.Stdout, rep, false)
		return fmt.Errorf("refused: %s: %w", pos[0], err)
	}
	if err != nil {
		return fmt.Errorf("refused: %s does not compile as a federation bundle:\n%w", pos[0], err)
	}
	fmt.Fprintf(m.Stdout, "%s compiles and its %d tests pass (revision %s)\n", pos[0], len(rep.Results), layer.Revision())
	content, err := layer.Pack()
	if err != nil {
		return err
	}
	client, err := c.client(true)
	if err != nil {
		return err
	}
	cctx, cancel := c.ctx(ctx)
	defer cancel()
	res, err := client.Submit(cctx, registry.OpPolicyPublish, registry.PolicyBody{Content: content, Note: *note})
	if err != nil {
		return fmt.Errorf("publish the bundle: %w", err)
	}
	if res.Policy == nil {
		return fmt.Errorf("publish the bundle: the registry answered without a policy version")
	}
	fmt.Fprintf(m.Stdout, "published as federation bundle v%d (digest %s)\n", res.Policy.Version, res.Policy.Digest)
	return nil
}

func runPolicyShow(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("policy show", "[--bundle DIR] [--province DIR] | --node URL")
	bundleDir := fs.String("bundle", "", "a federation bundle directory (default: the bundle shipped in this binary)")
	provinceDir := fs.String("province", "", "the node's province policy directory")
	c := m.connFlags(fs)
	if _, err := positional(fs, args, 0, "no positional arguments"); err != nil {
		return err
	}
	onNode, err := runsOnNode(m, fs, c, "shows the revisions in force on the node", "bundle", "province")
	if err != nil {
		return err
	}
	if onNode {
		cl, err := c.apiClient()
		if err != nil {
			return err
		}
		cctx, cancel := c.ctx(ctx)
		defer cancel()
		rev, err := cl.PolicyRevisions(cctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "federation bundle  %s  version %d (in force on %s)\n", rev.Bundle, rev.BundleVersion, *c.node)
		fmt.Fprintf(m.Stdout, "province policy    %s\n", rev.Province)
		return nil
	}
	bundle, where := policy.FederationBundle(), "shipped in this binary"
	if *bundleDir != "" {
		var err error
		if bundle, err = readPolicyDir("--bundle", *bundleDir); err != nil {
			return err
		}
		where = *bundleDir
	}
	fmt.Fprintf(m.Stdout, "federation bundle  %s  %d files, %s\n", bundle.Revision(), len(bundle.Files), where)
	if *provinceDir == "" {
		fmt.Fprintf(m.Stdout, "province policy    %s  none (no --province directory)\n", policy.Layer{}.Revision())
	} else {
		province, err := readPolicyDir("--province", *provinceDir)
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "province policy    %s  %d files, %s\n", province.Revision(), len(province.Files), *provinceDir)
	}
	fmt.Fprintln(m.Stdout, "(revisions of local files; the revisions in force on a running node need --node)")
	return nil
}

// runsOnNode reports whether a policy command runs on the --node node
// rather than offline, on local files. offline names the flags that only
// an offline run reads; what says what the command does on a node, which
// would ignore them. Both from the command line contradict each other and
// are refused; a node only from LABORLINK_NODE, which operators export for
// every command, gives way to them, as a dry run that quietly answered for
// the node, under its registry and today, would look like an answer to
// the question asked.
func runsOnNode(m *Main, fs *flag.FlagSet, c *conn, what string, offline ...string) (bool, error) {
	given := givenFlags(fs)
	set := flagsAmong(given, offline...)
	switch {
	case *c.node == "":
		return false, offlineConn(given)
	case len(set) == 0:
		return true, nil
	case given["node"]:
		return false, usageErrorf("--node %s, which would ignore %s: leave out --node to run offline on local files, or %s to ask the node",
			what, strings.Join(set, ", "), strings.Join(set, ", "))
	}
	if err := offlineConn(given); err != nil {
		return false, err
	}
	fmt.Fprintf(m.Stderr, "%s: offline, on local files (%s given): %s is not used\n", fs.Name(), strings.Join(set, ", "), envNode)
	return false, nil
}

// offlineConn refuses connection flags given on the command line (given)
// to a run that talks to no node: they would be ignored, and whoever typed
// --cert or --timeout meant a node to be asked. Their environment
// variables, set once for every command, are not refused.
func offlineConn(given map[string]bool) error {
	set := slices.DeleteFunc(flagsAmong(given, connFlagNames...), func(f string) bool { return f == "--node" })
	if len(set) == 0 {
		return nil
	}
	return usageErrorf("%s: connection flags, but this run is offline, on local files, and asks no node: leave them out, or give --node (without the offline flags) to ask one", strings.Join(set, ", "))
}

// readPolicyDir reads the policy directory named on the command line as
// what; policy.ReadDir refuses a path that is no directory, which would
// otherwise read as no policy at all.
func readPolicyDir(what, dir string) (policy.Layer, error) {
	l, err := policy.ReadDir(dir)
	if err != nil {
		return policy.Layer{}, fmt.Errorf("%s: %w", what, err)
	}
	return l, nil
}
