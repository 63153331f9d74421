package contracts

import (
	"bytes"
	"testing"
)

// canonicalPrefix is how many bytes of data skipCanonical reads as one
// canonical value, with ok false when it does not take them.
func canonicalPrefix(data []byte) (n int, ok bool) {
	l := &lexer{data: data}
	if canonical, _ := l.skipCanonical(); !canonical {
		return 0, false
	}
	return l.pos, true
}

// canonicalRecordPrefix is how many bytes of data decode, with uncanon
// still clear, as a record of one of the types that travel in envelopes,
// as lexer.payloadRecord decodes a payload; ok is false when none does.
func canonicalRecordPrefix(data []byte) (n int, ok bool) {
	for _, t := range RecordTypes() {
		l := &lexer{data: data}
		if l.peek() == '{' && l.record(newRecord(SchemaFor(t))) && !l.uncanon {
			return l.pos, true
		}
	}
	return 0, false
}

func TestCanonicalValue(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want bool
	}{
		{`{}`, true},
		{`[]`, true},
		{`{"a":1,"b":[true,false,null,"x",{}],"c":{"d":-5}}`, true},
		{`{"a":0,"b":-9007199254740992,"c":9007199254740992}`, true},
		{"{\"a\":\"é中文\x7f\"}", true},
		// UTF-16 order: U+1F600 is D83D DE00, before U+FB01 and U+FFFF.
		{"{\"a\":1,\"\U0001F600\":2,\"\uFB01\":3,\"\uFFFF\":4}", true},
		{"{\"\uFB01\":1,\"\U0001F600\":2}", false},
		{`{"b":1,"a":2}`, false},
		{`{"a":1,"a":2}`, false},
		{`{"a":1,"ab":2,"b":3}`, true},
		{`{"ab":1,"a":2}`, false},
		{`{ "a":1}`, false},
		{`{"a" :1}`, false},
		{`{"a": 1}`, false},
		{`{"a":1 }`, false},
		{`{"a":[1 ,2]}`, false},
		{"{\"a\":\n1}", false},
		{`{"a":"\n"}`, false},
		{`{"a":"\u0041"}`, false},
		{`{"\u0061":1}`, false},
		{"{\"a\":\"\xff\"}", false},
		{`{"a":-0}`, false},
		{`{"a":01}`, false},
		{`{"a":1.0}`, false},
		{`{"a":1e2}`, false},
		{`{"a":9007199254740993}`, false},
		{`{"a":-9007199254740993}`, false},
		{`{"a":12345678901234567}`, false},
		{`{"a":tru}`, false},
		{`{"a":nul}`, false},
		{`{"a":1`, false},
		{`{"a"`, false},
		{`{`, false},
		{` {}`, false},
		{`{,}`, false},
		{`{"a":1,}`, false},
		{`[1,]`, false},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			n, ok := canonicalPrefix([]byte(tc.doc))
			if ok != tc.want || ok && n != len(tc.doc) {
				t.Fatalf("skipCanonical = %v after %d bytes, want %v", ok, n, tc.want)
			}
			if ok {
				checkCanonicalValue(t, []byte(tc.doc))
			}
		})
	}
}

// TestCanonicalValueNesting: the check counts nesting as canon does, so a
// payload nested deeper than encoding/json allows is still refused.
func TestCanonicalValueNesting(t *testing.T) {
	deep := append(append(bytes.Repeat([]byte(`{"a":`), maxJSONNesting), '1'), bytes.Repeat([]byte{'}'}, maxJSONNesting)...)
	l := &lexer{data: deep, maxNest: maxJSONNesting}
	if canonical, _ := l.skipCanonical(); !canonical || l.nest != 0 {
		t.Fatalf("%d deep: refused, or nesting %d left open", maxJSONNesting, l.nest)
	}
	deeper := append(append([]byte(`{"a":`), deep...), '}')
	l = &lexer{data: deeper, maxNest: maxJSONNesting}
	if canonical, _ := l.skipCanonical(); canonical {
		t.Fatalf("%d deep: taken", maxJSONNesting+1)
	}
}

// checkCanonicalValue fails t unless a value the lexer read whole without
// setting uncanon is one CanonicalizeJSON writes back unchanged.
func checkCanonicalValue(t *testing.T, doc []byte) {
	t.Helper()
	c, err := CanonicalizeJSON(doc)
	if err != nil || !bytes.Equal(c, doc) {
		t.Fatalf("read as canonical: %q, which canonicalizes to %q (%v)", doc, c, err)
	}
}

// FuzzCanonicalValue holds the lexer's uncanon to canon, as skipCanonical
// and the record decoders (for lexer.payloadRecord) read with it: what
// they take as canonical, canon writes back byte for byte; and what canon
// writes without an escape, they take, so that payloads sent canonical are
// not canonicalized again.
func FuzzCanonicalValue(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":[2,{"d":null,"c":true}],"é":"\u00e9\n"}`,
		"{\"\uFB01\":1,\"\U0001F600\":2,\"\U0001F601\":3,\"\uFFFF\":4}",
		`{"a":1,"a":2}`, `[1,-0,9007199254740992]`, `{"a":"x","b":-12,"c":[[],{}]}`,
		`{"agreement_id":"AG-1","events":[{"at":"2026-03-01T08:00:00+08:00","kind":"placed"}],"worker":{"name":"张三"}}`,
		`{"events":[{"at":"2026-03-01T08:00:00+08:00","kind":"placed"}],"id":"TR-1","schema":"laborlink.transfer/v1","training":{"hours":12,"subsidy":{"amount_fen":-5}},"worker":{"name":"张三"}}`,
		`{"employed":true,"id":"CF-1","months_employed":3,"schema":"laborlink.confirmation/v1","since":null}`,
		`{"schema":"laborlink.transfer/v1","id":"TR-1"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if n, ok := canonicalPrefix(doc); ok {
			checkCanonicalValue(t, doc[:n])
		}
		if n, ok := canonicalRecordPrefix(doc); ok {
			checkCanonicalValue(t, doc[:n])
		}
		c, err := CanonicalizeJSON(doc)
		if err != nil || bytes.IndexByte(c, '\\') >= 0 {
			return
		}
		if n, ok := canonicalPrefix(c); !ok || n != len(c) {
			t.Fatalf("skipCanonical does not take %q, canonical already (%v after %d bytes)", c, ok, n)
		}
		for _, rt := range RecordTypes() {
			l := &lexer{data: c}
			if l.record(newRecord(SchemaFor(rt))) && l.uncanon {
				t.Fatalf("%q decodes as a %s and is canonical already, but the decoder sets uncanon", c, rt)
			}
		}
	})
}
