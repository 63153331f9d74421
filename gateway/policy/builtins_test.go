package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// A policy of either layer that calls a builtin answering other than by its
// arguments (the wall clock, chance, the network, the node) is refused with
// an error naming the builtin, file and line.
func TestRefusedBuiltins(t *testing.T) {
	tests := map[string]string{
		"time.now_ns":        `deny contains "after hours" if time.clock([time.now_ns(), "Asia/Shanghai"])[0] >= 18`,
		"rand.intn":          `deny contains "lottery" if rand.intn("x", 2) == 0`,
		"http.send":          `deny contains "remote" if http.send({"method": "GET", "url": "http://example.com"}).status_code != 200`,
		"net.lookup_ip_addr": `deny contains "dns" if count(net.lookup_ip_addr("example.com")) == 0`,
		"opa.runtime":        `deny contains "env" if opa.runtime().env.X == "1"`,
		"uuid.rfc4122":       `deny contains "id" if { ids := [u | u := uuid.rfc4122("x")]; count(ids) == 0 }`,
		// Verified against the wall clock: an embedded certificate's
		// expiry would be a deadline the day's cached decisions ignore.
		"crypto.x509.parse_and_verify_certificates":              `deny contains "expired" if not crypto.x509.parse_and_verify_certificates("x")[0]`,
		"crypto.x509.parse_and_verify_certificates_with_options": `deny contains "expired" if not crypto.x509.parse_and_verify_certificates_with_options("x", {})[0]`,
	}
	for builtin, rule := range tests {
		t.Run(builtin, func(t *testing.T) {
			prov := Layer{Files: map[string]string{"p.rego": "package laborlink.province\n\n" + rule + "\n"}}
			_, err := CheckProvince(context.Background(), prov, FederationBundle())
			if err == nil || !strings.Contains(err.Error(), builtin) || !strings.Contains(err.Error(), "p.rego:3") {
				t.Errorf("province: err = %v, want one naming %s at p.rego:3", err, builtin)
			}
			rule = strings.Replace(rule, `deny contains "`, `problems contains problem(0, input.agreements[0], "x", "`, 1)
			rule = strings.Replace(rule, `" if`, `") if`, 1)
			_, err = CheckBundle(context.Background(), registryBundle("x.rego", "package laborlink.federation\n\n"+rule+"\n"))
			if err == nil || !strings.Contains(err.Error(), builtin) || !strings.Contains(err.Error(), "x.rego:3") {
				t.Errorf("bundle: err = %v, want one naming %s at x.rego:3", err, builtin)
			}
		})
	}
	caps := policyCapabilities()
	for _, b := range caps.Builtins {
		if refusedBuiltin(b) {
			t.Errorf("capabilities keep %s", b.Name)
		}
	}
	if !slices.ContainsFunc(caps.Builtins, func(b *ast.Builtin) bool { return b.Name == "time.date" }) {
		t.Error("capabilities lack time.date")
	}
}

// Evaluation runs at the request's time, not the wall clock's. No builtin
// a policy may call reads that time today; the query here, which no policy
// could hold, reads it with time.now_ns.
func TestEvaluatesAtRequestTime(t *testing.T) {
	e := newEngine(t, "", -1)
	c := *e.cur.Load()
	q, err := rego.New(rego.Query(`{"federation": {"allow": false, "reasons": [], "obligations": {}, "agreement": null},
		"province_deny": {sprintf("%d", [time.now_ns()])}, "province_obligations": {}}`)).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.query = q
	for _, at := range []time.Time{time.Date(2001, time.January, 2, 3, 4, 5, 6, time.UTC), march15} {
		req := Request{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{agreement51to44()}, Time: at}
		p := prepare(&req, time.Now)
		d, err := c.evaluate(context.Background(), &p)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint(at.UnixNano()); len(d.Reasons) != 1 || d.Reasons[0].Message != want {
			t.Errorf("at %s: reasons %v, want the time %s", at, d.Reasons, want)
		}
	}
}
