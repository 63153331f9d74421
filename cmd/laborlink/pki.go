package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/laborlink/laborlink/pki"
)

// pkiCommands are the subcommands of "laborlink pki"; the work is in package pki.
func pkiCommands() []command {
	return []command{
		{"init-root", "create the federation root CA (on the offline root machine)", runPKIInitRoot},
		{"csr", "make a province CA key and the request to send to the root operator", runPKICSR},
		{"sign-province", "sign a province CA request, constrained to that province (root operator)", runPKISignProvince},
		{"issue", "issue a node, admin, system, auditor or operator certificate", runPKIIssue},
		{"revoke", "revoke a certificate by serial and republish the CRL", runPKIRevoke},
		{"crl", "republish the signed certificate revocation list", runPKICRL},
		{"status", "show the certificates in a directory, whom they identify and when they expire", runPKIStatus},
	}
}

// runPKI dispatches "laborlink pki <subcommand>".
func runPKI(ctx context.Context, m *Main, args []string) error {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "usage: laborlink pki <subcommand> [flags]\n\nsubcommands:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range pkiCommands() {
			fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
		}
		tw.Flush()
		fmt.Fprintln(w, "\nRun 'laborlink pki <subcommand> -h' for its flags; docs/pki.md explains the procedures.")
	}
	if len(args) == 0 {
		usage(m.Stderr)
		return usageErrorf("a subcommand is required")
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(m.Stderr)
		return flag.ErrHelp
	}
	for _, c := range pkiCommands() {
		if c.name == args[0] {
			return c.run(ctx, m, args[1:])
		}
	}
	return usageErrorf("unknown pki subcommand %q; run 'laborlink pki -h' for the list", args[0])
}

// listFlag collects a repeatable flag; commas also separate values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// parseInterspersed parses flags that may come before or after positional
// arguments ("revoke --ca D SERIAL --reason R") and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		rest := fs.Args()
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// required reports the first empty required flag as a usage error.
func required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if fs.Lookup(n).Value.String() == "" {
			return usageErrorf("--%s is required (see 'laborlink %s -h')", n, strings.TrimPrefix(fs.Name(), "laborlink "))
		}
	}
	return nil
}

// days turns a --days flag into a duration; 0 keeps the default. A number
// of days a time.Duration cannot hold is refused: it would wrap around to
// a validity of minutes, or one already over.
func days(n int) (time.Duration, error) {
	const day = 24 * time.Hour
	if n < 0 {
		return 0, usageErrorf("--days must be positive")
	}
	if n > int(math.MaxInt64/day) {
		return 0, usageErrorf("--days %d is too many: at most %d", n, math.MaxInt64/day)
	}
	return time.Duration(n) * day, nil
}

func runPKIInitRoot(_ context.Context, m *Main, args []string) error {
	fs := m.flagSet("pki init-root", "--dir DIR --federation-domain DOMAIN [--force]")
	dir := fs.String("dir", "", "directory for root.pem and root-key.pem (keep it offline)")
	domain := fs.String("federation-domain", "", "federation domain, e.g. laborlink.example; identities are spiffe://p<province>.<domain>/...")
	nDays := fs.Int("days", 0, "validity in days (default 20 years)")
	force := fs.Bool("force", false, "replace an existing root (every province CA must then be signed again)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	if err := required(fs, "dir", "federation-domain"); err != nil {
		return err
	}
	validity, err := days(*nDays)
	if err != nil {
		return err
	}
	root, err := pki.InitRoot(*dir, pki.RootOptions{Domain: *domain, Validity: validity, Force: *force})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "created federation root CA for %s in %s (expires %s)\n", root.Domain, root.Dir, day(root.Cert.NotAfter))
	fmt.Fprintf(m.Stdout, "give %s to every province; %s never leaves this machine\n", pki.RootCertFile, pki.RootKeyFile)
	return nil
}

func runPKICSR(_ context.Context, m *Main, args []string) error {
	fs := m.flagSet("pki csr", "--province CODE --dir DIR [--force]")
	province := fs.String("province", "", "two-digit GB/T 2260 province code, e.g. 51")
	dir := fs.String("dir", "", "the province CA directory (ca-key.pem stays here)")
	force := fs.Bool("force", false, "replace an existing key and request")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	if err := required(fs, "province", "dir"); err != nil {
		return err
	}
	csrFile, err := pki.NewProvinceCSR(*dir, *province, pki.CSROptions{Force: *force})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "created the province %s CA key and request %s\n", *province, csrFile)
	fmt.Fprintf(m.Stdout, "send %s to the root operator; %s never leaves this machine\n", csrFile, pki.CAKeyFile)
	return nil
}

func runPKISignProvince(_ context.Context, m *Main, args []string) error {
	fs := m.flagSet("pki sign-province", "--root DIR --csr FILE --province CODE [--out DIR] [--permit-ip CIDR]... [--force]")
	rootDir := fs.String("root", "", "the root CA directory")
	csrFile := fs.String("csr", "", "the province's ca.csr")
	province := fs.String("province", "", "the province the request must be for; a request for any other is refused")
	out := fs.String("out", "", "where to write ca.pem and root.pem (default: the directory of the CSR)")
	var ips listFlag
	fs.Var(&ips, "permit-ip", "IP range (CIDR) the province may put in node certificates; repeatable (default: IPs unconstrained)")
	nDays := fs.Int("days", 0, "validity in days (default 5 years, never beyond the root)")
	force := fs.Bool("force", false, "replace ca.pem and root.pem in the output directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	// --province is required: the request names its province, and it is
	// the request's sender who chose that name.
	if err := required(fs, "root", "csr", "province"); err != nil {
		return err
	}
	validity, err := days(*nDays)
	if err != nil {
		return err
	}
	opts := pki.SignProvinceOptions{Province: *province, OutDir: *out, Validity: validity, Force: *force}
	for _, s := range ips {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return usageErrorf("--permit-ip %q: want a CIDR range such as 10.51.0.0/16", s)
		}
		opts.PermittedIPs = append(opts.PermittedIPs, n)
	}
	root, err := pki.OpenRoot(*rootDir)
	if err != nil {
		return err
	}
	res, err := root.SignProvince(*csrFile, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "signed the CA of province %s (%s), serial %s, expires %s\n", res.Province, pki.ProvinceName(res.Province), res.Cert.SerialNumber.Text(16), day(res.Cert.NotAfter))
	fmt.Fprintf(m.Stdout, "it may only issue identities spiffe://%s/... and DNS names under %s\n", pki.ProvinceHost(res.Province, root.Domain), pki.ProvinceHost(res.Province, root.Domain))
	fmt.Fprintf(m.Stdout, "return %s and %s to the province; they go into its CA directory\n", res.CertFile, res.RootFile)
	return nil
}

func runPKIIssue(_ context.Context, m *Main, args []string) error {
	fs := m.flagSet("pki issue", "--ca DIR --kind node|admin|system|auditor|operator --name NAME [--dns HOST]... [--ip ADDR]... [--force]")
	caDir := fs.String("ca", "", "the province CA directory")
	kind := fs.String("kind", "", "node (serves and calls), or a client: admin, system, auditor, operator")
	name := fs.String("name", "", "name within the province and kind, e.g. gw-1")
	province := fs.String("province", "", "the province you mean; refused if it is not the CA's")
	var dnsNames, ipAddrs listFlag
	fs.Var(&dnsNames, "dns", "DNS name of a node, under p<province>.<domain>; repeatable")
	fs.Var(&ipAddrs, "ip", "IP address of a node; repeatable")
	out := fs.String("out", "", "where to write the certificate and key (default: the CA directory)")
	nDays := fs.Int("days", 0, "validity in days (default 365, never beyond the CA)")
	force := fs.Bool("force", false, "replace an existing certificate and key of this kind and name (rotation)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	if err := required(fs, "ca", "kind", "name"); err != nil {
		return err
	}
	k, err := pki.ParseKind(*kind)
	if err != nil {
		return usageErrorf("--kind: %v", err)
	}
	validity, err := days(*nDays)
	if err != nil {
		return err
	}
	req := pki.IssueRequest{Kind: k, Name: *name, Province: *province, DNSNames: dnsNames, OutDir: *out, Validity: validity, Force: *force}
	for _, s := range ipAddrs {
		ip := net.ParseIP(s)
		if ip == nil {
			return usageErrorf("--ip %q is not an IP address", s)
		}
		req.IPAddresses = append(req.IPAddresses, ip)
	}
	ca, err := pki.OpenCA(*caDir)
	if err != nil {
		return err
	}
	leaf, err := ca.Issue(req)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "issued %s\n  serial   %s\n  expires  %s\n  cert     %s\n  key      %s\n"+
		"record the issuance in the federation registry (laborlink registry issued %s) so that it is audited\n",
		leaf.Identity.URI(), leaf.Cert.SerialNumber.Text(16), day(leaf.Cert.NotAfter), leaf.CertFile, leaf.KeyFile, leaf.CertFile)
	return nil
}

func runPKIRevoke(_ context.Context, m *Main, args []string) error {
	fs := m.flagSet("pki revoke", "--ca DIR SERIAL|CERT.pem [--reason REASON] [--force]")
	caDir := fs.String("ca", "", "the CA directory that issued the certificate (a province CA, or the root to revoke a province CA)")
	reason := fs.String("reason", "unspecified", "RFC 5280 reason: keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn, unspecified")
	nDays := fs.Int("days", 0, "validity of the republished CRL in days (default 7)")
	force := fs.Bool("force", false, "revoke a serial this CA has no record of issuing")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("revoke takes one serial (hex, as status prints it) or certificate file, got %d arguments", len(pos))
	}
	if err := required(fs, "ca"); err != nil {
		return err
	}
	validity, err := days(*nDays)
	if err != nil {
		return err
	}
	// The reason is checked here to name its flag, and printed as the
	// CRL spells it, not as typed.
	r, err := pki.ParseReason(*reason)
	if err != nil {
		return usageErrorf("--reason: %v", err)
	}
	opts := pki.RevokeOptions{Reason: r, Force: *force, CRLValidity: validity}
	serial, crlFile, err := revokeArg(*caDir, pos[0], opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "revoked serial %s (%s)\npublished %s: distribute it, and record the revocation in the federation registry\n", serial.Text(16), r, crlFile)
	return nil
}

// revokeArg revokes a serial, or the certificate in a file, which the CA
// must have issued. A name ending .pem, which no serial does, is a file:
// one missing or unreadable is reported as such, not as a bad serial.
func revokeArg(caDir, arg string, opts pki.RevokeOptions) (serial *big.Int, crlFile string, err error) {
	if strings.HasSuffix(arg, ".pem") {
		certs, err := pki.ReadCertificates(arg)
		if err != nil {
			return nil, "", err
		}
		crlFile, err = pki.RevokeCert(caDir, certs[0], opts)
		return certs[0].SerialNumber, crlFile, err
	}
	if serial, err = pki.ParseSerial(arg); err != nil {
		return nil, "", usageErrorf("%v", err)
	}
	crlFile, err = pki.Revoke(caDir, serial, opts)
	return serial, crlFile, err
}

func runPKICRL(_ context.Context, m *Main, args []string) error {
	fs := m.flagSet("pki crl", "--ca DIR [--days N]")
	caDir := fs.String("ca", "", "the CA directory (province CA or root)")
	nDays := fs.Int("days", 0, "validity in days (default 7); republish before it runs out")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	if err := required(fs, "ca"); err != nil {
		return err
	}
	validity, err := days(*nDays)
	if err != nil {
		return err
	}
	crlFile, err := pki.WriteCRL(*caDir, validity)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "published %s\n", crlFile)
	return nil
}

func runPKIStatus(_ context.Context, m *Main, args []string) error {
	fs := m.flagSet("pki status", "--dir DIR")
	dir := fs.String("dir", "", "a root, province CA or node directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	if err := required(fs, "dir"); err != nil {
		return err
	}
	rep, err := pki.Status(*dir, time.Now())
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tROLE\tIDENTIFIES\tSERIAL\tEXPIRES")
	for _, c := range rep.Certs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", base(c.File), c.Role, c.Who, c.Serial, day(c.NotAfter))
	}
	tw.Flush()
	for _, c := range rep.Certs {
		for _, p := range c.Problems {
			fmt.Fprintf(m.Stdout, "WARNING %s: %s\n", base(c.File), p)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(m.Stdout, "WARNING %s\n", n)
	}
	if w := rep.Warnings(); w > 0 {
		fmt.Fprintf(m.Stdout, "%d warning(s)\n", w)
	}
	return nil
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func base(path string) string {
	if i := strings.LastIndexByte(path, os.PathSeparator); i >= 0 {
		return path[i+1:]
	}
	return path
}
