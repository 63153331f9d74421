package contracts

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// notInterned are this package's string types whose values codes leaves
// out, as no decoder that interns reads them: agreements are decoded by
// encoding/json (DecodeAgreement), and a division level is in no document.
// A string type added later must be interned or listed here.
var notInterned = map[string]bool{"AgreementStatus": true, "QuotaPeriod": true, "DivisionLevel": true}

// TestCodesHoldEveryDeclaredValue: every constant of a string type of this
// package (but notInterned) and every schema name is in codes. The
// validators accept those constants, so a value added to a type without
// adding it to codes fails here rather than being copied on every decode.
func TestCodesHoldEveryDeclaredValue(t *testing.T) {
	values := declaredCodes(t)
	if len(values) == 0 {
		t.Fatal("no constants of a string type found in the package's source")
	}
	for name, v := range values {
		if _, ok := codes()[v]; !ok {
			t.Errorf("%s = %q is not in codes (decodecodes.go)", name, v)
		}
	}
}

// TestCodesHoldEverySchemaEnum: every string a JSON Schema of a document
// the decoders read allows in an enum or a const is in codes: the
// schemas state the contracts for integrators, so a value they allow is
// one the decoders meet. agreement.json is left out: agreements are
// decoded by encoding/json, without interning (notInterned).
func TestCodesHoldEverySchemaEnum(t *testing.T) {
	names, err := fs.Glob(JSONSchemas(), "*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("schemas %v: %v", names, err)
	}
	seen := 0
	for _, name := range names {
		if name == "agreement.json" {
			continue
		}
		data, err := fs.ReadFile(JSONSchemas(), name)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, v := range schemaEnumStrings(doc) {
			seen++
			if _, ok := codes()[v]; !ok {
				t.Errorf("%s allows %q, which is not in codes (decodecodes.go)", name, v)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no enum or const strings found in the schemas")
	}
}

// declaredCodes reads the package's source and returns, by constant name,
// the value of every constant of a string type (but notInterned) and of
// every Schema constant. A constant of such a type whose value is not a
// string literal fails the test, not to be passed over.
func declaredCodes(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var parsed []*ast.File
	stringTypes := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, f)
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if id, ok := ts.Type.(*ast.Ident); ok && id.Name == "string" && !notInterned[ts.Name.Name] {
					stringTypes[ts.Name.Name] = true
				}
			}
			return true
		})
	}
	values := map[string]string{}
	for _, f := range parsed {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				typ, _ := vs.Type.(*ast.Ident)
				for i, id := range vs.Names {
					isCode := typ != nil && stringTypes[typ.Name] || typ == nil && strings.HasPrefix(id.Name, "Schema")
					if !isCode {
						continue
					}
					if i >= len(vs.Values) {
						t.Fatalf("%s: %s has no value of its own", fset.Position(id.Pos()), id.Name)
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: %s is not a string literal; read it here some other way", fset.Position(id.Pos()), id.Name)
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					values[id.Name] = v
				}
			}
		}
	}
	return values
}

// schemaEnumStrings returns the strings in the enum and const keywords of
// a decoded JSON Schema document, at any depth.
func schemaEnumStrings(node any) []string {
	var out []string
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			switch k {
			case "enum":
				for _, e := range v.([]any) {
					if s, ok := e.(string); ok {
						out = append(out, s)
					}
				}
			case "const":
				if s, ok := v.(string); ok {
					out = append(out, s)
				}
			default:
				out = append(out, schemaEnumStrings(v)...)
			}
		}
	case []any:
		for _, v := range n {
			out = append(out, schemaEnumStrings(v)...)
		}
	}
	return out
}
