package devfed

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// PrintReady tells a newcomer that the federation is ready, where each node
// listens, where the certificates are, and commands to paste.
func (f *Federation) PrintReady(w io.Writer, took time.Duration) {
	origin, dest := f.Provinces[0], f.Provinces[1]
	fmt.Fprintf(w, "\nThe LaborLink development federation is ready (%s).\n\n", took.Round(10*time.Millisecond))
	fmt.Fprintln(w, "Nodes:")
	for _, p := range f.Provinces {
		ops := ""
		if u := f.OpsURL(p); u != "" {
			ops = "ops " + u + "   "
		}
		fmt.Fprintf(w, "  p%s  %-10s %s   %sconfig %s/p%s/node.yaml\n", p, englishName(p), f.URL(p), ops, f.Dir, p)
	}
	fmt.Fprintf(w, "\nCertificates: %s/pki (root: %s)\n", f.Dir, f.Root)
	fmt.Fprintf(w, "Sample traffic: %d transfers, %d confirmations, 1 wage-arrears referral from %s to %s with %d updates, under agreements %s.\n\n",
		len(f.Traffic.Transfers), len(f.Traffic.Confirmations), dest, origin, len(f.Traffic.Updates), strings.Join(f.Traffic.Agreements, ", "))
	fmt.Fprintln(w, "Try:")
	for _, c := range f.Commands() {
		fmt.Fprintln(w, c)
	}
	fmt.Fprintln(w, "\nPress Ctrl-C to stop.")
}

// Commands are ready-to-paste commands against the running federation.
func (f *Federation) Commands() []string {
	origin, dest := f.Provinces[0], f.Provinces[1]
	flags := func(p string, role string) string {
		c := f.Certs[p]
		leaf := map[string]string{"admin": c.Admin.CertFile, "system": c.System.CertFile, "auditor": c.Auditor.CertFile, "operator": c.Operator.CertFile}[role]
		key := map[string]string{"admin": c.Admin.KeyFile, "system": c.System.KeyFile, "auditor": c.Auditor.KeyFile, "operator": c.Operator.KeyFile}[role]
		return fmt.Sprintf("--node %s --cert %s --key %s --ca %s", f.URL(p), leaf, key, f.Root)
	}
	cmds := []string{
		fmt.Sprintf("laborlink records show %s %s", f.Traffic.TransferRef, flags(origin, "system")),
		fmt.Sprintf("laborlink inbox %s", flags(dest, "system")),
		fmt.Sprintf("laborlink agreement list %s", flags(origin, "admin")),
		fmt.Sprintf("laborlink agreement show %s --history %s", f.Traffic.Agreements[0], flags(dest, "admin")),
		fmt.Sprintf("laborlink audit query --pair %s:%s %s", origin, dest, flags(origin, "auditor")),
		fmt.Sprintf("laborlink status %s", flags(origin, "operator")),
		fmt.Sprintf("laborlink registry status %s", flags(dest, "admin")),
	}
	// The ops listener is plain HTTP and takes no certificate.
	if u := f.OpsURL(origin); u != "" {
		cmds = append(cmds, "curl "+u+"/readyz", "curl "+u+"/metrics")
	}
	return cmds
}

func englishName(p string) string {
	return map[string]string{"51": "Sichuan", "44": "Guangdong", "33": "Zhejiang"}[p]
}
