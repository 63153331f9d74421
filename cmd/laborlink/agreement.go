package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/pki"
	"gopkg.in/yaml.v3"
)

// agreementCommands are the subcommands of `laborlink agreement`.
func agreementCommands() []command {
	return []command{
		{"propose", "propose an agreement from a YAML or JSON file (-f)", runAgreementPropose},
		{"approve", "approve the version of agreement ID awaiting your province's approval", transition(registry.OpApprove)},
		{"suspend", "suspend agreement ID for your province", transition(registry.OpSuspend)},
		{"resume", "lift your province's suspension of agreement ID", transition(registry.OpResume)},
		{"terminate", "terminate agreement ID and a pending amendment; --version N withdraws amendment N alone", transition(registry.OpTerminate)},
		{"amend", "propose a new version of agreement ID from a file (-f)", runAgreementAmend},
		{"list", "list agreements, by party, pair, status, record type or purpose", runAgreementList},
		{"show", "show agreement ID, with --history every transition", runAgreementShow},
	}
}

func runAgreement(ctx context.Context, m *Main, args []string) error {
	return runGroup(ctx, m, "agreement", agreementCommands(), args)
}

// readAgreement reads an agreement file: JSON, or YAML (.yaml/.yml) turned
// into JSON, then decoded strictly by contracts.
func readAgreement(m *Main, file string) (*contracts.Agreement, error) {
	data, err := readInput(m, file)
	if err != nil {
		return nil, err
	}
	if data, err = agreementJSON(file, data); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	a, err := contracts.DecodeAgreement(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return a, nil
}

// agreementJSON is an agreement file's data as JSON: YAML (a .yaml or
// .yml file, or data that is not JSON) is turned into JSON.
func agreementJSON(file string, data []byte) ([]byte, error) {
	if ext := strings.ToLower(filepath.Ext(file)); ext == ".yaml" || ext == ".yml" || !json.Valid(bytes.TrimSpace(data)) {
		return yamlToJSON(data)
	}
	return data, nil
}

// readInput reads the file a command names, or its standard input for "-".
func readInput(m *Main, file string) ([]byte, error) {
	if file != "-" {
		return os.ReadFile(file)
	}
	var b bytes.Buffer
	_, err := b.ReadFrom(m.Stdin)
	return b.Bytes(), err
}

// yamlToJSON converts a YAML document to JSON. Dates YAML reads as
// timestamps go back to "YYYY-MM-DD", which is what the contract wants.
func yamlToJSON(data []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	return json.Marshal(jsonable(v))
}

func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonable(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = jsonable(e)
		}
		return v
	case time.Time:
		if v.Equal(v.Truncate(24 * time.Hour)) {
			return v.Format(time.DateOnly)
		}
		return v.Format(time.RFC3339)
	}
	return v
}

func runAgreementPropose(ctx context.Context, m *Main, args []string) error {
	return submitFile(ctx, m, "propose", registry.OpPropose, args)
}

func runAgreementAmend(ctx context.Context, m *Main, args []string) error {
	return submitFile(ctx, m, "amend", registry.OpAmend, args)
}

// submitFile proposes or amends an agreement read from -f.
func submitFile(ctx context.Context, m *Main, name string, op registry.Op, args []string) error {
	usage, want, n := "-f FILE [connection flags]", "no arguments", 0
	if op == registry.OpAmend {
		usage, want, n = "ID -f FILE [connection flags]", "the agreement ID", 1
	}
	fs := m.flagSet("agreement "+name, usage)
	c := m.registryConnFlags(fs)
	file := fs.String("f", "", "agreement file, YAML or JSON ('-' for standard input)")
	pos, err := positional(fs, args, n, want)
	if err != nil {
		return err
	}
	if *file == "" {
		return usageErrorf("-f FILE is required")
	}
	a, err := readAgreement(m, *file)
	if err != nil {
		return err
	}
	if n == 1 && a.ID != pos[0] {
		return usageErrorf("%s holds agreement %q, not %q", *file, a.ID, pos[0])
	}
	cl, ctx, cancel, err := c.dialRegistry(ctx, true)
	if err != nil {
		return err
	}
	defer cancel()
	res, err := cl.Submit(ctx, op, a)
	if err != nil {
		return err
	}
	v := res.Agreement.Latest()
	p := v.Agreement.Parties()
	fmt.Fprintf(m.Stdout, "%s version %d proposed (digest %.16s…); it needs the approval of provinces %s and %s\n", a.ID, v.Agreement.Version, v.Digest, p[0], p[1])
	return nil
}

// transition runs approve, suspend, resume or terminate.
func transition(op registry.Op) func(context.Context, *Main, []string) error {
	name := op.Verb()
	return func(ctx context.Context, m *Main, args []string) error {
		fs := m.flagSet("agreement "+name, "ID [--reason TEXT] [--version N] [connection flags]")
		c := m.registryConnFlags(fs)
		reason := fs.String("reason", "", "why, recorded in the agreement's history")
		version := fs.Int("version", 0, "the version acted on (default: the one awaiting approval, or in force)")
		pos, err := positional(fs, args, 1, "an agreement ID")
		if err != nil {
			return err
		}
		if *version < 0 {
			return usageErrorf("--version %d: want a version number, 1 or more", *version)
		}
		cl, err := c.client(true)
		if err != nil {
			return err
		}
		ctx, cancel := c.ctx(ctx)
		defer cancel()
		body := registry.TransitionBody{ID: pos[0], Version: *version, Reason: *reason}
		if op == registry.OpApprove {
			// Approve exactly the terms the registry holds now: the digest
			// binds the signature to them.
			r, err := cl.Agreement(ctx, pos[0], true)
			if err != nil {
				return err
			}
			v := r.Data.Pending()
			if *version != 0 {
				// Approve the version named or none: never a neighbour of it.
				if *version > len(r.Data.Versions) {
					return fmt.Errorf("agreement %s has no version %d: its versions are 1 to %d", pos[0], *version, len(r.Data.Versions))
				}
				v = r.Data.Versions[*version-1]
			}
			if v == nil {
				return fmt.Errorf("agreement %s has no version awaiting approval (it is %s)", pos[0], r.Data.StatusAt(time.Now()))
			}
			body.Version, body.Digest = v.Agreement.Version, v.Digest
		}
		res, err := cl.Submit(ctx, op, body)
		if err != nil {
			return err
		}
		rec := res.Agreement
		done := pastTense(name)
		if op == registry.OpTerminate && *version > 0 && *version <= len(rec.Versions) && rec.Versions[*version-1].Agreement.Status == registry.StatusWithdrawn {
			// Terminating a pending amendment by number withdraws it
			// alone: the agreement is not terminated.
			done = fmt.Sprintf("version %d withdrawn", *version)
		}
		fmt.Fprintf(m.Stdout, "%s: %s; now %s (version %d)\n", pos[0], done, rec.StatusAt(time.Now()), rec.Effective().Agreement.Version)
		return nil
	}
}

func pastTense(verb string) string {
	if strings.HasSuffix(verb, "e") {
		return verb + "d"
	}
	return verb + "ed"
}

func runAgreementList(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("agreement list", "[--party 51] [--status active] [--origin 51 --destination 44] [--type transfer] [--purpose P] [--consistent] [--json] [connection flags]")
	c := m.registryConnFlags(fs)
	var f registry.Filter
	fs.StringVar(&f.Party, "party", "", "province code that must be a party")
	fs.StringVar(&f.Origin, "origin", "", "origin province code")
	fs.StringVar(&f.Destination, "destination", "", "destination province code")
	status := fs.String("status", "", "proposed, approved, active, suspended, terminated or expired")
	rt := fs.String("type", "", "record type the agreement covers")
	purpose := fs.String("purpose", "", "purpose the agreement covers")
	consistent := fs.Bool("consistent", false, "linearizable read through the leader instead of the local replica")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	for _, p := range []struct{ flag, code string }{{"party", f.Party}, {"origin", f.Origin}, {"destination", f.Destination}} {
		if p.code != "" && !pki.ValidProvince(p.code) {
			return usageErrorf("--%s %q is not a 2-digit province code, such as 44", p.flag, p.code)
		}
	}
	if *status != "" && !slices.Contains(contracts.AgreementStatuses(), contracts.AgreementStatus(*status)) {
		return usageErrorf("--status %q is not an agreement status; want one of proposed, approved, active, suspended, terminated, expired", *status)
	}
	if *rt != "" && contracts.SchemaFor(contracts.RecordType(*rt)) == "" {
		return usageErrorf("--type %q is not a record type; want one of %s", *rt, typeList())
	}
	if p := contracts.Purpose(*purpose); p != "" && !slices.Contains(contracts.RecordPurposes(), p) {
		return usageErrorf("--purpose %q is not a purpose records cross for; want one of %v", *purpose, contracts.RecordPurposes())
	}
	f.Status, f.RecordType, f.Purpose = contracts.AgreementStatus(*status), contracts.RecordType(*rt), contracts.Purpose(*purpose)
	cl, ctx, cancel, err := c.dialRegistry(ctx, false)
	if err != nil {
		return err
	}
	defer cancel()
	r, err := cl.List(ctx, f, *consistent)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(m.Stdout, r)
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tVERSION\tSTATUS\tORIGIN\tDESTINATION\tVALID\tTITLE")
	for _, s := range r.Data {
		st := string(s.Status)
		if s.Pending != 0 {
			st += fmt.Sprintf(" (v%d pending)", s.Pending)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s..%s\t%s\n", s.ID, s.Version, st, s.Origin.Division, s.Destination.Division, s.ValidFrom, s.ValidUntil, s.Title)
	}
	tw.Flush()
	fmt.Fprintln(m.Stdout, freshness(r.Freshness))
	return nil
}

func runAgreementShow(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("agreement show", "ID [--history] [--consistent] [--json] [connection flags]")
	c := m.registryConnFlags(fs)
	history := fs.Bool("history", false, "also list every transition: when, by whom and why")
	consistent := fs.Bool("consistent", false, "linearizable read through the leader instead of the local replica")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := positional(fs, args, 1, "an agreement ID")
	if err != nil {
		return err
	}
	cl, ctx, cancel, err := c.dialRegistry(ctx, false)
	if err != nil {
		return err
	}
	defer cancel()
	r, err := cl.Agreement(ctx, pos[0], *consistent)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(m.Stdout, r)
	}
	printAgreement(m.Stdout, r.Data, time.Now(), *history)
	fmt.Fprintln(m.Stdout, freshness(r.Freshness))
	return nil
}

// printAgreement writes what show prints of rec at now: the effective
// version and, when an amendment awaits approval, its terms as well, since
// approve signs those (every term its digest covers, quotas and clear
// fields included); with history, every transition.
func printAgreement(w io.Writer, rec *registry.AgreementRecord, now time.Time, history bool) {
	v := rec.Effective()
	a := &v.Agreement
	fmt.Fprintf(w, "%s version %d: %s\n", rec.ID, a.Version, a.Title)
	fmt.Fprintf(w, "status:      %s\n", v.StatusAt(now))
	printTerms(w, "", a)
	if len(v.SuspendedBy) > 0 {
		fmt.Fprintf(w, "suspended by: %s\n", strings.Join(v.SuspendedBy, ", "))
	}
	if p := rec.Pending(); p != nil && p != v {
		pa := &p.Agreement
		fmt.Fprintf(w, "pending:     version %d awaits approval (digest %.16s…): %s\n", pa.Version, p.Digest, pa.Title)
		printTerms(w, "  ", pa)
	}
	if history {
		fmt.Fprintln(w, "\nhistory:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, e := range rec.History {
			fmt.Fprintf(tw, "  %d\t%s\t%s\tv%d\t%s\t%s\n", e.Index, e.At.Format(time.RFC3339), e.Op.Verb(), e.Version, e.By, e.Reason)
		}
		tw.Flush()
	}
}

// printTerms writes the terms of a version and its approvals so far, each
// line after indent.
func printTerms(w io.Writer, indent string, a *contracts.Agreement) {
	fmt.Fprintf(w, "%sorigin:      %s %s\n%sdestination: %s %s\n", indent, a.Origin.Division, a.Origin.Name, indent, a.Destination.Division, a.Destination.Name)
	fmt.Fprintf(w, "%svalid:       %s to %s\n", indent, a.ValidFrom, a.ValidUntil)
	for _, s := range a.Scope {
		fmt.Fprintf(w, "%sscope:       %s for %v: %s\n", indent, s.RecordType, s.Purposes, strings.Join(s.Fields, ", "))
		if len(s.Clear) > 0 {
			fmt.Fprintf(w, "%sclear:       %s: %s\n", indent, s.RecordType, strings.Join(s.Clear, ", "))
		}
	}
	for _, q := range a.Quotas {
		fmt.Fprintf(w, "%squota:       %s: at most %d %s\n", indent, q.RecordType, q.Max, quotaPeriod(q.Period))
	}
	for _, ap := range a.Approvals {
		fmt.Fprintf(w, "%sapproved:    %s by %s at %s\n", indent, ap.Province, ap.Admin, ap.At.Format(time.RFC3339))
	}
}

// quotaPeriod says a quota's period as the admin guide does.
func quotaPeriod(p contracts.QuotaPeriod) string {
	if p == contracts.QuotaTotal {
		return "in total"
	}
	return "a " + string(p)
}
