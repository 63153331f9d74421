package contracts

import (
	"encoding/json"
	"testing"
)

// FuzzLexSchema holds lexSchema to what encoding/json reads as the schema:
// whenever lexSchema answers, it answers what json.Unmarshal would.
func FuzzLexSchema(f *testing.F) {
	for _, doc := range []string{
		`{"schema":"laborlink.transfer/v1","id":"T-1"}`,
		`{"id":"T-1","schema":"laborlink.transfer/v1"}`,
		`{"id":"T-1","Schema":"a","schema":"b"}`,
		`{"ſchema":"long s"}`,
		`{"schema":"a","schema":null}`,
		`{"schema":1}`,
		`{"x":{"schema":"nested"}}`,
		`{"x":[1,2,{"y":null}],"schema":"\u0041"}`,
		`{"schema":"a"} trailing`,
		`{"schema":"a",}`,
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, ok := lexSchema(doc)
		if !ok {
			return
		}
		var probe struct {
			Schema *string `json:"schema"`
		}
		if err := json.Unmarshal(doc, &probe); err != nil {
			t.Fatalf("lexSchema read %q from %q, which encoding/json refuses: %v", got, doc, err)
		}
		if probe.Schema == nil || *probe.Schema != got {
			t.Fatalf("lexSchema read %q from %q, encoding/json %v", got, doc, probe.Schema)
		}
	})
}
