package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeAuditNodes starts a node of each of provinces 51 and 44 that answers
// every request with answer(province, w, r), and returns their addresses
// and the connection flags of 51's auditor.
func fakeAuditNodes(t *testing.T, answer func(province string, w http.ResponseWriter, r *http.Request)) (a, b string, conn []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fed")
	if code, _, errOut := run(t, "", "dev", "--init-only", "--dir", dir, "--node", "51=a", "--node", "44=b", "--node", "33=c"); code != 0 {
		t.Fatalf("dev --init-only: exit %d: %s", code, errOut)
	}
	node := func(p string) string {
		t.Helper()
		return fakeNode(t, dir, p, func(w http.ResponseWriter, r *http.Request) { answer(p, w, r) })
	}
	a, b = node("51"), node("44")
	pk := filepath.Join(dir, "pki", "p51")
	conn = []string{"--node", a, "--cert", filepath.Join(pk, "auditor-auditor.pem"), "--key", filepath.Join(pk, "auditor-auditor-key.pem"),
		"--ca", filepath.Join(dir, "pki", "root", "root.pem")}
	return a, b, conn
}

// TestAuditReconcileAsksForItsWindow: `audit reconcile --a 51 --b 44`
// asks each node for the pair's entries within --from and --to, widened
// by a day as --with reads them, not for the pair's whole history, which
// on a busy pair is over the node's query limit whatever the window.
// (From a review.) It asks once, for both directions (between=51,44): two
// queries, one a direction, each had the limit to itself, as --with's one
// query does not.
func TestAuditReconcileAsksForItsWindow(t *testing.T) {
	var mu sync.Mutex
	asked := map[string][]url.Values{} // province: the queries its node was sent
	a, b, conn := fakeAuditNodes(t, func(p string, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked[p] = append(asked[p], r.URL.Query())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"entries":[]}`)
	})
	for _, tc := range []struct {
		name     string
		window   []string
		from, to string // what each node is asked for; "" for no bound
	}{
		{"both bounds", []string{"--from", "2026-03-01", "--to", "2026-03-02"}, "2026-02-28T00:00:00+08:00", "2026-03-03T00:00:00+08:00"},
		{"from only", []string{"--from", "2026-03-01T08:00:00Z"}, "2026-02-28T08:00:00Z", ""},
		{"no window", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			clear(asked)
			mu.Unlock()
			args := append([]string{"audit", "reconcile", "--a", "51", "--b", "44", "--a-node", a, "--b-node", b}, tc.window...)
			if code, out, errOut := run(t, "", append(args, conn...)...); code != 0 {
				t.Fatalf("exit %d: %s%s", code, out, errOut)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, p := range []string{"51", "44"} {
				if len(asked[p]) != 1 {
					t.Errorf("%s's node was asked %d times %v; want one query for both directions", p, len(asked[p]), asked[p])
					continue
				}
				q := asked[p][0]
				if q.Get("from") != tc.from || q.Get("to") != tc.to || q.Has("from") != (tc.from != "") || q.Has("to") != (tc.to != "") {
					t.Errorf("%s's node asked for %v; want from %q and to %q, the window widened by a day", p, q, tc.from, tc.to)
				}
				if q.Get("between") != "51,44" || q.Has("pair") {
					t.Errorf("%s's node asked for %v; want between=51,44 and no pair", p, q)
				}
			}
		})
	}
}

// TestAuditReconcileOverTheQueryLimitFails: a node that has more of the
// pair's entries in the window than one query returns refuses the query
// (400, audit.ErrTooManyEntries); the reconciliation fails saying so and
// naming the province, and prints no "ok" over the entries the other node
// sent.
func TestAuditReconcileOverTheQueryLimitFails(t *testing.T) {
	const tooMany = "too many entries: more than 100000 match; narrow the window with from and to, or export it"
	a, b, conn := fakeAuditNodes(t, func(p string, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if p == "44" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"`+tooMany+`","code":"invalid"}`)
			return
		}
		io.WriteString(w, `{"entries":[]}`)
	})
	args := []string{"audit", "reconcile", "--a", "51", "--b", "44", "--a-node", a, "--b-node", b, "--from", "2026-03-01"}
	code, out, errOut := run(t, "", append(args, conn...)...)
	if code != 1 || strings.Contains(out, "ok") || !strings.Contains(errOut, "audit log of 44") || !strings.Contains(errOut, tooMany) {
		t.Errorf("exit %d\nstdout %q\nstderr %q\nwant exit 1, no ok, and the node's refusal for province 44", code, out, errOut)
	}
}

// fakeNode serves h over TLS as province p's node of the federation
// `dev --init-only` made in dir, for the CLI to dial; it returns its URL.
func fakeNode(t *testing.T, dir, p string, h http.HandlerFunc) string {
	t.Helper()
	tlsDir := filepath.Join(dir, "p"+p, "tls")
	kp, err := tls.LoadX509KeyPair(filepath.Join(tlsDir, "node-gw-1.pem"), filepath.Join(tlsDir, "node-gw-1-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS13, ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestAuditReconcileReadsAnEarlierNodeEachWay: a node of the release
// before between refuses it (400, unknown query parameter); during an
// upgrade, node by node, the reconciliation still reads that node, with
// one query a direction.
func TestAuditReconcileReadsAnEarlierNodeEachWay(t *testing.T) {
	var mu sync.Mutex
	var asked []url.Values // the earlier node's queries
	a, b, conn := fakeAuditNodes(t, func(p string, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if p == "44" {
			mu.Lock()
			asked = append(asked, r.URL.Query())
			mu.Unlock()
			if r.URL.Query().Has("between") {
				w.WriteHeader(http.StatusBadRequest)
				// The words of that release (68bf45c), as JSON.
				io.WriteString(w, `{"error":"unknown query parameter \"between\"; this route takes from, to, pair, agreement, kind, type, decision","code":"invalid"}`)
				return
			}
		}
		io.WriteString(w, `{"entries":[]}`)
	})
	args := []string{"audit", "reconcile", "--a", "51", "--b", "44", "--a-node", a, "--b-node", b, "--from", "2026-03-01"}
	if code, out, errOut := run(t, "", append(args, conn...)...); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	var pairs []string
	for _, q := range asked {
		if q.Has("pair") && q.Get("from") != "" {
			pairs = append(pairs, q.Get("pair"))
		}
	}
	if len(asked) != 3 || !slices.Equal(pairs, []string{"51:44", "44:51"}) {
		t.Errorf("the earlier node was asked %v; want between, then each direction within the window", asked)
	}
}
