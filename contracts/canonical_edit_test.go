package contracts_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
)

// editor is a PayloadEditor of function fields: edits for the one pass,
// and apply for the second pass (EditCanonicalJSON of edits when nil).
type editor struct {
	edits map[string]*contracts.Edits
	apply func(canonical []byte) ([]byte, error)
}

func (e editor) CanonicalEdits() map[string]*contracts.Edits { return e.edits }

func (e editor) ApplyCanonical(canonical []byte) ([]byte, error) {
	if e.apply != nil {
		return e.apply(canonical)
	}
	return contracts.EditCanonicalJSON(canonical, e.edits)
}

// replacers are the Replace functions edit specs name: masks as policy
// writes them, and replacements that need escaping or are not UTF-8.
var replacers = map[string]func(string) string{
	"all":  func(s string) string { return strings.Repeat("*", utf8.RuneCountInString(s)) },
	"name": keepFirst,
	"same": func(s string) string { return s },
	"esc":  func(s string) string { return s + "\"\\\n\x01\u2028" },
	"bad":  func(s string) string { return s + "\xff" },
	"none": func(string) string { return "" },
}

// keepFirst masks all but the first rune, as policy's name mask does.
func keepFirst(s string) string {
	_, n := utf8.DecodeRuneInString(s)
	return s[:n] + strings.Repeat("*", utf8.RuneCountInString(s[n:]))
}

// editSpec is one edit: drop, or a replacer's name, at a dotted path.
type editSpec struct{ action, path string }

func (s editSpec) String() string { return s.action + " " + s.path }

// editsFor builds the tree of edits specs say, as policy builds it from
// obligations.
func editsFor(specs []editSpec) map[string]*contracts.Edits {
	edits := map[string]*contracts.Edits{}
	for _, s := range specs {
		e := contracts.EditsAt(edits, s.path)
		if s.action == "drop" {
			e.Drop = true
		} else {
			e.Replace = replacers[s.action]
		}
	}
	return edits
}

// TestEditsAt holds that edits at a path and at a path below it keep each
// other, in either order, and that the edits of a path are found again.
func TestEditsAt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		specs []editSpec
	}{
		{"above first", []editSpec{{"drop", "worker"}, {"all", "worker.id_number"}}},
		{"below first", []editSpec{{"all", "worker.id_number"}, {"drop", "worker"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			edits := editsFor(tc.specs)
			worker := edits["worker"]
			if len(edits) != 1 || worker == nil || !worker.Drop || len(worker.Members) != 1 {
				t.Fatalf("worker edits %+v", worker)
			}
			if id := contracts.EditsAt(edits, "worker.id_number"); id != worker.Members["id_number"] || id.Replace == nil || id.Drop {
				t.Fatalf("worker.id_number edits %+v", id)
			}
		})
	}
}

// checkOnePass holds the one pass to the two (Canonical, then
// EditCanonicalJSON): where it writes, the same bytes. It reports whether
// the one pass wrote and whether the two passes succeeded.
func checkOnePass(t *testing.T, v any, specs []editSpec) (onePass, twoPass bool) {
	t.Helper()
	edits := editsFor(specs)
	got, onePass := contracts.CanonicalEditedOnePass(v, edits)
	canon, err := contracts.Canonical(v)
	if err != nil {
		if onePass {
			t.Fatalf("%v: one pass wrote %s of a value Canonical refuses: %v", specs, got, err)
		}
		return false, false
	}
	want, err := contracts.EditCanonicalJSON(canon, edits)
	if onePass && (err != nil || !bytes.Equal(got, want)) {
		t.Fatalf("%s with %v:\none pass %s\ntwo pass %s, %v", canon, specs, got, want, err)
	}
	return onePass, err == nil
}

// synthRecords are records of every type synth makes, with their types.
func synthRecords(g *synth.Generator) []struct {
	v   any
	typ contracts.RecordType
} {
	tr, ref := g.Transfer(), g.Referral()
	return []struct {
		v   any
		typ contracts.RecordType
	}{
		{tr, contracts.RecordTransfer},
		{g.Confirmation(tr), contracts.RecordConfirmation},
		{ref, contracts.RecordReferral},
		{g.ReferralUpdate(ref), contracts.RecordReferralUpdate},
		{g.Agreement(), contracts.RecordAgreement},
	}
}

// randomSpecs draws drops and replacements over a record's field paths:
// now and then a path below a leaf, one that is absent, or every member of
// an object dropped, so that the object goes too.
func randomSpecs(rng *rand.Rand, paths []string) []editSpec {
	actions := slices.Sorted(maps.Keys(replacers))
	actions = append(actions, "drop", "drop", "drop")
	var specs []editSpec
	for range rng.IntN(8) {
		p := paths[rng.IntN(len(paths))]
		switch rng.IntN(10) {
		case 0:
			p += ".deeper"
		case 1:
			p = "nowhere." + p
		case 2:
			specs = append(specs, dropMembers(p, paths)...)
			continue
		}
		specs = append(specs, editSpec{actions[rng.IntN(len(actions))], p})
	}
	return specs
}

// dropMembers drops every member below object path p.
func dropMembers(p string, paths []string) []editSpec {
	var specs []editSpec
	for _, q := range paths {
		if rest, ok := strings.CutPrefix(q, p+"."); ok && !strings.Contains(rest, ".") {
			specs = append(specs, editSpec{"drop", q})
		}
	}
	return specs
}

// TestCanonicalEditedMatchesTwoPasses edits synthetic records of every type
// with random edits over their field paths in one pass and in two, and
// holds the one pass to the same bytes, and to writing whenever the two
// passes succeed (they fail only on a replacement of what is not a string).
func TestCanonicalEditedMatchesTwoPasses(t *testing.T) {
	var wrote, refused int
	for seed := range uint64(200) {
		g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(seed, 1))
		for range 5 {
			for _, r := range synthRecords(g) {
				specs := randomSpecs(rng, contracts.FieldPaths(r.typ))
				onePass, twoPass := checkOnePass(t, r.v, specs)
				if onePass != twoPass {
					t.Fatalf("%T with %v: one pass %v, two passes %v", r.v, specs, onePass, twoPass)
				}
				if onePass {
					wrote++
				} else {
					refused++
				}
			}
		}
	}
	if wrote == 0 || refused == 0 {
		t.Fatalf("one pass wrote %d and both refused %d: the draws miss a case", wrote, refused)
	}
}

// edgeInner is an object inside edgeRecord.
type edgeInner struct {
	A string `json:"a"`
	B string `json:"b,omitempty"`
	N int    `json:"n"`
}

// edgeMarshaled writes itself, not in canonical form.
type edgeMarshaled struct{}

func (edgeMarshaled) MarshalJSON() ([]byte, error) {
	return []byte(`{ "y": "z", "x": [1, {"b":2,"a":1}] }`), nil
}

// edgeRecord has a member of each sort the canonical encoder writes.
type edgeRecord struct {
	edgeInner
	Nested  edgeInner              `json:"nested"`
	Nested2 struct{ In edgeInner } `json:"nested2"`
	Ptr     *edgeInner             `json:"ptr"`
	NilPtr  *edgeInner             `json:"nil_ptr"`
	Empty   struct{}               `json:"empty"`
	Blank   struct {
		X string `json:",omitempty"`
	} `json:"blank"`
	Map    map[string]string `json:"map"`
	Any    any               `json:"any"`
	Raw    json.RawMessage   `json:"raw"`
	Marsh  edgeMarshaled     `json:"marsh"`
	When   time.Time         `json:"when"`
	Day    contracts.Date    `json:"day"`
	StrPtr *string           `json:"str_ptr"`
	NilStr *string           `json:"nil_str"`
	Num    json.Number       `json:"num"`
	Bad    string            `json:"bad"`
	Esc    string            `json:"esc"`
	List   []edgeInner       `json:"list"`
}

// edgeQuoted has a member the canonical encoder leaves to json.Marshal.
type edgeQuoted struct {
	Q int    `json:"q,string"`
	S string `json:"s"`
}

// newEdgeRecord fills an edgeRecord with s where it holds text.
func newEdgeRecord(s string) *edgeRecord {
	r := &edgeRecord{
		edgeInner: edgeInner{A: s, N: 1},
		Nested:    edgeInner{A: "x" + s, B: "y", N: 2},
		Ptr:       &edgeInner{A: s},
		Map:       map[string]string{"k": s, "é": "v", "a": "w"},
		Any:       edgeInner{A: s, B: s},
		Raw:       json.RawMessage(`{"r": "` + "s" + `", "e": {}}`),
		When:      time.Date(2026, 3, 2, 10, 30, 0, 5e8, time.FixedZone("", 8*3600)),
		Day:       contracts.DateOf(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)),
		StrPtr:    &s,
		Num:       "42",
		Bad:       s + "\xff\xfe",
		Esc:       s + "\"\\\t\x00",
		List:      []edgeInner{{A: s}},
	}
	r.Nested2.In = edgeInner{A: s, N: 3}
	return r
}

// TestCanonicalEditedEdges edits a value of every sort of member, and says
// which edits the one pass writes and which it leaves to the two passes.
func TestCanonicalEditedEdges(t *testing.T) {
	rec := newEdgeRecord("张三丰")
	tests := []struct {
		name    string
		v       any
		specs   []editSpec
		onePass bool
	}{
		{"no edits", rec, nil, true},
		{"drop promoted", rec, []editSpec{{"drop", "a"}}, true},
		{"mask promoted", rec, []editSpec{{"name", "a"}}, true},
		{"drop empties", rec, []editSpec{{"drop", "nested.a"}, {"drop", "nested.b"}, {"drop", "nested.n"}}, true},
		{"drop empties two deep", rec, []editSpec{{"drop", "nested2.In.a"}, {"drop", "nested2.In.n"}}, true},
		{"drop below leaf", rec, []editSpec{{"drop", "a.x"}, {"all", "n.x"}}, true},
		{"empty stays", rec, []editSpec{{"drop", "empty.x"}, {"drop", "blank.X"}}, true},
		{"drop everything", rec, dropAll(rec), true},
		{"map", rec, []editSpec{{"all", "map.k"}, {"drop", "map.é"}}, true},
		{"map emptied", rec, []editSpec{{"drop", "map.k"}, {"drop", "map.é"}, {"drop", "map.a"}}, true},
		{"interface", rec, []editSpec{{"name", "any.a"}, {"drop", "any.n"}}, true},
		{"raw", rec, []editSpec{{"drop", "raw.r"}, {"drop", "raw.e.x"}}, true},
		{"marshaler", rec, []editSpec{{"esc", "marsh.y"}, {"drop", "marsh.x.a"}}, true},
		{"time", rec, []editSpec{{"all", "when"}}, true},
		{"date", rec, []editSpec{{"name", "day"}}, true},
		{"string pointer", rec, []editSpec{{"bad", "str_ptr"}}, true},
		{"nil pointer", rec, []editSpec{{"drop", "nil_ptr.a"}, {"all", "ptr.a"}}, true},
		{"invalid UTF-8", rec, []editSpec{{"same", "bad"}, {"esc", "esc"}}, true},
		{"drop wins", rec, []editSpec{{"drop", "nested"}, {"all", "nested"}, {"all", "nested.a"}}, true},
		{"replace wins", rec, []editSpec{{"all", "a"}, {"drop", "a.b"}}, true},
		{"into array", rec, []editSpec{{"drop", "list.a"}}, true},
		{"mask null", rec, []editSpec{{"all", "nil_str"}}, false},
		{"mask number", rec, []editSpec{{"all", "num"}}, false},
		{"mask int", rec, []editSpec{{"all", "n"}}, false},
		{"mask object", rec, []editSpec{{"all", "nested"}}, false},
		{"mask array", rec, []editSpec{{"all", "list"}}, false},
		{"quoted", edgeQuoted{Q: 5, S: "s"}, []editSpec{{"all", "s"}}, false},
		{"quoted members", edgeQuoted{Q: 5, S: "s"}, []editSpec{{"drop", "q.x"}}, false},
		{"top map", map[string]any{"a": "x", "b": map[string]any{"c": "y"}}, []editSpec{{"all", "a"}, {"drop", "b.c"}}, true},
		{"top string", "x", []editSpec{{"drop", "a"}}, false},
		{"top nil pointer", (*edgeInner)(nil), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			onePass, twoPass := checkOnePass(t, tt.v, tt.specs)
			if onePass != tt.onePass {
				t.Fatalf("one pass %v, want %v (two passes %v)", onePass, tt.onePass, twoPass)
			}
		})
	}
}

// dropAll drops every member of v's object.
func dropAll(v any) []editSpec {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	var specs []editSpec
	for k := range m {
		specs = append(specs, editSpec{"drop", k})
	}
	return specs
}

// FuzzCanonicalEdited holds the one pass to the two on a synthetic record
// (by seed and type) and on an edgeRecord holding text, both edited as spec
// says (one edit a line: "drop PATH" or "REPLACER PATH").
func FuzzCanonicalEdited(f *testing.F) {
	f.Add(uint64(1), uint8(0), "name worker.name\nall worker.id_number\ndrop labor_brand", "张三")
	f.Add(uint64(2), uint8(0), "drop training.certificate.number\ndrop training.certificate.skill_level", "a\"b")
	f.Add(uint64(3), uint8(2), "esc nested.a\ndrop map.k\nbad any.b", "\xff")
	f.Add(uint64(4), uint8(1), "all worker.name\ndrop nested2.In.a\ndrop nested2.In.n", "")
	f.Fuzz(func(t *testing.T, seed uint64, kind uint8, spec, text string) {
		var specs []editSpec
		for line := range strings.Lines(spec) {
			action, path, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
			if _, ok := replacers[action]; ok || action == "drop" {
				specs = append(specs, editSpec{action, path})
			}
		}
		g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		records := synthRecords(g)
		r := records[int(kind)%len(records)]
		if onePass, twoPass := checkOnePass(t, r.v, specs); onePass != twoPass {
			t.Fatalf("%T with %v: one pass %v, two passes %v", r.v, specs, onePass, twoPass)
		}
		checkOnePass(t, newEdgeRecord(text), specs)
	})
}
