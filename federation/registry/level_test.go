package registry

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

// opConstants reads the Op constants declared in command.go, so that a new
// op without a level fails the test rather than relying on a list kept by
// hand.
func opConstants(t *testing.T) map[string]Op {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "command.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]Op{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Op" {
				continue
			}
			for i, name := range vs.Names {
				lit := vs.Values[i].(*ast.BasicLit)
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatalf("%s: %v", name.Name, err)
				}
				ops[name.Name] = Op(v)
			}
		}
	}
	if len(ops) < 16 {
		t.Fatalf("found only %d Op constants in command.go: %v", len(ops), ops)
	}
	return ops
}

func TestEveryOpHasACommandLevel(t *testing.T) {
	ops := opConstants(t)
	highest := 0
	for name, op := range ops {
		l, ok := opLevels[op]
		switch {
		case !ok:
			t.Errorf("%s (%q) has no command level: give it CommandLevel+1 in opLevels and bump CommandLevel", name, op)
		case l < 1 || l > CommandLevel:
			t.Errorf("%s (%q) has level %d, outside 1..CommandLevel (%d)", name, op, l, CommandLevel)
		}
		highest = max(highest, l)
	}
	if highest != CommandLevel {
		t.Errorf("the highest op level is %d, but CommandLevel is %d", highest, CommandLevel)
	}
	if len(opLevels) != len(ops) {
		t.Errorf("opLevels has %d entries for %d Op constants: %v", len(opLevels), len(ops), opLevels)
	}
	for op, want := range map[Op]int{OpPropose: 1, OpMemberAddV1: 1, OpCertRevoke: 1, OpCertIssued: 2, OpMemberRemove: 3, OpMemberExpel: 4, OpApproveV1: 1, OpApprove: 5,
		OpAmendV1: 1, OpAmend: 6, OpMemberAdd: 6} {
		if opLevels[op] != want {
			t.Errorf("%s: level %d, want %d", op, opLevels[op], want)
		}
	}
}

func TestLevelRefusal(t *testing.T) {
	up := NodeLevel{ID: "p11/node/gw-1", Level: 3}
	newer := NodeLevel{ID: "p51/node/gw-1", Level: 4}
	behind := NodeLevel{ID: "p44/node/gw-1", Level: 2}
	old := NodeLevel{ID: "p44/node/gw-2"}
	down := NodeLevel{ID: "p33/node/gw-1", APIAddr: "10.0.0.3:8443", Problem: "did not answer at 10.0.0.3:8443"}
	tests := []struct {
		name   string
		need   int
		levels []NodeLevel
		want   string
	}{
		{"all know it", 3, []NodeLevel{up, newer}, ""},
		{"level 2 is enough", 2, []NodeLevel{up, behind}, ""},
		{"behind", 3, []NodeLevel{up, behind, newer},
			"member.remove needs every node on a release that knows it (command level 3): p44/node/gw-1 reports level 2 (upgrade them)"},
		{"older than levels", 3, []NodeLevel{old},
			"member.remove needs every node on a release that knows it (command level 3): p44/node/gw-2 runs a release that does not report its command level (upgrade them)"},
		{"down", 3, []NodeLevel{up, down},
			"member.remove needs every node on a release that knows it (command level 3): p33/node/gw-1 did not answer at 10.0.0.3:8443 (wait until they are back, or remove them from the registry if they are gone for good)"},
		{"both", 3, []NodeLevel{up, behind, down},
			"member.remove needs every node on a release that knows it (command level 3): p44/node/gw-1 reports level 2, p33/node/gw-1 did not answer at 10.0.0.3:8443 (upgrade the nodes behind, and wait until the others are back)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := levelRefusal(OpMemberRemove, tt.need, tt.levels)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if ErrorCode(err) != EConflict || err.Error() != tt.want {
				t.Fatalf("got %s %q\nwant %s %q", ErrorCode(err), err, EConflict, tt.want)
			}
		})
	}
}
