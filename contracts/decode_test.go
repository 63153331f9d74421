package contracts_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

func transferJSON(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(generator(t).Transfer())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRoundTrip(t *testing.T) {
	g := generator(t)
	for range 50 {
		tr := g.Transfer()
		r := g.Referral()
		for _, rec := range []contracts.Record{tr, g.Confirmation(tr), r, g.ReferralUpdate(r)} {
			b, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := contracts.Decode(b)
			if err != nil {
				t.Fatalf("%s: %v", rec.Type(), err)
			}
			// Instants come back in a zone without a name; compare the JSON forms.
			b2, _ := json.Marshal(got)
			if string(b) != string(b2) {
				t.Fatalf("%s round trip:\n%s\n%s", rec.Type(), b, b2)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(rec) {
				t.Fatalf("decoded a %T, want %T", got, rec)
			}
		}
	}
	a := g.Agreement()
	b, _ := json.Marshal(a)
	got, err := contracts.DecodeAgreement(b)
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := json.Marshal(got); string(b) != string(b2) {
		t.Fatalf("agreement round trip:\n%s\n%s", b, b2)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := string(transferJSON(t))
	tests := []struct {
		name string
		in   string
		path string
		msg  string
	}{
		{"not an object", `[1,2]`, "", "want a JSON object"},
		{"empty", ``, "", "want a JSON object"},
		{"no schema", `{"id":"x"}`, "schema", "required"},
		{"unknown schema", `{"schema":"laborlink.memo/v1"}`, "schema", "unknown schema"},
		{"agreement as record", `{"schema":"laborlink.agreement/v1"}`, "schema", "DecodeAgreement"},
		{"schema not first", `{"id":"x","schema":"laborlink.nope/v1"}`, "schema", "unknown schema"},
		{"unknown top-level field", strings.Replace(good, `{"schema"`, `{"extra":true,"schema"`, 1), "extra", "unknown field"},
		{"unknown nested field", strings.Replace(good, `"worker":{`, `"worker":{"nickname":"x",`, 1), "worker.nickname", "unknown field"},
		{"unknown field in array", strings.Replace(good, `"events":[{`, `"events":[{"where":"x",`, 1), "events[0].where", "unknown field"},
		{"wrong type", strings.Replace(good, `"hours":`, `"hours":"many","x":`, 1), "training.hours", "not a valid integer"},
		{"bad date", strings.Replace(good, `"birth_date":"`, `"birth_date":"1990-02-30","y":"`, 1), "worker.birth_date", "not a real date"},
		{"bad time", strings.Replace(good, `"events":[{"kind":"registered","at":"`, `"events":[{"kind":"registered","at":"yesterday","z":"`, 1), "events[0].at", "RFC 3339"},
		{"fraction in integer", strings.Replace(good, `"monthly_wage_fen":`, `"monthly_wage_fen":1.5,"w":`, 1), "placement.monthly_wage_fen", "not a valid integer"},
		{"trailing data", good + ` {}`, "", "trailing data"},
		{"trailing NUL", good + "\x00", "", "trailing data"},
		{"truncated", good[:len(good)/2], "*", "unexpected end"},
		{"duplicate member", strings.Replace(good, `"worker":{`, `"worker":{"name":"x",`, 1), "worker.name", "duplicate member"},
		{"member in another case", strings.Replace(good, `"worker":{`, `"worker":{"Sex":"male",`, 1), "worker.Sex", `case-sensitive: did you mean "sex"`},
		{"top-level member in another case", strings.Replace(good, `"labor_brand"`, `"Labor_Brand"`, 1), "Labor_Brand", `did you mean "labor_brand"`},
		{"long s in schema", strings.Replace(good, `{"schema"`, `{"ſchema":"x","schema"`, 1), "ſchema", `did you mean "schema"`},
		{"member in another case in array", strings.Replace(good, `"events":[{"kind"`, `"events":[{"Kind"`, 1), "events[0].Kind", `did you mean "kind"`},
		{"unknown field is not a folded one", strings.Replace(good, `"worker":{`, `"worker":{"sexe":"male",`, 1), "worker.sexe", "the contract has no such member"},
		{"null record", `null`, "", "want a JSON object"},
		{"control character", strings.Replace(good, `"worker":{"name":"`, "\"worker\":{\"name\":\"\x01", 1), "worker.name", "control character"},
		{"syntax", strings.Replace(good, `"from":`, `"from"`, 1), "", "invalid character"},
		{"too large", `{"schema":"laborlink.transfer/v1","notes":"` + strings.Repeat("x", contracts.MaxRecordSize) + `"}`, "", "more than the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := contracts.Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("decoded %+v", rec)
			}
			if rec != nil {
				t.Errorf("returned a record with the error")
			}
			var de *contracts.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%T %v, want a *DecodeError", err, err)
			}
			if (tt.path != "*" && de.Path != tt.path) || !strings.Contains(de.Message, tt.msg) {
				t.Errorf("got path %q message %q; want %q and ...%s...", de.Path, de.Message, tt.path, tt.msg)
			}
		})
	}
}

func TestDecodeAgreementRejectsRecords(t *testing.T) {
	if _, err := contracts.DecodeAgreement(transferJSON(t)); err == nil || !strings.Contains(err.Error(), "want \"laborlink.agreement/v1\"") {
		t.Errorf("got %v", err)
	}
}

func agreementJSON(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(generator(t).Agreement())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := contracts.DecodeAgreement(b); err != nil {
		t.Fatalf("the generated agreement does not decode: %v", err)
	}
	return string(b)
}

// An agreement is decoded as strictly as a record: were a member given twice
// or in another case accepted, the last value winning, a reader of the file
// would see one agreement (the first "id", "scope", ...) and the registry
// would propose, evaluate and sign another.
func TestDecodeAgreementRefusesRepeatedAndFoldedMembers(t *testing.T) {
	good := agreementJSON(t)
	last := func(member string) string { return good[:len(good)-1] + "," + member + "}" }
	tests := []struct {
		name, in, path, msg string
	}{
		{"repeated id", last(`"id":"AG-OTHER-001"`), "id", "duplicate member"},
		{"folded id", last(`"ID":"AG-OTHER-001"`), "ID", `did you mean "id"`},
		{"repeated scope", last(`"scope":[]`), "scope", "duplicate member"},
		{"folded title", last(`"Title":"another title"`), "Title", `did you mean "title"`},
		{"long s in schema", last(`"ſchema":"laborlink.agreement/v1"`), "ſchema", `did you mean "schema"`},
		{"escaped repeat", last(`"\u0069d":"AG-OTHER-001"`), "id", "duplicate member"},
		{"repeated in a party", strings.Replace(good, `"origin":{`, `"origin":{"name":"x",`, 1), "origin.name", "duplicate member"},
		{"folded in a party", strings.Replace(good, `"origin":{`, `"origin":{"Name":"x",`, 1), "origin.Name", `did you mean "name"`},
		{"repeated in a scope rule", strings.Replace(good, `{"record_type":"confirmation",`, `{"record_type":"confirmation","purposes":[],`, 1), "scope[1].purposes", "duplicate member"},
		{"folded in a scope rule", strings.Replace(good, `{"record_type":"confirmation",`, `{"record_type":"confirmation","Fields":[],`, 1), "scope[1].Fields", `did you mean "fields"`},
		{"unknown in a quota", strings.Replace(good, `"quotas":[{`, `"quotas":[{"limit":1,`, 1), "quotas[0].limit", "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := contracts.DecodeAgreement([]byte(tt.in))
			var de *contracts.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if a != nil {
				t.Errorf("returned an agreement with the error")
			}
			if de.Path != tt.path || de.Offset < 0 || !strings.Contains(de.Message, tt.msg) {
				t.Errorf("got %v; want path %q, an offset and ...%s...", de, tt.path, tt.msg)
			}
		})
	}
}

// encoding/json says a signature is not base64 without saying which: the
// error names the member and where it is, as it does a bad date or time.
func TestDecodeAgreementNamesBadSignature(t *testing.T) {
	doc := []byte(`{"schema":"laborlink.agreement/v1","id":"AG-1","approvals":[{"province":"51"},{"province":"44","signature":"!!!!"}]}`)
	_, err := contracts.DecodeAgreement(doc)
	var de *contracts.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a *DecodeError", err)
	}
	if want := bytes.Index(doc, []byte(`"!!!!"`)); de.Path != "approvals[1].signature" || de.Offset < int64(want)-1 || de.Offset > int64(want) || !strings.Contains(de.Message, "base64") {
		t.Errorf("got %v; want approvals[1].signature at offset %d, not base64", err, want)
	}
}

// A date, a time or a signature that does not parse is named where it is,
// and a value encoding/json parses is not refused.
func TestDecodeAgreementNamesBadValues(t *testing.T) {
	const head = `{"schema":"laborlink.agreement/v1","id":"AG-1",`
	tests := []struct {
		name, members, bad, path, msg string
	}{
		{"date", `"valid_from":"2026-02-30"`, `"2026-02-30"`, "valid_from", "not a real date"},
		{"time", `"approvals":[{"province":"51","at":"yesterday"}]`, `"yesterday"`, "approvals[0].at", "RFC 3339"},
		// time.Time reads its JSON without unescaping it, so encoding/json refuses this.
		{"escaped time", `"approvals":[{"province":"51"},{"at":"2026-01-01T00:00:00\u002b08:00"}]`, `"2026-01-01T00:00:00\u002b08:00"`, "approvals[1].at", "RFC 3339"},
		{"signature", `"approvals":[{"signature":"AQ"}]`, `"AQ"`, "approvals[0].signature", "base64"},
		{"empty date", `"valid_until":""`, "", "", ""},
		{"escaped date", `"valid_until":"2026-12-3\u0031"`, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(head + tt.members + "}")
			_, err := contracts.DecodeAgreement(doc)
			if tt.bad == "" {
				if err != nil {
					t.Fatalf("refused %s: %v", doc, err)
				}
				return
			}
			var de *contracts.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if want := bytes.Index(doc, []byte(tt.bad)); de.Path != tt.path || de.Offset != int64(want) || !strings.Contains(de.Message, tt.msg) {
				t.Errorf("got %v; want %s at offset %d, ...%s...", err, tt.path, want, tt.msg)
			}
		})
	}
}

func TestParseValidates(t *testing.T) {
	good := transferJSON(t)
	if _, err := contracts.Parse(good, now); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(good), `"to":"44"`, `"to":"51"`, 1)
	rec, err := contracts.Parse([]byte(bad), now)
	if rec != nil || contracts.FieldErrors(err) == nil {
		t.Errorf("got %v, %v; want no record and a ValidationError", rec, err)
	}
}

func TestCanonicalDigestIsStable(t *testing.T) {
	g := generator(t)
	tr := g.Transfer()
	d1, err := contracts.Digest(tr)
	if err != nil {
		t.Fatal(err)
	}
	// The same record decoded from JSON with its members reordered and spaced.
	b, _ := json.Marshal(tr)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	pretty, _ := json.MarshalIndent(m, "", "   ") // map keys come out sorted: another order
	back, err := contracts.Decode(pretty)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := contracts.Digest(back)
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 {
		t.Error("digest depends on the encoding")
	}
	c1, _ := contracts.Canonical(tr)
	c2, _ := contracts.CanonicalizeJSON(pretty)
	if string(c1) != string(c2) {
		t.Errorf("canonical forms differ:\n%s\n%s", c1, c2)
	}
	// Any change of content changes the digest.
	tr.Placement.MonthlyWageFen++
	if d3, _ := contracts.Digest(tr); d3 == d1 {
		t.Error("digest ignores the wage")
	}
}

func TestCheckJSON(t *testing.T) {
	g := generator(t)
	a, _ := json.Marshal(g.Agreement())
	if p := contracts.CheckJSON(a, now); p != nil {
		t.Errorf("agreement: %v", p)
	}
	bad := strings.Replace(string(a), `"version":1`, `"version":0`, 1)
	if p := contracts.CheckJSON([]byte(bad), now); len(p) != 1 || p[0].Path != "version" {
		t.Errorf("bad agreement: %v", p)
	}
	if p := contracts.CheckJSON([]byte(`{"schema":"laborlink.transfer/v1","x":1}`), now); len(p) != 1 || p[0].Path != "x" {
		t.Errorf("unknown field: %v", p)
	}
}

// TestDecodeAgreementNamesWrongKindsInArrays: an element of an array member
// of another JSON kind than the agreement schema says the array holds is
// refused, naming the element by its path and where it starts;
// encoding/json named the array alone ("scope.purposes"), not which rule
// nor which element. A null element is taken, as encoding/json takes it.
// Every array member of the schema is tried.
func TestDecodeAgreementNamesWrongKindsInArrays(t *testing.T) {
	arrays := schemaArrays(t, "agreement")
	if len(arrays) == 0 {
		t.Fatal("found no array member in the agreement schema")
	}
	good := map[string]any{"string": "statistics", "object": map[string]any{}}
	wrong := map[string]any{"string": 7, "object": "x"}
	for _, a := range arrays {
		t.Run(a.path(), func(t *testing.T) {
			doc := a.document(t, good[a.items], wrong[a.items])
			_, err := contracts.DecodeAgreement(doc)
			var de *contracts.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%s: err = %v, want a *DecodeError", doc, err)
			}
			bad, _ := json.Marshal(wrong[a.items])
			want := bytes.LastIndex(doc, append([]byte{','}, bad...)) + 1
			if de.Path != a.path() || de.Offset != int64(want) || !strings.Contains(de.Message, "is not a valid "+a.items) {
				t.Errorf("%s: got %v; want %s at offset %d, not a valid %s", doc, err, a.path(), want, a.items)
			}
			if doc := a.document(t, good[a.items], nil); !json.Valid(doc) {
				t.Fatalf("built %s", doc)
			} else if _, err := contracts.DecodeAgreement(doc); err != nil {
				t.Errorf("%s: a null element refused: %v", doc, err)
			}
		})
	}
}

// schemaArray is an array member of a schema: the members on the way to
// it, each saying whether it is an array, and the JSON kind of its items.
type schemaArray struct {
	steps []schemaStep
	items string
}

type schemaStep struct {
	name  string
	array bool
}

// path names the second element of the array, and of every array on the
// way to it, as a DecodeError does.
func (a schemaArray) path() string {
	var parts []string
	for _, s := range a.steps {
		if s.array {
			parts = append(parts, s.name+"[1]")
		} else {
			parts = append(parts, s.name)
		}
	}
	return strings.Join(parts, ".")
}

// document is an agreement whose array a holds good then bad, as the
// second element of every array on the way to it.
func (a schemaArray) document(t *testing.T, good, bad any) []byte {
	t.Helper()
	var v any = []any{good, bad}
	for i := len(a.steps) - 2; i >= 0; i-- {
		v = map[string]any{a.steps[i+1].name: v}
		if a.steps[i].array {
			v = []any{map[string]any{}, v}
		}
	}
	doc, err := json.Marshal(map[string]any{"schema": contracts.SchemaAgreement, a.steps[0].name: v})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// schemaArrays returns the array members of a schema document, with the
// kind of their items read through a $ref into common.json.
func schemaArrays(t *testing.T, name string) []schemaArray {
	t.Helper()
	read := func(name string) map[string]any {
		b, err := contracts.JSONSchema(name)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	defs := read("common")["$defs"].(map[string]any)
	kind := func(node map[string]any) string {
		if ref, ok := node["$ref"].(string); ok {
			node = defs[strings.TrimPrefix(ref, "common.json#/$defs/")].(map[string]any)
		}
		k, _ := node["type"].(string)
		return k
	}
	var out []schemaArray
	var walk func(steps []schemaStep, node map[string]any)
	walk = func(steps []schemaStep, node map[string]any) {
		props, _ := node["properties"].(map[string]any)
		for member, sub := range props {
			sub := sub.(map[string]any)
			step := schemaStep{name: member, array: sub["type"] == "array"}
			path := append(slices.Clone(steps), step)
			if step.array {
				items := sub["items"].(map[string]any)
				out = append(out, schemaArray{steps: path, items: kind(items)})
				sub = items
			}
			walk(path, sub)
		}
	}
	walk(nil, read(name))
	return out
}
