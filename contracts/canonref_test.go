package contracts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// canonicalizeReference is the first, generic canonicalizer (encoding/json into
// map[string]any, then sorted): the reference CanonicalizeJSON is held to.
func canonicalizeReference(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonicalize: %w", err)
	}
	// dec.More would miss a stray closing bracket after a top-level value.
	if rest := bytes.TrimLeft(doc[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("canonicalize: trailing data after the JSON value")
	}
	var buf bytes.Buffer
	buf.Grow(len(doc))
	if err := writeCanonicalRef(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeCanonicalRef(buf *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n > 1<<53 || n < -(1<<53) {
			return fmt.Errorf("canonicalize: number %s is not an integer within ±2^53", v)
		}
		buf.WriteString(strconv.FormatInt(n, 10))
	case string:
		writeStringRef(buf, v)
	case []any:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonicalRef(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16Ref)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeStringRef(buf, k)
			buf.WriteByte(':')
			if err := writeCanonicalRef(buf, v[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("canonicalize: unexpected %T", v)
	}
	return nil
}

// writeString escapes as RFC 8785 (ECMAScript JSON.stringify) does: only the
// quote, the backslash and control characters.
func writeStringRef(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			buf.WriteString(`\"`)
		case r == '\\':
			buf.WriteString(`\\`)
		case r == '\b':
			buf.WriteString(`\b`)
		case r == '\f':
			buf.WriteString(`\f`)
		case r == '\n':
			buf.WriteString(`\n`)
		case r == '\r':
			buf.WriteString(`\r`)
		case r == '\t':
			buf.WriteString(`\t`)
		case r < 0x20:
			buf.WriteString(`\u00`)
			buf.WriteByte(hex[r>>4])
			buf.WriteByte(hex[r&0xf])
		case r == utf8.RuneError:
			// encoding/json already replaced invalid UTF-8 with U+FFFD.
			buf.WriteRune(r)
		default:
			buf.WriteRune(r)
		}
	}
	buf.WriteByte('"')
}

// compareUTF16Ref orders strings by their UTF-16 code units, as RFC 8785 requires.
func compareUTF16Ref(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

// FuzzCanonicalizeEquivalence holds CanonicalizeJSON to the reference: the
// same output whenever both succeed, and the same verdict except for
// repeated member names, which CanonicalizeJSON rejects on purpose.
func FuzzCanonicalizeEquivalence(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":[2,{"d":null,"c":true}],"é":"\u00e9\n"}`,
		"{\"\uFB01\":1,\"\U0001F600\":2,\"\U0001F601\":3,\"\uFFFF\":4}",
		`{"a":1,"a":2}`, `[1,-0,9007199254740992]`, `"\ud800"`, `{"x":"\u0000<>&"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := CanonicalizeJSON(doc)
		want, rerr := canonicalizeReference(doc)
		switch {
		case err == nil && rerr == nil:
			if !bytes.Equal(got, want) {
				t.Fatalf("%s:\n got %s\nwant %s", doc, got, want)
			}
		case err == nil:
			t.Fatalf("accepts what the reference rejects (%v): %s", rerr, doc)
		case rerr == nil && !strings.Contains(err.Error(), "duplicate member"):
			t.Fatalf("rejects what the reference accepts (%v): %s", err, doc)
		}
	})
}

func TestCompareUTF16(t *testing.T) {
	words := []string{"", "a", "ab", "b", "é", "\uFB01", "\uFFFF", "\U0001F600", "\U0001F601", "\U00010000", "a\U0001F600", "a\uFB01", "\xff"}
	for _, a := range words {
		for _, b := range words {
			if got, want := sign(compareUTF16(a, b)), sign(compareUTF16Ref(a, b)); got != want {
				t.Errorf("compareUTF16(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
