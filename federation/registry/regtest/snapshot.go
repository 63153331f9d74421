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
	return withoutIndex(t, snap, "policies")
}

// WithoutRevocationIndex is a registry snapshot (or backup) of this
// release as a release before the revocations' index wrote it; every
// revocation must have one.
func WithoutRevocationIndex(t testing.TB, snap []byte) []byte {
	t.Helper()
	return withoutIndex(t, snap, "revoked")
}

// withoutIndex is snap with the index of every item of the state's member
// left out, a list (policies) or a map (revoked) of objects; every item
// must have one. The other values are copied as they are.
func withoutIndex(t testing.TB, snap []byte, member string) []byte {
	t.Helper()
	var doc, st map[string]json.RawMessage
	if err := json.Unmarshal(snap, &doc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc["state"], &st); err != nil {
		t.Fatal(err)
	}
	drop := func(item map[string]json.RawMessage) {
		if _, ok := item["index"]; !ok {
			t.Fatalf("an item of %s of this release without index: %v", member, item)
		}
		delete(item, "index")
	}
	var list []map[string]json.RawMessage
	var byKey map[string]map[string]json.RawMessage
	var items any
	if json.Unmarshal(st[member], &list) == nil {
		for _, item := range list {
			drop(item)
		}
		items = list
	} else if err := json.Unmarshal(st[member], &byKey); err == nil {
		for _, item := range byKey {
			drop(item)
		}
		items = byKey
	} else {
		t.Fatalf("state %s is neither a list nor a map of objects: %v", member, err)
	}
	var err error
	if st[member], err = json.Marshal(items); err != nil {
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
