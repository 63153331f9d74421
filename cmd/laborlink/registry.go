package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/node"
	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/durable"
)

// registryCommands are the subcommands of `laborlink registry`.
func registryCommands() []command {
	return []command{
		{"status", "show a node's view of the registry: leader, servers, freshness", runRegistryStatus},
		{"members", "list the member provinces", runRegistryMembers},
		{"levels", "ask every node which registry commands its release knows (its command level), as before an upgrade's new commands", runRegistryLevels},
		{"admit", "admit a member province with its CA certificates, or register them again after a CA rotation (steward admin)", runRegistryAdmit},
		{"expel", "remove a member province that has left: its nodes removed, its agreements terminated; its CA is retired for good (steward admin)", runRegistryExpel},
		{"join", "ask a node to join the registry through seed nodes", runRegistryJoin},
		{"revoke", "record a certificate's revocation, so every node refuses it (admin of its province)", runRegistryRevoke},
		{"issued", "record a certificate its province's CA issued, so every node's audit log shows it (admin of its province)", runRegistryIssued},
		{"promote", "make a non-voter node a voter (steward admin)", nodeRole(registry.OpNodePromote)},
		{"demote", "make a voter node a non-voter", nodeRole(registry.OpNodeDemote)},
		{"remove", "remove a node from the registry", nodeRole(registry.OpNodeRemove)},
		{"transfer-leadership", "hand raft leadership to another voter, before maintenance of the leader (steward admin)", runRegistryTransfer},
		{"backup", "write a consistent backup of the whole registry to FILE", runRegistryBackup},
		{"restore", "replace the registry's state with a backup FILE (disaster recovery)", runRegistryRestore},
	}
}

func runRegistryTransfer(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("registry transfer-leadership", "[--to NODE_ID] [connection flags]")
	c := m.registryConnFlags(fs)
	to := fs.String("to", "", "the voter to lead next, e.g. p44/node/gw-1 (default: the most up-to-date voter)")
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	cl, cctx, cancel, err := c.dialRegistry(ctx, false)
	if err != nil {
		return err
	}
	defer cancel()
	st, err := cl.TransferLeadership(cctx, *to)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "leadership handed over by %s (term %d); the new leader is elected in a moment\n", st.ID, st.Term)
	return nil
}

func runRegistry(ctx context.Context, m *Main, args []string) error {
	return runGroup(ctx, m, "registry", registryCommands(), args)
}

// runGroup dispatches to one subcommand of a group such as `registry`.
func runGroup(ctx context.Context, m *Main, group string, cmds []command, args []string) error {
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: laborlink %s <subcommand> [flags]\n\nsubcommands:\n", group)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range cmds {
			fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
		}
		tw.Flush()
		// Not every one does: policy test and audit verify --file work offline.
		fmt.Fprintf(w, "\nA subcommand that reaches a node does so over mutual TLS: --node, --cert, --key and --ca\n(or LABORLINK_NODE, LABORLINK_CERT, LABORLINK_KEY, LABORLINK_CA); see docs/configuration.md,\n\"Command-line tools\". 'laborlink %s <subcommand> -h' lists its flags.\n", group)
	}
	if len(args) == 0 {
		usage(m.Stderr)
		return usageErrorf("a subcommand is required")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(m.Stderr)
		return flag.ErrHelp
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(ctx, m, args[1:])
		}
	}
	return usageErrorf("unknown %s subcommand %q; run 'laborlink %s -h' for the list", group, args[0], group)
}

// conn holds the flags every registry and agreement command shares.
type conn struct {
	node, cert, key, ca *string
	crls                *listFlag
	nodeProvince        *string
	timeout             *time.Duration
}

// connFlagNames are the flags connFlags defines, in the order fs.Visit
// lists them, for commands that refuse them where no node is asked.
var connFlagNames = []string{"ca", "cert", "crl", "key", "node", "node-province", "timeout"}

// connFlags are the connection flags of a command that reads a node's own
// data through its local API: registryConnFlags and --node-province.
func (m *Main) connFlags(fs *flag.FlagSet) *conn {
	c := m.registryConnFlags(fs)
	c.nodeProvince = fs.String("node-province", "", "for the local API: the province whose node --node is; the default, your certificate's province, refuses a node of another (auditors reading another province's node name it)")
	return c
}

// registryConnFlags are the connection flags of a command that any node of
// the federation answers, through the registry API. They leave out
// --node-province: no node's province is checked there, and a flag the
// command's help listed would be taken for one that is.
func (m *Main) registryConnFlags(fs *flag.FlagSet) *conn {
	env := m.getenv
	return &conn{
		node:         fs.String("node", env(envNode), "node API, https://host:port (env "+envNode+")"),
		cert:         fs.String("cert", env(envCert), "your certificate file, e.g. admin-zhang.pem (env "+envCert+")"),
		key:          fs.String("key", env(envKey), "your private key file; it signs locally and never leaves this machine (env "+envKey+")"),
		ca:           fs.String("ca", env(envCA), "federation root certificate, root.pem (env "+envCA+")"),
		crls:         crlFlag(fs, env(envCRLs)),
		nodeProvince: new(string),
		timeout:      fs.Duration("timeout", 30*time.Second, "how long to wait for the node"),
	}
}

// tls builds the caller's mutual-TLS identity from the flags.
func (c *conn) tls() (*pki.TLS, error) {
	// Each missing flag is named with its variable, which gives it as
	// well, and with what it stands for: the flags a command takes are not
	// what a newcomer has in mind.
	var missing []string
	for _, f := range []struct{ flag, env, what, v string }{
		{"--node", envNode, "the node to talk to", *c.node},
		{"--cert", envCert, "your certificate", *c.cert},
		{"--key", envKey, "your private key", *c.key},
		{"--ca", envCA, "the federation root", *c.ca},
	} {
		if f.v == "" {
			missing = append(missing, fmt.Sprintf("%s (or %s), %s", f.flag, f.env, f.what))
		}
	}
	if len(missing) > 0 {
		return nil, usageErrorf("missing %s", strings.Join(missing, "; "))
	}
	if u, err := url.Parse(*c.node); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, usageErrorf("--node %q is not a node API address; want https://host:port", *c.node)
	}
	if *c.timeout <= 0 {
		return nil, usageErrorf("--timeout %s: want a positive duration such as 30s", *c.timeout)
	}
	// Each file is named by the flag that gave it (or its variable), as
	// the loaders below know only "certificate", "key" and "root".
	for _, f := range []struct{ flag, env, path string }{{"--cert", envCert, *c.cert}, {"--key", envKey, *c.key}, {"--ca", envCA, *c.ca}} {
		if _, err := os.Stat(f.path); err != nil {
			return nil, fmt.Errorf("%s (or %s): %w", f.flag, f.env, err)
		}
	}
	kp, err := pki.LoadKeyPair(*c.cert, *c.key)
	if err != nil {
		return nil, fmt.Errorf("--cert and --key: %w", err)
	}
	roots, err := pki.ReadCertPool(*c.ca)
	if err != nil {
		return nil, fmt.Errorf("--ca, the federation root: %w", err)
	}
	v := &pki.Verifier{Roots: roots}
	if len(*c.crls) > 0 {
		if v.Revocation, err = c.revocations(kp); err != nil {
			return nil, err
		}
	}
	return &pki.TLS{KeyPair: kp, Verifier: v}, nil
}

// crlFlag is --crl, repeatable, its default the comma-separated files of
// env.
func crlFlag(fs *flag.FlagSet, env string) *listFlag {
	l := new(listFlag)
	l.Set(env)
	fs.Var(l, "crl", "a CRL the node's certificate must not be in (its province CA's crl.pem, or the root's); repeatable (env "+envCRLs+", comma-separated)")
	return l
}

// revocations reads the --crl files, each signed by the federation root
// or a CA of the caller's own chain: the node a command reaches is then
// refused if its certificate, or its CA, is revoked. Without them the
// command trusts any node certificate the root vouches for, one revoked
// after a theft of its key included.
func (c *conn) revocations(kp *pki.KeyPair) (*pki.RevocationList, error) {
	cert, err := kp.Certificate()
	if err != nil {
		return nil, err
	}
	issuers, err := pki.ReadCertificates(*c.ca)
	if err != nil {
		return nil, fmt.Errorf("--ca, the federation root: %w", err)
	}
	issuers = append(issuers, pki.ChainCAs(cert)...)
	list := pki.NewRevocationList()
	for _, path := range *c.crls {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--crl (or %s): %w", envCRLs, err)
		}
		if err := list.AddCRLFrom(data, issuers); errors.Is(err, pki.ErrCRLSigner) {
			return nil, fmt.Errorf("--crl %s: %w (the federation root and your certificate's chain): give your province CA's crl.pem or the root's", path, err)
		} else if err != nil {
			return nil, fmt.Errorf("--crl %s: %w", path, err)
		}
	}
	return list, nil
}

// client builds a registry client from the flags; sign also loads the key
// as a signer.
func (c *conn) client(sign bool) (*registry.Client, error) {
	t, err := c.tls()
	if err != nil {
		return nil, err
	}
	var s *pki.Signer
	if sign {
		if s, err = pki.LoadSigner(*c.cert, *c.key); err != nil {
			return nil, err
		}
	}
	return registry.NewClient(*c.node, t, s)
}

// apiClient builds a local-API client from the flags, which accepts only a
// node of --node-province, by default the caller's own: what a system
// submits holds personal data, and a mistyped --node must not send it to
// another province's node.
func (c *conn) apiClient() (*api.Client, error) {
	t, err := c.tls()
	if err != nil {
		return nil, err
	}
	province := *c.nodeProvince
	if province == "" {
		cert, err := t.KeyPair.Certificate()
		if err != nil {
			return nil, err
		}
		id, err := pki.IdentityFromCert(cert.Leaf)
		if err != nil {
			return nil, fmt.Errorf("--cert %s: %w", *c.cert, err)
		}
		province = id.Province
	} else if !pki.ValidProvince(province) {
		return nil, usageErrorf("--node-province %q is not a 2-digit province code", province)
	}
	return api.NewClient(*c.node, t, province, nodeProvinceHint(t.Verifier, *c.nodeProvince != ""))
}

// dialRegistry is a registry client from the flags and a context bounded by
// --timeout; the caller defers cancel.
func (c *conn) dialRegistry(parent context.Context, sign bool) (*registry.Client, context.Context, context.CancelFunc, error) {
	cl, err := c.client(sign)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := c.ctx(parent)
	return cl, ctx, cancel, nil
}

// dialAPI is a local-API client from the flags and a context bounded by
// --timeout; the caller defers cancel.
func (c *conn) dialAPI(parent context.Context) (*api.Client, context.Context, context.CancelFunc, error) {
	cl, err := c.apiClient()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := c.ctx(parent)
	return cl, ctx, cancel, nil
}

func (c *conn) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, *c.timeout)
}

// positional parses the flags and requires exactly n positional arguments.
func positional(fs *flag.FlagSet, args []string, n int, what string) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pos) > n:
		return nil, usageErrorf("unexpected argument %q: want %s", pos[n], what)
	case len(pos) < n:
		return nil, usageErrorf("missing argument: want %s", what)
	}
	return pos, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// freshness is the line every local read ends with.
func freshness(f registry.Freshness) string {
	switch {
	case f.Leader:
		return fmt.Sprintf("read from the leader at index %d", f.AppliedIndex)
	case f.Stale && f.LastContact.IsZero():
		return fmt.Sprintf("STALE: read at index %d from a node that has never reached the leader", f.AppliedIndex)
	case f.Stale:
		return fmt.Sprintf("STALE: read at index %d from a node cut off from the leader for %s", f.AppliedIndex, time.Duration(f.SinceContact).Round(time.Millisecond))
	}
	return fmt.Sprintf("read at index %d, leader last heard %s ago", f.AppliedIndex, time.Duration(f.SinceContact).Round(time.Millisecond))
}

// readRegistry runs a command that reads from the registry: connection
// flags, --json and the command's own flags (extra, if set), one read,
// then JSON or the command's text.
func readRegistry[T any](ctx context.Context, m *Main, name, usage string, args []string, extra func(*flag.FlagSet), read func(*registry.Client, context.Context) (T, error), text func(T)) error {
	fs := m.flagSet("registry "+name, usage)
	c := m.registryConnFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if extra != nil {
		extra(fs)
	}
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	cl, ctx, cancel, err := c.dialRegistry(ctx, false)
	if err != nil {
		return err
	}
	defer cancel()
	v, err := read(cl, ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(m.Stdout, v)
	}
	text(v)
	return nil
}

func runRegistryStatus(ctx context.Context, m *Main, args []string) error {
	return readRegistry(ctx, m, "status", "[--json] [connection flags]", args, nil, (*registry.Client).Status, func(st *registry.Status) { printRegistryStatus(m, st) })
}

func printRegistryStatus(m *Main, st *registry.Status) {
	fmt.Fprintf(m.Stdout, "node %s: %s, term %d, federation %s\n", st.ID, strings.ToLower(st.State), st.Term, st.Domain)
	fmt.Fprintf(m.Stdout, "leader: %s %s\n", orNone(st.LeaderID), st.LeaderAddr)
	fmt.Fprintf(m.Stdout, "%d members, %d agreements, policy version %d, commit index %d\n", st.Members, st.Agreements, st.Policy, st.CommitIndex)
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tADDRESS\tROLE")
	for _, s := range st.Servers {
		role := "non-voter"
		if s.Voter {
			role = "voter"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ID, s.Address, role)
	}
	tw.Flush()
	fmt.Fprintln(m.Stdout, freshness(st.Freshness))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func runRegistryMembers(ctx context.Context, m *Main, args []string) error {
	var consistent *bool
	flags := func(fs *flag.FlagSet) {
		consistent = fs.Bool("consistent", false, "read through the leader (linearizable), e.g. right after a change made on another node")
	}
	read := func(cl *registry.Client, ctx context.Context) (*registry.Read[[]registry.Member], error) {
		return cl.Members(ctx, *consistent)
	}
	return readRegistry(ctx, m, "members", "[--consistent] [--json] [connection flags]", args, flags, read, func(r *registry.Read[[]registry.Member]) {
		tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PROVINCE\tNAME\tSINCE")
		for _, mem := range r.Data {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", mem.Province, mem.Name, mem.AddedAt.Format(time.DateOnly))
		}
		tw.Flush()
		fmt.Fprintln(m.Stdout, freshness(r.Freshness))
	})
}

// runRegistryLevels lists each node's command level against this release's,
// so an admin sees which nodes an upgrade still has to reach before a
// command the new release adds is accepted.
func runRegistryLevels(ctx context.Context, m *Main, args []string) error {
	return readRegistry(ctx, m, "levels", "[--json] [connection flags]", args, nil, (*registry.Client).Levels, func(levels []registry.NodeLevel) { printLevels(m, levels) })
}

func printLevels(m *Main, levels []registry.NodeLevel) {
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tLEVEL\t")
	behind := 0
	for _, l := range levels {
		note := ""
		switch {
		case l.Problem != "":
			note, behind = l.Problem, behind+1
		case l.Level < registry.CommandLevel:
			note, behind = "behind this release", behind+1
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", l.ID, l.Level, note)
	}
	tw.Flush()
	if behind == 0 {
		fmt.Fprintf(m.Stdout, "every node knows the commands of this release (command level %d)\n", registry.CommandLevel)
	} else {
		fmt.Fprintf(m.Stdout, "%d of %d nodes behind this release's command level %d or not answering: the commands it adds are refused until they are upgraded\n", behind, len(levels), registry.CommandLevel)
	}
}

func runRegistryJoin(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("registry join", "--seed HOST:PORT [--seed ...] [connection flags]")
	c := m.registryConnFlags(fs)
	var seeds listFlag
	fs.Var(&seeds, "seed", "API address (host:port) of a node already in the registry; repeat for more")
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if len(seeds) == 0 {
		return usageErrorf("--seed is required: a node already in the registry")
	}
	for _, s := range seeds {
		if problem := node.CheckAddr(s, true); problem != "" {
			return usageErrorf("--seed %s; want the API address (host:port) of a node already in the registry", problem)
		}
	}
	cl, ctx, cancel, err := c.dialRegistry(ctx, false)
	if err != nil {
		return err
	}
	defer cancel()
	st, err := cl.Join(ctx, seeds...)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "node %s joined the registry as a non-voter; %s\n", st.ID, freshness(st.Freshness))
	return nil
}

func runRegistryAdmit(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("registry admit", "--province 32 --ca-cert FILE [--name NAME] [connection flags]")
	c := m.registryConnFlags(fs)
	province := fs.String("province", "", "the new member's 2-digit province code")
	caCert := fs.String("ca-cert", "", "the province CA certificates the root signed (ca.pem from sign-province; during a CA rotation, old and new in one file; a province coming back after expel needs a new CA)")
	name := fs.String("name", "", "the province's name (default: its name in GB/T 2260)")
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if *province == "" {
		return usageErrorf("--province is required: the new member's 2-digit province code")
	}
	if !pki.ValidProvince(*province) {
		return usageErrorf("--province %q is not a 2-digit province code", *province)
	}
	if *caCert == "" {
		return usageErrorf("--ca-cert is required: the province's CA certificate, signed by the federation root")
	}
	pem, err := os.ReadFile(*caCert)
	if err != nil {
		return fmt.Errorf("--ca-cert: %w", err)
	}
	if _, err := pki.ParseCertificates("--ca-cert "+*caCert, pem); err != nil {
		return err
	}
	if *name == "" {
		*name = pki.ProvinceName(*province)
	}
	cl, ctx, cancel, err := c.dialRegistry(ctx, true)
	if err != nil {
		return err
	}
	defer cancel()
	res, err := cl.Submit(ctx, registry.OpMemberAdd, registry.MemberSpec{Province: *province, Name: *name, CACerts: pem})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "province %s (%s) admitted at index %d; its nodes may now join\n", *province, *name, res.Index)
	return nil
}

func runRegistryExpel(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("registry expel", "--province 32 [connection flags]")
	c := m.registryConnFlags(fs)
	province := fs.String("province", "", "the 2-digit code of the member province to remove")
	if _, err := positional(fs, args, 0, "no arguments"); err != nil {
		return err
	}
	if *province == "" {
		return usageErrorf("--province is required: the member province to remove")
	}
	if !pki.ValidProvince(*province) {
		return usageErrorf("--province %q is not a 2-digit province code", *province)
	}
	cl, ctx, cancel, err := c.dialRegistry(ctx, true)
	if err != nil {
		return err
	}
	defer cancel()
	res, err := cl.Submit(ctx, registry.OpMemberExpel, registry.MemberRef{Province: *province})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "province %s (%s) removed from the federation at index %d; its certificates no longer sign registry commands, and its CA is retired: to come back it needs a new CA\n", *province, pki.ProvinceName(*province), res.Index)
	return nil
}

func runRegistryRevoke(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("registry revoke", "SERIAL|CERT-FILE --province P [--reason R] [connection flags]")
	c := m.registryConnFlags(fs)
	province := fs.String("province", "", "the province whose CA issued the certificate, or of a province CA's (default, and with CERT-FILE it must agree: the file's)")
	reason := fs.String("reason", "unspecified", "why: keyCompromise, superseded, cessationOfOperation, ...")
	pos, err := positional(fs, args, 1, "a serial number (hex) or a certificate file")
	if err != nil {
		return err
	}
	serial, err := pki.ParseSerial(pos[0])
	if err != nil {
		certs, err := pki.ReadCertificates(pos[0])
		if err != nil {
			return usageErrorf("%q is neither a hex serial nor a readable certificate file", pos[0])
		}
		serial = certs[0].SerialNumber
		// The registry keys a revocation by the province of the
		// certificate itself (a province CA's by the province it is
		// constrained to), which nodes look it up by: under any other,
		// the command would revoke nothing and say it was done.
		switch of := pki.CertProvince(certs[0]); {
		case of == "" && *province == "":
			return usageErrorf("%s names no province (not a LaborLink node, client or province CA certificate): give --province", pos[0])
		case of == "":
		case *province == "":
			*province = of
		case *province != of:
			return usageErrorf("--province %s, but %s is a certificate of province %s: the registry refuses a certificate by its own province, and under %s would revoke nothing", *province, pos[0], of, *province)
		}
	}
	if *province == "" {
		return usageErrorf("--province is required with a serial: the province whose CA issued the certificate")
	}
	if !pki.ValidProvince(*province) {
		return usageErrorf("--province %q is not a 2-digit province code", *province)
	}
	r, err := pki.ParseReason(*reason)
	if err != nil {
		return usageErrorf("--reason: %v", err)
	}
	cl, ctx, cancel, err := c.dialRegistry(ctx, true)
	if err != nil {
		return err
	}
	defer cancel()
	res, err := cl.Submit(ctx, registry.OpCertRevoke, registry.RevokeBody{Serial: serial.Text(16), Province: *province, Reason: r})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "serial %s of province %s revoked in the registry at index %d; every node refuses it from now on\n", serial.Text(16), *province, res.Index)
	return nil
}

func runRegistryIssued(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("registry issued", "CERT-FILE [connection flags]")
	c := m.registryConnFlags(fs)
	pos, err := positional(fs, args, 1, "the issued certificate's file")
	if err != nil {
		return err
	}
	certs, err := pki.ReadCertificates(pos[0])
	if err != nil {
		return usageErrorf("%v", err)
	}
	cert := certs[0]
	id, err := pki.IdentityFromCert(cert)
	if err != nil {
		return usageErrorf("%s: %v", pos[0], err)
	}
	cl, ctx, cancel, err := c.dialRegistry(ctx, true)
	if err != nil {
		return err
	}
	defer cancel()
	body := registry.IssuedBody{Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}
	res, err := cl.Submit(ctx, registry.OpCertIssued, body)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "issuance of serial %s (%s) recorded in the registry at index %d; the nodes' audit logs show it\n",
		cert.SerialNumber.Text(16), id.Kind, res.Index)
	return nil
}

func nodeRole(op registry.Op) func(context.Context, *Main, []string) error {
	name := strings.TrimPrefix(string(op), "node.")
	return func(ctx context.Context, m *Main, args []string) error {
		fs := m.flagSet("registry "+name, "NODE-ID [connection flags]")
		c := m.registryConnFlags(fs)
		pos, err := positional(fs, args, 1, "a node id such as p51/node/gw-1")
		if err != nil {
			return err
		}
		cl, err := c.client(true)
		if err != nil {
			return err
		}
		ctx, cancel := c.ctx(ctx)
		defer cancel()
		res, err := cl.Submit(ctx, op, registry.NodeRef{ID: pos[0]})
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "%s: %sd at index %d\n", pos[0], name, res.Index)
		return nil
	}
}

func runRegistryBackup(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("registry backup", "FILE [--force] [connection flags]\n\nFILE - writes the backup to standard output.")
	force := fs.Bool("force", false, "replace FILE if it exists")
	c := m.registryConnFlags(fs)
	pos, err := positional(fs, args, 1, "the backup FILE to write")
	if err != nil {
		return err
	}
	// A backup is what replication cannot undo: the last one may be the
	// only copy from before a wrong command.
	if _, err := os.Lstat(pos[0]); err == nil && pos[0] != "-" && !*force {
		return usageErrorf("%s exists: give another FILE, or --force to replace it", pos[0])
	}
	cl, ctx, cancel, err := c.dialRegistry(ctx, false)
	if err != nil {
		return err
	}
	defer cancel()
	if pos[0] == "-" {
		if err := cl.Backup(ctx, m.Stdout); err != nil {
			return fmt.Errorf("backup to standard output: %w", err)
		}
		fmt.Fprintln(m.Stderr, "registry backed up to standard output")
		return nil
	}
	// Without --force, a file made since the check above is not replaced
	// either. "backed up" is said once the backup and its name are on disk.
	policy := durable.Exclusive
	if *force {
		policy = durable.Replace
	}
	if err := durable.Stream(pos[0], 0o600, policy, func(w io.Writer) error { return cl.Backup(ctx, w) }); err != nil {
		return fmt.Errorf("backup to %s: %w", pos[0], err)
	}
	fmt.Fprintf(m.Stdout, "registry backed up to %s\n", pos[0])
	return nil
}

func runRegistryRestore(ctx context.Context, m *Main, args []string) error {
	fs := m.flagSet("registry restore", "FILE [connection flags]\n\nFILE - reads the backup from standard input, as backup - writes it.")
	c := m.registryConnFlags(fs)
	pos, err := positional(fs, args, 1, "the backup FILE to restore")
	if err != nil {
		return err
	}
	from, src := pos[0], m.Stdin
	if from == "-" {
		from = "standard input"
	} else {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		defer f.Close()
		src = f
	}
	cl, ctx, cancel, err := c.dialRegistry(ctx, false)
	if err != nil {
		return err
	}
	defer cancel()
	if err := cl.Restore(ctx, src); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("restore %s: the registry did not answer within %s", from, *c.timeout)
		}
		return fmt.Errorf("restore %s: %w", from, err)
	}
	fmt.Fprintf(m.Stdout, "registry restored from %s\n", from)
	return nil
}
