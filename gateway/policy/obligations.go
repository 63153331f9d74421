package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/laborlink/laborlink/contracts"
)

// maskPatterns are the masks a policy may name. Each keeps a few characters
// that let a person recognise the value they already know, and replaces every
// other character with '*', one for one, so the length stays visible. A value
// too short to keep anything is masked entirely.
var maskPatterns = map[string]maskPattern{
	// id_number keeps the first 3 and last 4 characters of a resident ID
	// number: "510***********1234". The first 3 say the province and city of
	// registration; the last 4 are what people quote to confirm identity.
	"id_number": keep(3, 4),
	// phone keeps the first 3 and last 4 digits of a mobile number:
	// "138****5678".
	"phone": keep(3, 4),
	// name keeps the first character, usually the family name: "张**".
	"name": keep(1, 0),
	// all replaces every character: "******".
	"all": keep(0, 0),
}

// maskPattern is one mask: the function that applies it, and how many
// characters it keeps at most, which orders masks by how much they hide
// (stricter).
type maskPattern struct {
	apply func(string) string
	kept  int
}

// MaskPatterns lists the mask pattern names a policy may use, sorted.
func MaskPatterns() []string { return slices.Sorted(maps.Keys(maskPatterns)) }

// Mask applies a named pattern to a value.
func Mask(pattern, value string) (string, error) {
	m, ok := maskPatterns[pattern]
	if !ok {
		return "", fmt.Errorf("unknown mask pattern %q; the patterns are %s", pattern, strings.Join(MaskPatterns(), ", "))
	}
	return m.apply(value), nil
}

// keep masks all but the first head and last tail runes; a value of head+tail
// runes or fewer is masked entirely, since keeping it would reveal it all.
func keep(head, tail int) maskPattern {
	return maskPattern{kept: head + tail, apply: func(s string) string {
		n := utf8.RuneCountInString(s)
		if n <= head+tail {
			return strings.Repeat("*", n)
		}
		var b strings.Builder
		b.Grow(len(s))
		i := 0
		for _, r := range s {
			if i < head || i >= n-tail {
				b.WriteRune(r)
			} else {
				b.WriteByte('*')
			}
			i++
		}
		return b.String()
	}}
}

// Apply carries out obligations on a record's JSON and returns its RFC 8785
// canonical form, the bytes that are signed and sent. A dropped path is
// removed with everything below it, and an object left empty by drops is
// removed too; a path that is absent is ignored. A masked path must hold a
// string. Paths do not descend into arrays, matching the field paths policy
// decides on.
//
// The obligations are carried out while the record is canonicalized, in one
// pass (contracts.CanonicalizeJSONEdit). Whatever that pass refuses (an
// obligation or a record in error, a repeated member name, data after the
// object) goes through applyTree, the generic version it is held equal to,
// so that the outcome and the error are the same as ever.
func Apply(doc []byte, obligations map[string]Obligation) ([]byte, error) {
	return apply(doc, obligations, contracts.CanonicalizeJSONEdit)
}

// ApplyCanonical is Apply of the decision's obligations to a record already
// in canonical form (an envelope's payload): what no obligation touches is
// copied, not canonicalized again (contracts.EditCanonicalJSON), and the
// edits are those the decision made once for every record it decides.
func (d *Decision) ApplyCanonical(doc []byte) ([]byte, error) {
	if d.edits == nil && len(d.Obligations) > 0 {
		return apply(doc, d.Obligations, contracts.EditCanonicalJSON)
	}
	if out, err := contracts.EditCanonicalJSON(doc, d.edits); err == nil {
		return out, nil
	}
	return applyTree(doc, d.Obligations)
}

// CanonicalEdits returns the decision's obligations as the edits that
// contracts.NewEnvelopeEdited carries out while it encodes the record, so
// that the payload is written once; nil when the decision has none made,
// and ApplyCanonical then does the work. They are shared: read-only.
func (d *Decision) CanonicalEdits() map[string]*contracts.Edits { return d.edits }

// A decision edits the payload of the envelope it allows.
var _ contracts.PayloadEditor = (*Decision)(nil)

func apply(doc []byte, obligations map[string]Obligation, edit func([]byte, map[string]*contracts.Edits) ([]byte, error)) ([]byte, error) {
	edits, ok := editsFor(obligations)
	if ok {
		if out, err := edit(doc, edits); err == nil {
			return out, nil
		}
	}
	return applyTree(doc, obligations)
}

// editsFor turns obligations into the tree of edits CanonicalizeJSONEdit
// follows; ok is false if an obligation is not valid.
func editsFor(obligations map[string]Obligation) (map[string]*contracts.Edits, bool) {
	edits := make(map[string]*contracts.Edits, len(obligations))
	for path, o := range obligations {
		if o.check() != nil {
			return nil, false
		}
		e := contracts.EditsAt(edits, path)
		if o.Action == ActionDrop {
			e.Drop = true
		} else {
			e.Replace = maskPatterns[o.Pattern].apply
		}
	}
	return edits, true
}

// applyTree carries out obligations on a generic tree of the record, in the
// order of their paths, and canonicalizes what is left.
func applyTree(doc []byte, obligations map[string]Obligation) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("apply obligations: the record is not a JSON object: %w", err)
	}
	for _, path := range slices.Sorted(maps.Keys(obligations)) {
		if err := applyOne(root, path, obligations[path]); err != nil {
			return nil, fmt.Errorf("apply obligation to %s: %w", path, err)
		}
	}
	return contracts.Canonical(root)
}

func applyOne(root map[string]any, path string, o Obligation) error {
	if err := o.check(); err != nil {
		return err
	}
	parts := strings.Split(path, ".")
	parents := make([]map[string]any, 0, len(parts))
	obj := root
	for _, p := range parts[:len(parts)-1] {
		next, ok := obj[p].(map[string]any)
		if !ok {
			return nil // absent, or not an object: nothing below to act on
		}
		parents = append(parents, obj)
		obj = next
	}
	last := parts[len(parts)-1]
	v, ok := obj[last]
	if !ok {
		return nil
	}
	if o.Action == ActionDrop {
		delete(obj, last)
		pruneEmpty(parents, parts, obj)
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("mask %q needs a string, the field holds %T", o.Pattern, v)
	}
	obj[last], _ = Mask(o.Pattern, s)
	return nil
}

// pruneEmpty removes objects that the drop left empty, innermost first.
func pruneEmpty(parents []map[string]any, parts []string, obj map[string]any) {
	for i := len(parents) - 1; i >= 0 && len(obj) == 0; i-- {
		delete(parents[i], parts[i])
		obj = parents[i]
	}
}

// Obliged is the value a string field at path holds once d's obligations
// are carried out on a record holding value there, as in the payload they
// edit: "" when the path, or a member above it, is dropped; value masked
// when its path is masked. It reads one field as it crossed without
// reading the payload back (the origin keeps a transfer's worker ID number
// so, to match the confirmations that answer it).
func (d *Decision) Obliged(path, value string) (string, error) {
	for p := range pathAndAbove(path) {
		if o, ok := d.Obligations[p]; ok && o.Action == ActionDrop {
			return "", nil
		}
	}
	o, ok := d.Obligations[path]
	if !ok {
		return value, nil
	}
	if err := o.check(); err != nil {
		return "", fmt.Errorf("obligation on %s: %w", path, err)
	}
	return maskPatterns[o.Pattern].apply(value), nil
}

// pathAndAbove yields path, then the path of each object above it, nearest
// first: the paths whose obligations act on the field at path.
func pathAndAbove(path string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for {
			if !yield(path) {
				return
			}
			i := strings.LastIndexByte(path, '.')
			if i < 0 {
				return
			}
			path = path[:i]
		}
	}
}
