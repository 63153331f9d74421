package node

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// send sends one request to the node's local API as the client hc and
// returns the status and the body of the answer.
func send(t *testing.T, n *Node, hc *http.Client, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "https://"+n.Addr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", method, path, err)
	}
	return resp.StatusCode, data
}

// callAPI sends one request to the node's local API as a caller of kind
// and returns the status and the error body, if any.
func callAPI(t *testing.T, n *Node, hc *http.Client, method, path, body string) (int, api.ErrorBody) {
	t.Helper()
	status, data := send(t, n, hc, method, path, body)
	var eb api.ErrorBody
	if status >= 300 {
		if err := json.Unmarshal(data, &eb); err != nil {
			t.Fatalf("%s %s: %d with a body that is not an error: %q", method, path, status, data)
		}
	}
	return status, eb
}

type badInput struct {
	method, path, body string
	// names is what the error must mention: the parameter at fault.
	names string
}

func checkRefused(t *testing.T, n *Node, hc *http.Client, tests []badInput) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, eb := callAPI(t, n, hc, tt.method, tt.path, tt.body)
			if status != http.StatusBadRequest || eb.Code != "invalid" || !strings.Contains(eb.Error, tt.names) {
				t.Errorf("%d %+v; want 400 invalid naming %q", status, eb, tt.names)
			}
		})
	}
}

// TestAuditProofOutOfRangeIsTheCallersToFix: a proof asked for positions
// or sizes the log does not have is the caller's mistake, answered 400 with
// the parameter at fault, not a 500 "internal".
func TestAuditProofOutOfRangeIsTheCallersToFix(t *testing.T) {
	n, p := singleNode(t)
	flows(t, n, 2)
	size := n.audit.Size()
	hc := p.Client(p.Issue("51", pki.KindAuditor, "li"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	beyond := strconv.FormatInt(size+10, 10)
	checkRefused(t, n, hc, []badInput{
		{"GET", "/api/v1/audit/proof?size=" + beyond + "&index=0", "", "size"},
		{"GET", "/api/v1/audit/proof?size=2&index=5", "", "index"},
		{"GET", "/api/v1/audit/proof?size=2&index=-3", "", "index"},
		{"GET", "/api/v1/audit/proof?size=2&old=5", "", "old"},
		{"GET", "/api/v1/audit/proof?size=2&old=-1", "", "old"},
		{"GET", "/api/v1/audit/proof?size=" + beyond + "&old=1", "", "size"},
	})
	for _, path := range []string{"/api/v1/audit/proof?size=2&index=1", "/api/v1/audit/proof?size=" + strconv.FormatInt(size, 10) + "&old=1"} {
		if status, eb := callAPI(t, n, hc, "GET", path, ""); status != http.StatusOK {
			t.Errorf("GET %s: %d %+v, want 200", path, status, eb)
		}
	}
}

// TestAuditRawRefusesBadRanges: a negative start is refused rather than
// answered with nothing, and one request reads at most api.MaxRawEntries
// positions, so that no caller has the node hold its whole log in memory.
func TestAuditRawRefusesBadRanges(t *testing.T) {
	n, p := singleNode(t)
	flows(t, n, 1)
	hc := p.Client(p.Issue("51", pki.KindAuditor, "li"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	checkRefused(t, n, hc, []badInput{
		{"GET", "/api/v1/audit/raw?start=-5&end=2", "", "start"},
		{"GET", "/api/v1/audit/raw?start=0&end=9223372036854775807", "", strconv.Itoa(api.MaxRawEntries)},
		{"GET", "/api/v1/audit/raw?start=1&end=" + strconv.Itoa(api.MaxRawEntries+2), "", strconv.Itoa(api.MaxRawEntries)},
	})
	if status, eb := callAPI(t, n, hc, "GET", "/api/v1/audit/raw?start=0&end="+strconv.Itoa(api.MaxRawEntries), ""); status != http.StatusOK {
		t.Errorf("a range of exactly MaxRawEntries: %d %+v, want 200", status, eb)
	}
	doc, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if bound := "at most start + " + strconv.Itoa(api.MaxRawEntries); !strings.Contains(string(doc), bound) {
		t.Errorf("api/openapi.yaml does not state the bound of /api/v1/audit/raw, %q", bound)
	}
}

// TestAuditVerifyRefusesTrailingData: a verify body with anything after its
// JSON object is malformed, not a request to verify without an earlier head.
func TestAuditVerifyRefusesTrailingData(t *testing.T) {
	n, p := singleNode(t)
	hc := p.Client(p.Issue("51", pki.KindAuditor, "li"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	checkRefused(t, n, hc, []badInput{
		{"POST", "/api/v1/audit/verify", `{} junk`, "body"},
		{"POST", "/api/v1/audit/verify", `{"earlier":""}{"earlier":"x"}`, "body"},
	})
	if status, eb := callAPI(t, n, hc, "POST", "/api/v1/audit/verify", "{}\n"); status != http.StatusOK {
		t.Errorf("{} and a newline: %d %+v, want 200", status, eb)
	}
}

// TestReferralsRefusesUnknownStatus: a status no case can have is a typo,
// answered 400 naming status, not an empty list that reads as "no cases".
func TestReferralsRefusesUnknownStatus(t *testing.T) {
	n, p := singleNode(t)
	hc := p.Client(p.Issue("51", pki.KindOperator, "ops"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	checkRefused(t, n, hc, []badInput{
		{"GET", "/api/v1/referrals?status=investigate", "", "status"},
		{"GET", "/api/v1/referrals?status=Referred", "", "status"},
	})
	for _, s := range []string{"", "referred", "accepted", "investigating", "resolved", "closed", "rejected"} {
		if status, eb := callAPI(t, n, hc, "GET", "/api/v1/referrals?status="+s, ""); status != http.StatusOK {
			t.Errorf("status=%s: %d %+v, want 200", s, status, eb)
		}
	}
}

// TestInboxRefusesACursorItNeverGave: a cursor beyond the inbox's newest
// position is none this node gave out (its store was replaced, or restored
// from a backup, since the system read it). It used to be answered with
// an empty page whose next cursor was the same, so the system went on
// asking past every new arrival, which it never saw; it is refused, 400
// naming after and the newest position, while a cursor at the newest
// position still reads an empty page.
func TestInboxRefusesACursorItNeverGave(t *testing.T) {
	n, p := singleNode(t)
	var in []store.Incoming
	for _, id := range []string{"01JIN1", "01JIN2"} {
		in = append(in, store.Incoming{EnvelopeID: id, From: "44", Type: "transfer", Envelope: []byte(`{}`), Record: []byte(`{}`), Receipt: []byte(`{}`)})
	}
	if _, err := n.store.Receive(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	hc := p.Client(p.Issue("51", pki.KindSystem, "hr"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	checkRefused(t, n, hc, []badInput{
		{"GET", "/api/v1/inbox?after=3", "", "after 3"},
		{"GET", "/api/v1/inbox?after=5000", "", "newest position 2"},
		{"GET", "/api/v1/inbox?after=18446744073709551615", "", "after 18446744073709551615"},
	})
	for _, after := range []string{"0", "1", "2"} {
		if status, eb := callAPI(t, n, hc, "GET", "/api/v1/inbox?after="+after, ""); status != http.StatusOK {
			t.Errorf("after=%s: %d %+v, want 200", after, status, eb)
		}
	}
}

// TestOpenAPIStatesWhoMayCallEachLocalRoute: api/openapi.yaml states, in
// each local route's summary, the kinds of certificate that may call it,
// "(kind system, operator)", and the node serves exactly those of its own
// province: every other kind gets 403. Three routes (a record by
// reference, status and policy) stated none, so whom the node served
// them to was nowhere written down.
func TestOpenAPIStatesWhoMayCallEachLocalRoute(t *testing.T) {
	data, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Summary string `yaml:"summary"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	kindsOf := regexp.MustCompile(`\(kind ([a-z]+(?:, [a-z]+)*)\)`)
	// A request each route serves (or refuses for its content, not its
	// caller) on a node with an empty store and no peer.
	requests := map[string]struct{ path, body string }{
		"POST /api/v1/records":             {"/api/v1/records", `{"records":[{}]}`},
		"GET /api/v1/records":              {"/api/v1/records?ref=51/transfer/T-1", ""},
		"GET /api/v1/records/{id}":         {"/api/v1/records/01ANY", ""},
		"GET /api/v1/inbox":                {"/api/v1/inbox", ""},
		"GET /api/v1/inbox/{id}":           {"/api/v1/inbox/01ANY", ""},
		"GET /api/v1/audit/entries":        {"/api/v1/audit/entries", ""},
		"GET /api/v1/audit/stats":          {"/api/v1/audit/stats", ""},
		"GET /api/v1/audit/head":           {"/api/v1/audit/head", ""},
		"GET /api/v1/audit/raw":            {"/api/v1/audit/raw?end=1", ""},
		"GET /api/v1/audit/proof":          {"/api/v1/audit/proof?size=0&old=0", ""},
		"GET /api/v1/audit/export":         {"/api/v1/audit/export", ""},
		"POST /api/v1/audit/verify":        {"/api/v1/audit/verify", `{}`},
		"GET /api/v1/audit/reconcile":      {"/api/v1/audit/reconcile?with=44", ""},
		"GET /api/v1/status":               {"/api/v1/status", ""},
		"GET /api/v1/deadletters":          {"/api/v1/deadletters", ""},
		"POST /api/v1/deadletters/requeue": {"/api/v1/deadletters/requeue", `{"peer":"44","envelope_id":"01NOSUCH"}`},
		"POST /api/v1/deadletters/discard": {"/api/v1/deadletters/discard", `{"peer":"44","envelope_id":"01NOSUCH"}`},
		"GET /api/v1/referrals":            {"/api/v1/referrals", ""},
		"POST /api/v1/policy/eval":         {"/api/v1/policy/eval", `{}`},
		"GET /api/v1/policy":               {"/api/v1/policy", ""},
	}
	n, p := singleNode(t)
	clients := map[pki.Kind]*http.Client{}
	for _, k := range pki.Kinds() {
		clients[k] = p.Client(p.Issue("51", k, "x-"+string(k)), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	}
	for _, route := range api.Routes {
		method, path, _ := strings.Cut(route, " ")
		m := kindsOf.FindStringSubmatch(doc.Paths[path][strings.ToLower(method)].Summary)
		if m == nil {
			t.Errorf("%s: its summary in api/openapi.yaml states no kinds, such as (kind system, operator)", route)
			continue
		}
		stated := strings.Split(m[1], ", ")
		req, ok := requests[route]
		if !ok {
			t.Errorf("%s: no request to try it with", route)
			continue
		}
		for _, k := range pki.Kinds() {
			status, eb := callAPI(t, n, clients[k], method, req.path, req.body)
			if refused := status == http.StatusForbidden; refused == slices.Contains(stated, string(k)) {
				t.Errorf("%s by a %s certificate: %d %+v; api/openapi.yaml states kinds %v", route, k, status, eb, stated)
			}
		}
	}
}

// TestAnEmptyInboxPageListsNoItemsAsAnArray: a page with nothing after the
// cursor, as a system polling at the newest position reads every time,
// answered "items": null, which api/openapi.yaml does not allow (an
// array) and which a system iterating the items fails on. (From a
// review.) It answers an empty array, of an empty inbox as well.
func TestAnEmptyInboxPageListsNoItemsAsAnArray(t *testing.T) {
	n, p := singleNode(t)
	hc := p.Client(p.Issue("51", pki.KindSystem, "hr"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	page := func() string {
		t.Helper()
		return string(answer(t, n, hc, "GET", "/api/v1/inbox?after="+strconv.FormatUint(mustHead(t, n), 10), ""))
	}
	if got := page(); !strings.Contains(got, `"items":[]`) {
		t.Errorf("an empty inbox: %s; want \"items\":[]", got)
	}
	in := []store.Incoming{{EnvelopeID: "01JIN1", From: "44", Type: "transfer", Envelope: []byte(`{}`), Record: []byte(`{}`), Receipt: []byte(`{}`)}}
	if _, err := n.store.Receive(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if got := page(); !strings.Contains(got, `"items":[]`) || !strings.Contains(got, `"next":1`) {
		t.Errorf("after the newest position: %s; want \"items\":[] and \"next\":1", got)
	}
}

// mustHead is the node's newest inbox position.
func mustHead(t *testing.T, n *Node) uint64 {
	t.Helper()
	head, err := n.store.InboxHead()
	if err != nil {
		t.Fatal(err)
	}
	return head
}
