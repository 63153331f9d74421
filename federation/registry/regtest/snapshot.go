package regtest

import (
	"encoding/json"
	"testing"
)

// WithoutPolicyIndex is a registry snapshot (or backup) of this release as
// a release before the policy bundles' index wrote it; every bundle must
// have one.
func WithoutPolicyIndex(t testing.TB, snap []byte) []byte {
	t.Helper()
	var doc, st map[string]json.RawMessage
	var policies []map[string]json.RawMessage
	if err := json.Unmarshal(snap, &doc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc["state"], &st); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(st["policies"], &policies); err != nil {
		t.Fatal(err)
	}
	for _, p := range policies {
		if _, ok := p["index"]; !ok {
			t.Fatalf("a bundle of this release without index: %v", p)
		}
		delete(p, "index")
	}
	var err error
	if st["policies"], err = json.Marshal(policies); err != nil {
		t.Fatal(err)
	}
	if doc["state"], err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
