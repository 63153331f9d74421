package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/pki"
)

// TestEmptyAnswersListAsArrays: on a node with nothing to list, every
// answer that api/openapi.yaml describes with an array holds an array
// there, [] and not null, as the schema of its 200 answer says. The
// audit entries, referral cases, raw entries, proof hashes and an empty
// batch's results were answered null, which a client iterating them
// fails on. Each route of the local API and the peer API's audit route
// is asked, or says why it is not asked here.
func TestEmptyAnswersListAsArrays(t *testing.T) {
	doc := openAPI(t)
	n, p := singleNode(t)
	size := strconv.FormatInt(n.audit.Size(), 10)
	type request struct {
		kind               pki.Kind
		method, path, body string
	}
	asked := map[string]request{
		"POST /api/v1/records":             {pki.KindSystem, "POST", "/api/v1/records", `{"records":[{}]}`},
		"GET /api/v1/inbox":                {pki.KindSystem, "GET", "/api/v1/inbox", ""},
		"GET /api/v1/audit/entries":        {pki.KindAuditor, "GET", "/api/v1/audit/entries?kind=discard", ""},
		"GET /api/v1/audit/stats":          {pki.KindAuditor, "GET", "/api/v1/audit/stats?kind=discard", ""},
		"GET /api/v1/audit/head":           {pki.KindAuditor, "GET", "/api/v1/audit/head", ""},
		"GET /api/v1/audit/raw":            {pki.KindAuditor, "GET", "/api/v1/audit/raw?start=0&end=0", ""},
		"GET /api/v1/audit/proof":          {pki.KindAuditor, "GET", "/api/v1/audit/proof?size=" + size + "&old=" + size, ""},
		"POST /api/v1/audit/verify":        {pki.KindAuditor, "POST", "/api/v1/audit/verify", `{}`},
		"GET /api/v1/status":               {pki.KindOperator, "GET", "/api/v1/status", ""},
		"GET /api/v1/deadletters":          {pki.KindOperator, "GET", "/api/v1/deadletters", ""},
		"POST /api/v1/deadletters/requeue": {pki.KindOperator, "POST", "/api/v1/deadletters/requeue", `{"peer":"44","all":true}`},
		"POST /api/v1/deadletters/discard": {pki.KindOperator, "POST", "/api/v1/deadletters/discard", `{"peer":"44","all":true,"through":0}`},
		"GET /api/v1/referrals":            {pki.KindSystem, "GET", "/api/v1/referrals", ""},
		"POST /api/v1/policy/eval":         {pki.KindSystem, "POST", "/api/v1/policy/eval", `{}`},
		"GET /api/v1/policy":               {pki.KindSystem, "GET", "/api/v1/policy", ""},
		"GET " + peer.AuditPath:            {pki.KindNode, "GET", peer.AuditPath, ""},
	}
	// The lists api/openapi.yaml lets an answer leave out.
	absent := map[string]string{"POST /api/v1/audit/verify": "findings"}
	notAsked := map[string]string{
		"GET /api/v1/records":         "an empty node has no record; RecordView's lists are omitted when empty",
		"GET /api/v1/records/{id}":    "an empty node has no record; RecordView's lists are omitted when empty",
		"GET /api/v1/inbox/{id}":      "an empty node has no inbox item, which holds no list",
		"GET /api/v1/audit/export":    "a file, CSV or JSON lines, not a JSON answer",
		"GET /api/v1/audit/reconcile": "it needs another province's node: TestReconcileAcrossNodes",
	}
	withLists := 0
	for _, route := range append(api.Routes, "GET "+peer.AuditPath) {
		req, ok := asked[route]
		if !ok {
			if _, ok := notAsked[route]; !ok {
				t.Errorf("%s: neither asked nor said why not", route)
			}
			continue
		}
		t.Run(route, func(t *testing.T) {
			method, path, _ := strings.Cut(route, " ")
			schema := doc.answer(path, method)
			if doc.declared(schema, "") > 0 {
				withLists++
			}
			hc := p.Client(p.Issue("51", req.kind, "x-"+string(req.kind)), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
			body := answer(t, n, hc, req.method, req.path, req.body)
			var v any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			lists, problems := doc.arrays(schema, v, "answer")
			for _, p := range problems {
				t.Errorf("%s: %s", body, p)
			}
			if want := doc.declared(schema, absent[route]); len(problems) == 0 && lists < want {
				t.Errorf("%s: %d lists found where api/openapi.yaml declares %d", body, lists, want)
			}
		})
	}
	if withLists == 0 {
		t.Error("no answer asked for declares a list in api/openapi.yaml: were its schemas read?")
	}
}

// answer sends one request as the client hc and returns the body of its
// 200 answer.
func answer(t *testing.T, n *Node, hc *http.Client, method, path, body string) []byte {
	t.Helper()
	status, data := send(t, n, hc, method, path, body)
	if status != http.StatusOK {
		t.Fatalf("%d %s; want 200", status, data)
	}
	return data
}

// openAPIDoc is api/openapi.yaml, as YAML reads it.
type openAPIDoc map[string]any

func openAPI(t *testing.T) openAPIDoc {
	t.Helper()
	data, err := os.ReadFile("../../api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Into a map[string]any: into an openAPIDoc, YAML would make each
	// mapping within one too.
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// at follows the keys from m, "" when there is nothing there.
func at(m any, keys ...string) any {
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}

// answer is the schema of the JSON answer 200 of the route, nil if it
// states none.
func (d openAPIDoc) answer(path, method string) map[string]any {
	s, _ := at(map[string]any(d), "paths", path, strings.ToLower(method), "responses", "200", "content", "application/json", "schema").(map[string]any)
	return s
}

// resolve follows a schema's $ref, "#/components/schemas/X".
func (d openAPIDoc) resolve(s map[string]any) map[string]any {
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	r, _ := at(map[string]any(d), strings.Split(strings.TrimPrefix(ref, "#/"), "/")...).(map[string]any)
	return r
}

// arrays checks v against what schema says are arrays, at every depth v
// reaches: there v is an array, or null only where the schema says
// nullable, or absent. It returns how many arrays it found, and the
// problems.
func (d openAPIDoc) arrays(schema map[string]any, v any, where string) (int, []string) {
	s := d.resolve(schema)
	switch s["type"] {
	case "array":
		list, ok := v.([]any)
		if !ok {
			if v == nil && s["nullable"] == true {
				return 0, nil
			}
			return 0, []string{fmt.Sprintf("%s is %v; api/openapi.yaml says an array", where, v)}
		}
		found, problems := 1, []string(nil)
		items, _ := s["items"].(map[string]any)
		for i, e := range list {
			n, ps := d.arrays(items, e, fmt.Sprintf("%s[%d]", where, i))
			found, problems = found+n, append(problems, ps...)
		}
		return found, problems
	case "object":
		m, _ := v.(map[string]any)
		props, _ := s["properties"].(map[string]any)
		found, problems := 0, []string(nil)
		for name, ps := range props {
			pv, present := m[name]
			if !present {
				continue
			}
			sub, _ := ps.(map[string]any)
			n, more := d.arrays(sub, pv, where+"."+name)
			found, problems = found+n, append(problems, more...)
		}
		return found, problems
	}
	return 0, nil
}

// declared counts the arrays a schema declares at its top: itself, or its
// properties, but absent, that are arrays.
func (d openAPIDoc) declared(schema map[string]any, absent string) int {
	s := d.resolve(schema)
	if s["type"] == "array" {
		return 1
	}
	n := 0
	props, _ := s["properties"].(map[string]any)
	for name, ps := range props {
		if sub, _ := ps.(map[string]any); name != absent && d.resolve(sub)["type"] == "array" {
			n++
		}
	}
	return n
}
