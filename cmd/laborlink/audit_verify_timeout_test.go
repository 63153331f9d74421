package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/audit"
)

// TestAuditVerifyBoundsEachRequestByTimeout: --timeout bounded only the
// head's request; the entries and proofs were read without it, so a node
// that stopped answering held verify for the HTTP client's own minute,
// whatever --timeout said. (From a review.)
func TestAuditVerifyBoundsEachRequestByTimeout(t *testing.T) {
	vkey, headFile, _ := offlineExport(t, 2)
	note, err := os.ReadFile(headFile)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := json.Marshal(audit.Head{Note: note})
	for _, tc := range []struct {
		name  string
		hangs string // the route the node does not answer
		args  []string
	}{
		{"entries", "/api/v1/audit/raw", nil},
		{"consistency proof", "/api/v1/audit/proof", []string{"--earlier", headFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			_, _, conn := fakeAuditNodes(t, func(_ string, w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/api/v1/audit/head":
					w.Header().Set("Content-Type", "application/json")
					w.Write(head)
				case tc.hangs:
					select {
					case <-r.Context().Done():
					case <-release:
					}
				default:
					http.Error(w, "not in this test", http.StatusNotFound)
				}
			})
			t.Cleanup(func() { close(release) }) // before the node closes
			type result struct {
				code        int
				out, errOut string
			}
			done := make(chan result, 1)
			go func() {
				args := append([]string{"audit", "verify", "--verifier", vkey, "--timeout", "300ms"}, tc.args...)
				code, out, errOut := run(t, "", append(args, conn...)...)
				done <- result{code, out, errOut}
			}()
			select {
			case r := <-done:
				if r.code != 1 || !strings.Contains(r.errOut, "context deadline exceeded") {
					t.Errorf("exit %d, stdout %q, stderr %q; want 1 and the deadline of --timeout", r.code, r.out, r.errOut)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("verify still waiting on %s after 20s with --timeout 300ms", tc.hangs)
			}
		})
	}
}
