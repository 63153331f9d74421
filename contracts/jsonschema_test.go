package contracts_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// docKinds are the document kinds with a schema, longest name first so that
// "referral-update-x.json" is not taken for a referral.
var docKinds = []string{"referral-update", "confirmation", "agreement", "transfer", "referral", "envelope", "receipt"}

func kindOf(t *testing.T, file string) string {
	t.Helper()
	base := filepath.Base(file)
	for _, k := range docKinds {
		if strings.HasPrefix(base, k+".") || strings.HasPrefix(base, k+"-") {
			return k
		}
	}
	t.Fatalf("%s: name does not start with a document kind", file)
	return ""
}

func compileSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	names, err := fs.Glob(contracts.JSONSchemas(), "*.json")
	if err != nil || len(names) != len(docKinds)+1 {
		t.Fatalf("schemas %v (%v), want one per kind and common.json", names, err)
	}
	for _, name := range names {
		b, _ := fs.ReadFile(contracts.JSONSchemas(), name)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.AddResource(contracts.JSONSchemaBase+name, doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, k := range docKinds {
		s, err := c.Compile(contracts.JSONSchemaBase + k + ".json")
		if err != nil {
			t.Fatalf("compile %s: %v", k, err)
		}
		out[k] = s
	}
	return out
}

// goCheck is the Go side's verdict on a document of a kind.
func goCheck(kind string, data []byte) error {
	switch kind {
	case "envelope":
		_, err := contracts.DecodeEnvelope(data)
		return err
	case "receipt":
		_, err := contracts.DecodeReceipt(data)
		return err
	}
	if p := contracts.CheckJSON(data, now); p != nil {
		return contracts.ValidationError(p)
	}
	return nil
}

func schemaCheck(t *testing.T, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(v)
}

// TestExamples runs every example against both the Go validator and the JSON
// Schema. Invalid examples named *.goonly.json break rules a schema cannot
// state (check characters, the division table, relations between fields) and
// must fail in Go and pass the schema, which shows where the schema stops.
func TestExamples(t *testing.T) {
	schemas := compileSchemas(t)
	valid, _ := filepath.Glob("testdata/valid/*.json")
	invalid, _ := filepath.Glob("testdata/invalid/*.json")
	if len(valid) < len(docKinds) || len(invalid) < 20 {
		t.Fatalf("%d valid and %d invalid examples; want one valid per kind and many invalid", len(valid), len(invalid))
	}
	seen := map[string]bool{}
	for _, file := range valid {
		t.Run(file, func(t *testing.T) {
			data, _ := os.ReadFile(file)
			kind := kindOf(t, file)
			seen[kind] = true
			if err := goCheck(kind, data); err != nil {
				t.Errorf("Go: %v", err)
			}
			if err := schemaCheck(t, schemas[kind], data); err != nil {
				t.Errorf("schema: %v", err)
			}
		})
	}
	for _, k := range docKinds {
		if !seen[k] {
			t.Errorf("no valid example of %s", k)
		}
	}
	for _, file := range invalid {
		t.Run(file, func(t *testing.T) {
			data, _ := os.ReadFile(file)
			kind := kindOf(t, file)
			if err := goCheck(kind, data); err == nil {
				t.Error("Go accepts it")
			}
			err := schemaCheck(t, schemas[kind], data)
			goOnly := strings.HasSuffix(file, ".goonly.json")
			if goOnly && err != nil {
				t.Errorf("marked Go-only but the schema rejects it too: %v", err)
			}
			if !goOnly && err == nil {
				t.Error("the schema accepts it")
			}
		})
	}
}

func TestExampleEnvelopeVerifies(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32)) // the example key; never use it for anything else
	data, _ := os.ReadFile("testdata/valid/envelope.json")
	env, err := contracts.DecodeEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Verify(key.Public()); err != nil {
		t.Error(err)
	}
	data, _ = os.ReadFile("testdata/valid/receipt.json")
	r, err := contracts.DecodeReceipt(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(key.Public()); err != nil || !r.Matches(env) {
		t.Errorf("receipt: %v, matches %v", err, r.Matches(env))
	}
}

// TestSchemaFieldsMatchGo holds each record schema's members equal to the Go
// type's JSON field paths, so neither can grow a field the other lacks.
func TestSchemaFieldsMatchGo(t *testing.T) {
	for _, rt := range append(contracts.RecordTypes(), contracts.RecordAgreement) {
		b, err := contracts.JSONSchema(string(rt))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		var paths []string
		var walk func(prefix string, node map[string]any)
		walk = func(prefix string, node map[string]any) {
			if items, ok := node["items"].(map[string]any); ok {
				node = items
			}
			props, _ := node["properties"].(map[string]any)
			for name, sub := range props {
				paths = append(paths, prefix+name)
				walk(prefix+name+".", sub.(map[string]any))
			}
		}
		walk("", doc)
		slices.Sort(paths)
		want := contracts.FieldPaths(rt)
		slices.Sort(want)
		if !slices.Equal(paths, want) {
			t.Errorf("%s:\nschema %v\n    Go %v", rt, paths, want)
		}
	}
}

// TestSchemaIndustryAgreesWithValidator holds the schema's industry pattern
// to CheckIndustry: a code the schema admits and the validator refuses
// ("C1") would pass an integrator's checks and be refused at submission.
func TestSchemaIndustryAgreesWithValidator(t *testing.T) {
	b, err := fs.ReadFile(contracts.JSONSchemas(), "common.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(contracts.JSONSchemaBase+"common.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(contracts.JSONSchemaBase + "common.json#/$defs/industry")
	if err != nil {
		t.Fatal(err)
	}
	codes := []string{"", "C", "C1", "C18", "C181", "C1810", "C18101", "T", "U18", "c18", "C1a"}
	// Every section with every division: each division belongs to one section.
	for s := 'A'; s <= 'U'; s++ {
		for d := range 100 {
			codes = append(codes, fmt.Sprintf("%c%02d", s, d), fmt.Sprintf("%c%02d10", s, d))
		}
	}
	for _, code := range codes {
		schemaOK := s.Validate(code) == nil
		goOK := contracts.CheckIndustry(code) == nil
		if schemaOK != goOK {
			t.Errorf("industry %q: schema accepts=%v, CheckIndustry accepts=%v", code, schemaOK, goOK)
		}
	}
}

// TestSchemaTextAgreesWithValidator holds the schema's text patterns to the
// validator's: names and an approval's admin refuse every control
// character, notes all but line breaks and tabs, and all U+FFFD, the mark
// of invalid UTF-8.
func TestSchemaTextAgreesWithValidator(t *testing.T) {
	schemas := compileSchemas(t)
	b, err := os.ReadFile("testdata/valid/referral.json")
	if err != nil {
		t.Fatal(err)
	}
	agreement, err := os.ReadFile("testdata/valid/agreement.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"田涛", "a\nb", "a\r\nb", "a\tb", "a\x00b", "a\x07b", "a\x1fb", "a\x7fb", "a\ufffdb", "a\u0080b"} {
		for _, member := range []string{"notes", "worker.name"} {
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if member == "notes" {
				doc["notes"] = s
			} else {
				doc["worker"].(map[string]any)["name"] = s
			}
			data, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			schemaOK := schemaCheck(t, schemas["referral"], data) == nil
			goOK := goCheck("referral", data) == nil
			if schemaOK != goOK {
				t.Errorf("%s %q: schema accepts=%v, Go accepts=%v", member, s, schemaOK, goOK)
			}
		}
		var ag map[string]any
		if err := json.Unmarshal(agreement, &ag); err != nil {
			t.Fatal(err)
		}
		ag["approvals"] = []any{map[string]any{"province": "51", "admin": s, "at": "2026-01-05T10:00:00Z", "signature": "AQID"}}
		data, err := json.Marshal(ag)
		if err != nil {
			t.Fatal(err)
		}
		schemaOK := schemaCheck(t, schemas["agreement"], data) == nil
		goOK := goCheck("agreement", data) == nil
		if schemaOK != goOK {
			t.Errorf("approvals[0].admin %q: schema accepts=%v, Go accepts=%v", s, schemaOK, goOK)
		}
	}
}
