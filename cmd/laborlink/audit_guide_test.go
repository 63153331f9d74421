package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestAuditorGuideReferenceListsEveryAuditFlag: the command reference of
// docs/auditor-guide.md lists, for each `audit` subcommand, every flag
// `-h` shows but the connection flags (a paragraph covers those) and the
// filters (written [filters]), which its "filters:" line lists. It listed
// verify without --file and --head, and the guide said offline
// verification had no command. (From a review.)
func TestAuditorGuideReferenceListsEveryAuditFlag(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "auditor-guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	guide := string(b)
	if strings.Contains(guide, "There is no command for that yet") {
		t.Error("the guide says offline verification has no command; `audit verify --file EXPORT --head HEAD` is one")
	}
	_, ref, ok := strings.Cut(guide, "## Command reference")
	if !ok {
		t.Fatal("the guide has no command reference")
	}
	common := []string{"node", "cert", "key", "ca", "crl", "node-province", "timeout"}
	// The filters are the flags addFilterFlags adds, each of which the
	// reference's "filters:" line lists.
	var filters []string
	fs := flag.NewFlagSet("filters", flag.ContinueOnError)
	addFilterFlags(fs)
	fs.VisitAll(func(f *flag.Flag) { filters = append(filters, f.Name) })
	_, filterLine, _ := strings.Cut(ref, "\nfilters:")
	filterLine, _, _ = strings.Cut(filterLine, "\n")
	for _, name := range filters {
		if !regexp.MustCompile(`--` + regexp.QuoteMeta(name) + `([^a-z-]|$)`).MatchString(filterLine) {
			t.Errorf("the command reference's filters line lists no --%s", name)
		}
	}
	flagRE := regexp.MustCompile(`(?m)^  -([a-z-]+)`)
	for _, c := range auditCommands() {
		code, out, errOut := run(t, "", "audit", c.name, "-h")
		if code != 0 {
			t.Fatalf("audit %s -h: exit %d: %s", c.name, code, errOut)
		}
		var lines []string // the reference's lines for this subcommand
		for _, line := range strings.Split(ref, "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[0] == "laborlink" && f[1] == "audit" && f[2] == c.name {
				lines = append(lines, line)
			}
		}
		usage := strings.Join(lines, "\n")
		if usage == "" {
			t.Errorf("the command reference has no line for audit %s", c.name)
			continue
		}
		for _, m := range flagRE.FindAllStringSubmatch(out+errOut, -1) {
			name := m[1]
			if slices.Contains(common, name) || slices.Contains(filters, name) && strings.Contains(usage, "[filters]") {
				continue
			}
			if !regexp.MustCompile(`--` + regexp.QuoteMeta(name) + `([^a-z-]|$)`).MatchString(usage) {
				t.Errorf("the command reference lists audit %s without --%s", c.name, name)
			}
		}
	}
}
