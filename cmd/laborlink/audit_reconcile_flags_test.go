package main

import (
	"strings"
	"testing"
)

// TestAuditReconcileNamesBadProvinceFlag: a mistyped --a or --b was
// reported as `--node-province "5x" is not a 2-digit province code`, a flag
// the user never passed, or without --a-node sent to the registry first.
// (From a review.)
func TestAuditReconcileNamesBadProvinceFlag(t *testing.T) {
	conn := devConnFlags(t, "auditor-auditor", "https://127.0.0.1:1")
	for _, tt := range []struct {
		flag string
		args []string
	}{
		{`--a "5x"`, []string{"--a", "5x", "--b", "44", "--a-node", "https://127.0.0.1:1", "--b-node", "https://127.0.0.1:2"}},
		{`--b "4"`, []string{"--a", "51", "--b", "4", "--a-node", "https://127.0.0.1:1", "--b-node", "https://127.0.0.1:2"}},
		{`--a "5x"`, []string{"--a", "5x", "--b", "44"}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append(append([]string{"audit", "reconcile"}, tt.args...), conn...)
			code, _, errOut := run(t, "", args...)
			if code != 2 || !strings.Contains(errOut, tt.flag) || strings.Contains(errOut, "--node-province") {
				t.Errorf("exit %d, stderr %q; want exit 2 naming %s", code, errOut, tt.flag)
			}
		})
	}
}

// TestAuditBetweenFlagRefusedBeforeAsking: query, stats and export refuse
// a --between that names one province twice or is not two province codes,
// naming the flag, before any node is asked.
func TestAuditBetweenFlagRefusedBeforeAsking(t *testing.T) {
	conn := devConnFlags(t, "auditor-auditor", "https://127.0.0.1:1")
	for _, sub := range []string{"query", "stats", "export"} {
		for between, want := range map[string]string{
			"51,51": `--between: between "51,51" names province 51 twice`,
			"51:44": `--between: between "51:44": want two province codes separated by a comma`,
		} {
			code, _, errOut := run(t, "", append([]string{"audit", sub, "--between", between}, conn...)...)
			if code != 2 || !strings.Contains(errOut, want) {
				t.Errorf("audit %s --between %s: exit %d, stderr %q; want exit 2 and %q", sub, between, code, errOut, want)
			}
		}
	}
}
