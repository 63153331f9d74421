package api

import (
	"encoding/json"
	"testing"
)

// TestEmptyListsAnswerArrays: encodeJSON writes each list an answer
// carries as [] when it is empty, never null, which api/openapi.yaml does
// not allow for an array and a client iterating it fails on; it leaves
// what is omitted when empty omitted, bytes as they are (a null envelope is
// a pruned one), and the answer it was given unchanged.
func TestEmptyListsAnswerArrays(t *testing.T) {
	type item struct {
		Tags []string `json:"tags,omitempty"`
	}
	type Embedded struct {
		Reasons []string `json:"reasons"`
	}
	type answer struct {
		Embedded
		Items    []item          `json:"items"`
		Omitted  []string        `json:"omitted,omitempty"`
		Zero     []string        `json:"zero,omitzero"`
		Skipped  []string        `json:"-"`
		Envelope json.RawMessage `json:"envelope"`
		Digest   []byte          `json:"digest"`
		Peers    any             `json:"peers"`
		Nothing  any             `json:"nothing"`
		Filled   []int           `json:"filled"`
	}
	const want = `{"reasons":[],"items":[],"envelope":null,"digest":null,"peers":[],"nothing":null,"filled":[1]}`
	a := answer{Peers: []item(nil), Filled: []int{1}}
	for _, tt := range []struct {
		name string
		resp any
		want string
	}{
		{"a struct", a, want},
		{"a pointer to one", &a, want},
		{"a list itself", []item(nil), `[]`},
		{"a nil pointer", (*answer)(nil), `null`},
		{"nothing", nil, `null`},
		{"bytes", []byte(nil), `null`},
		{"no list to set", Embedded{Reasons: []string{"x"}}, `{"reasons":["x"]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(emptyLists(tt.resp))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if a.Reasons != nil || a.Items != nil || a.Peers.([]item) != nil {
		t.Errorf("the answer given was changed: %+v", a)
	}
}
