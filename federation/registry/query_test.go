package registry_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
)

// TestQueriesThatNoAgreementCouldMatchAreRefused: a filter value that is
// no code or name at all (a typo) is answered 400 naming the parameter,
// not with an empty list that reads as "no such agreement"; so is a
// covers query that leaves out one of its four parameters, which no
// agreement could match either. Codes that are real but match nothing
// still answer an empty list.
func TestQueriesThatNoAgreementCouldMatchAreRefused(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	cl := c.Client(c.Nodes[0], c.PKI.Admin(t, "51", "zhang"))
	get := func(path string) (int, registry.Error) {
		t.Helper()
		resp, err := cl.HTTP.Get(cl.Base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e registry.Error
		if resp.StatusCode != http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("GET %s: %s with a body that is no error: %v", path, resp.Status, err)
			}
		}
		return resp.StatusCode, e
	}
	for _, tt := range []struct{ path, names string }{
		{"/v1/registry/agreements?status=bogus", "status"},
		{"/v1/registry/agreements?origin=zz", "origin"},
		{"/v1/registry/agreements?destination=440305", "destination"},
		{"/v1/registry/agreements?party=5", "party"},
		{"/v1/registry/agreements?record_type=transfers", "record_type"},
		{"/v1/registry/agreements?purpose=employment", "purpose"},
		{"/v1/registry/covers?origin=zz&destination=44", "origin"},
		{"/v1/registry/covers?origin=51&destination=449999", "destination"},
		{"/v1/registry/covers?origin=51&destination=44&record_type=x", "record_type"},
		{"/v1/registry/covers?destination=44&record_type=transfer&purpose=employment-service", "origin"},
		{"/v1/registry/covers?origin=51&record_type=transfer&purpose=employment-service", "destination"},
		{"/v1/registry/covers?origin=51&destination=44&purpose=employment-service", "record_type"},
		{"/v1/registry/covers?origin=51&destination=44&record_type=transfer", "purpose"},
	} {
		if status, e := get(tt.path); status != http.StatusBadRequest || e.Code != registry.EInvalid || !strings.Contains(e.Message, tt.names+"=") {
			t.Errorf("GET %s: %d %+v; want 400 invalid naming %s", tt.path, status, e, tt.names)
		}
	}
	for _, path := range []string{
		"/v1/registry/agreements?status=suspended&origin=51&destination=44&party=51&record_type=transfer&purpose=employment-service",
		"/v1/registry/covers?origin=511321&destination=44&record_type=referral&purpose=rights-protection",
	} {
		if status, e := get(path); status != http.StatusOK {
			t.Errorf("GET %s: %d %+v; want 200", path, status, e)
		}
	}
}

// TestNoAgreementMatchingListsAsAnArray: agreements listed by a filter
// that none matches were answered "data": null, which a client iterating
// the list fails on; they are answered [], as the other lists of the
// registry (members, nodes, covers) are.
func TestNoAgreementMatchingListsAsAnArray(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	cl := c.Client(c.Nodes[0], c.PKI.Admin(t, "51", "zhang"))
	for _, path := range []string{
		"/v1/registry/agreements?status=suspended&origin=51&destination=44",
		"/v1/registry/covers?origin=51&destination=44&record_type=transfer&purpose=employment-service",
	} {
		resp, err := cl.HTTP.Get(cl.Base + path)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Data json.RawMessage }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || string(body.Data) != "[]" {
			t.Errorf("GET %s: %s, data %s (%v); want 200 and []", path, resp.Status, body.Data, err)
		}
	}
}

// TestAJoinNoSeedAnswersIsUnavailable: seeds that cannot be reached are a
// condition a retry may mend, answered 503, not a 500 "internal".
func TestAJoinNoSeedAnswersIsUnavailable(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	cl := c.Client(c.Nodes[0], c.PKI.Admin(t, "11", "zhao")) // the node's own province
	_, err := cl.Join(ctx(t), "https://127.0.0.1:1")
	if registry.ErrorCode(err) != registry.EUnavailable || !strings.Contains(err.Error(), "no seed") {
		t.Fatalf("join through a seed that is down: %v; want unavailable saying no seed answered", err)
	}
	if err := c.Nodes[0].Reg.Join(ctx(t)); registry.ErrorCode(err) != registry.EInvalid || !strings.Contains(err.Error(), "needs seeds") {
		t.Errorf("join through no seed: %v; want invalid, asking for seeds", err)
	}
}
