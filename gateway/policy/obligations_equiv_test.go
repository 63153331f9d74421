package policy

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
)

// checkApplySame holds Apply (one pass while canonicalizing) to applyTree
// (the generic tree it replaced): the same bytes, or the same error.
func checkApplySame(t *testing.T, doc []byte, obl map[string]Obligation) {
	t.Helper()
	got, err := Apply(doc, obl)
	want, werr := applyTree(doc, obl)
	switch {
	case err != nil || werr != nil:
		if err == nil || werr == nil || err.Error() != werr.Error() {
			t.Fatalf("%s with %v:\n error %v\n  tree %v", doc, obl, err, werr)
		}
	case string(got) != string(want):
		t.Fatalf("%s with %v:\n  got %s\n tree %s", doc, obl, got, want)
	}
}

// objectPaths lists the dotted paths of every member of doc's objects, not
// descending into arrays, as obligations name them.
func objectPaths(prefix string, m map[string]any, out []string) []string {
	for k, v := range m {
		p := prefix + k
		out = append(out, p)
		if sub, ok := v.(map[string]any); ok {
			out = objectPaths(p+".", sub, out)
		}
	}
	return out
}

// randomObligations draws drops and masks over a record's paths, and now and
// then a path below a leaf or absent.
func randomObligations(rng *rand.Rand, paths []string) map[string]Obligation {
	patterns := MaskPatterns()
	obl := make(map[string]Obligation)
	for range rng.IntN(8) {
		p := paths[rng.IntN(len(paths))]
		switch rng.IntN(10) {
		case 0:
			p += ".deeper"
		case 1:
			p = "nowhere." + p
		}
		if rng.IntN(2) == 0 {
			obl[p] = Obligation{Action: ActionDrop}
		} else {
			obl[p] = Obligation{Action: ActionMask, Pattern: patterns[rng.IntN(len(patterns))]}
		}
	}
	return obl
}

// TestApplyMatchesTree applies random obligations to thousands of synthetic
// records of every type, both as json.Marshal writes them and canonical.
func TestApplyMatchesTree(t *testing.T) {
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 1000 {
		tr := g.Transfer()
		ref := g.Referral()
		for _, rec := range []any{tr, g.Confirmation(tr), ref, g.ReferralUpdate(ref)} {
			doc, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			var tree map[string]any
			if err := json.Unmarshal(doc, &tree); err != nil {
				t.Fatal(err)
			}
			paths := objectPaths("", tree, nil)
			slices.Sort(paths)
			obl := randomObligations(rng, paths)
			checkApplySame(t, doc, obl)
			canon, err := contracts.Canonical(rec)
			if err != nil {
				t.Fatal(err)
			}
			checkApplySame(t, canon, obl)
			// A canonical record gives the same through ApplyCanonical.
			want, werr := Apply(canon, obl)
			got, gerr := decisionWith(obl).ApplyCanonical(canon)
			if string(got) != string(want) || (werr == nil) != (gerr == nil) {
				t.Fatalf("ApplyCanonical of %s with %v:\n got %s, %v\nwant %s, %v", canon, obl, got, gerr, want, werr)
			}
		}
	}
}

func TestApplyMatchesTreeEdges(t *testing.T) {
	docs := []string{
		`{"a":{"b":{"c":1}},"d":{}}`, `{"a":{"b":{}},"e":"x"}`, `{"a":"s","a":"t"}`,
		`{"a":1} {"b":2}`, `null`, `[1]`, `{"a":1.5}`, `{"z":{"y":"\u00e9\ud800x"},"a":{"b":"\xff\xfeab"}}`,
		`{"a":{"b":"1234567890","c":[{"d":"x"}]}}`, `{}`, `{"":{"":"x"}}`,
	}
	obls := []map[string]Obligation{
		nil,
		{"a.b.c": {Action: ActionDrop}},
		{"a.b": {Action: ActionDrop}, "d.x": {Action: ActionDrop}},
		{"a": {Action: ActionMask, Pattern: "all"}, "a.b": {Action: ActionDrop}},
		{"a": {Action: ActionDrop}, "a.b": {Action: ActionMask, Pattern: "all"}},
		{"a.b": {Action: ActionMask, Pattern: "phone"}, "z.y": {Action: ActionMask, Pattern: "name"}},
		{"a.c.d": {Action: ActionDrop}, "a.c": {Action: ActionMask, Pattern: "all"}},
		{"a.b": {Action: ActionMask, Pattern: "rot13"}},
		{"": {Action: ActionDrop}}, {".": {Action: ActionMask, Pattern: "all"}},
		{"a.b": {Action: "encrypt"}, "e": {Action: ActionDrop}},
	}
	for _, d := range docs {
		for _, o := range obls {
			checkApplySame(t, []byte(d), o)
		}
	}
}

// FuzzApplyEquivalence holds Apply to applyTree on arbitrary documents and
// obligations (one a line: "drop PATH" or "PATTERN PATH").
func FuzzApplyEquivalence(f *testing.F) {
	f.Add([]byte(`{"worker":{"name":"张三","id_number":"510104199001011234"},"x":{"y":{}}}`), "name worker.name\ndrop x.y\nid_number worker.id_number")
	f.Add([]byte(`{"a":{"b":1}}`), "drop a.b")
	f.Add([]byte(`{"a":{"b":1},"a":{"c":"x"}}`), "all a.c")
	f.Fuzz(func(t *testing.T, doc []byte, spec string) {
		obl := make(map[string]Obligation)
		for _, line := range strings.Split(spec, "\n") {
			action, path, _ := strings.Cut(line, " ")
			if action == "drop" {
				obl[path] = Obligation{Action: ActionDrop}
			} else {
				obl[path] = Obligation{Action: ActionMask, Pattern: action}
			}
		}
		checkApplySame(t, doc, obl)
		// On the canonical form of the document, ApplyCanonical agrees.
		if canon, err := contracts.CanonicalizeJSON(doc); err == nil {
			want, werr := Apply(canon, obl)
			got, gerr := decisionWith(obl).ApplyCanonical(canon)
			if string(got) != string(want) || (werr == nil) != (gerr == nil) {
				t.Fatalf("ApplyCanonical of %s with %v:\n got %s, %v\nwant %s, %v", canon, obl, got, gerr, want, werr)
			}
		}
	})
}

// decisionWith is an allowing decision with obligations, its edits made as
// the engine makes them.
func decisionWith(obl map[string]Obligation) *Decision {
	d := &Decision{Allow: true, Obligations: obl}
	d.edits, _ = editsFor(obl)
	return d
}

// BenchmarkApply applies a typical export's obligations to a canonical
// transfer: in one pass (Apply) and through the generic tree it replaced.
func BenchmarkApply(b *testing.B) {
	g, err := synth.New(synth.Config{Origin: "51", Destination: "44", Seed: 7})
	if err != nil {
		b.Fatal(err)
	}
	doc, err := contracts.Canonical(g.Transfer())
	if err != nil {
		b.Fatal(err)
	}
	obl := map[string]Obligation{
		"labor_brand":                 {Action: ActionDrop},
		"worker.id_number":            {Action: ActionMask, Pattern: "id_number"},
		"worker.phone":                {Action: ActionMask, Pattern: "phone"},
		"training.certificate.number": {Action: ActionDrop},
	}
	for name, apply := range map[string]func([]byte, map[string]Obligation) ([]byte, error){"one-pass": Apply, "tree": applyTree} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := apply(doc, obl); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
