package contracts_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

var rawSeeds = []string{
	`[]`, `null`, ` [ 1 , "two" , {"three":[3]} , null , true ] `, `[{"a":1},{"a":2}]`,
	`{"records":[{"schema":"x"},{"schema":"y"}]}`, `{"chain":["AAE="],"envelopes":[]}`,
	`{"a":1,"a":2}`, `[1,]`, `[1 2]`, `{"a":}`, `[` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `]`,
	`[1] x`, `{"a":"\u00e9\n"}`, `["\ud800"]`, `{}`, ``, `{"a":[1,{"b":null}]} `,
}

// FuzzRawArray holds RawArray to encoding/json reading a []json.RawMessage:
// the same documents pass, with the same elements.
func FuzzRawArray(f *testing.F) {
	for _, s := range rawSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := contracts.RawArray(data)
		var want []json.RawMessage
		werr := json.Unmarshal(data, &want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: RawArray error %v, encoding/json %v", data, err, werr)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d elements, encoding/json %d", data, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%q: element %d is %q, encoding/json %q", data, i, got[i], want[i])
			}
		}
	})
}

// FuzzRawObject holds RawObject to encoding/json reading a map of raw
// values, except that RawObject refuses a repeated name.
func FuzzRawObject(f *testing.F) {
	for _, s := range rawSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := map[string]json.RawMessage{}
		err := contracts.RawObject(data, func(name string, v json.RawMessage) error {
			got[name] = v
			return nil
		})
		var want map[string]json.RawMessage
		werr := json.Unmarshal(data, &want)
		if err == nil && (werr != nil || want == nil) {
			t.Fatalf("%q: RawObject read it, encoding/json refuses it: %v", data, werr)
		}
		if err != nil {
			if werr == nil && want != nil && !strings.Contains(err.Error(), "duplicate member") && len(want) == len(got) {
				t.Fatalf("%q: RawObject error %v, encoding/json reads it", data, err)
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, encoding/json %d", data, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("%q: member %q is %q, encoding/json %q", data, k, got[k], v)
			}
		}
	})
}

// FuzzRawObjectSplit holds RawObjectSplit to RawObject and then RawArray
// of the split member: the same documents pass, with the same members and,
// when the member holds an array, the same elements.
func FuzzRawObjectSplit(f *testing.F) {
	for _, s := range rawSeeds {
		f.Add([]byte(s), "records")
	}
	f.Add([]byte(`{"chain":["AAE="],"envelopes":[{"a":[1]}, 2 ,"x"]}`), "envelopes")
	f.Add([]byte(`{"envelopes":null}`), "envelopes")
	f.Add([]byte(`{"envelopes":[1,]}`), "envelopes")
	f.Fuzz(func(t *testing.T, data []byte, split string) {
		var got, want []json.RawMessage
		member := func(into *[]json.RawMessage) func(string, json.RawMessage) error {
			return func(name string, v json.RawMessage) error {
				*into = append(*into, []byte(name), v)
				return nil
			}
		}
		elems, err := contracts.RawObjectSplit(data, split, member(&got))
		werr := contracts.RawObject(data, member(&want))
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: RawObjectSplit error %v, RawObject %v", data, err, werr)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d parts, RawObject %d", data, len(got), len(want))
		}
		var wantElems []json.RawMessage
		for i := 0; i < len(want); i += 2 {
			if !bytes.Equal(got[i], want[i]) || !bytes.Equal(got[i+1], want[i+1]) {
				t.Fatalf("%q: member %q = %q, RawObject %q = %q", data, got[i], got[i+1], want[i], want[i+1])
			}
			if split != "" && string(want[i]) == split && bytes.HasPrefix(want[i+1], []byte("[")) {
				if wantElems, err = contracts.RawArray(want[i+1]); err != nil {
					t.Fatalf("%q: RawArray of %s: %v", data, split, err)
				}
			}
		}
		if (elems == nil) != (wantElems == nil) || len(elems) != len(wantElems) {
			t.Fatalf("%q: elements %q, RawArray %q", data, elems, wantElems)
		}
		for i := range elems {
			if !bytes.Equal(elems[i], wantElems[i]) {
				t.Fatalf("%q: element %d is %q, RawArray %q", data, i, elems[i], wantElems[i])
			}
		}
	})
}

func TestRawObjectNamesTheMember(t *testing.T) {
	err := contracts.RawObject([]byte(`{"chain":[],"envelopes":{}}`), func(name string, v json.RawMessage) error {
		if name == "envelopes" {
			_, err := contracts.RawArray(v)
			return err
		}
		return nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "envelopes: ") || !strings.Contains(err.Error(), "want an array") {
		t.Fatalf("got %v, want an error naming envelopes", err)
	}
	if err := contracts.RawObject([]byte(`{"a":1,"a":2}`), func(string, json.RawMessage) error { return nil }); err == nil || !strings.Contains(err.Error(), `duplicate member "a"`) {
		t.Fatalf("repeated member: got %v", err)
	}
}

func TestRawArrayNilAndEmpty(t *testing.T) {
	if got, err := contracts.RawArray([]byte("null")); err != nil || got != nil {
		t.Errorf("null: %#v, %v; want a nil slice", got, err)
	}
	if got, err := contracts.RawArray([]byte(" [ ] ")); err != nil || got == nil || len(got) != 0 {
		t.Errorf("[]: %#v, %v; want an empty slice", got, err)
	}
}

// TestRawArrayNamesWhereItFails: an error deep inside an element names the
// member path to it, white space and escaped names included.
func TestRawArrayNamesWhereItFails(t *testing.T) {
	_, err := contracts.RawArray([]byte(`[ {"a": 1}, { "worker" : { "n\u0061me" : tru } } ]`))
	if err == nil || !strings.Contains(err.Error(), "[1].worker.name") {
		t.Fatalf("got %v, want an error at [1].worker.name", err)
	}
}
