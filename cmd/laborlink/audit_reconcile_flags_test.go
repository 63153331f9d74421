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
