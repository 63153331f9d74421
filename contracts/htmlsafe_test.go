package contracts

import (
	"bytes"
	"encoding/json"
	"testing"
)

// appendHTMLSafeByByte is appendHTMLSafe one byte at a time, as it was
// before it skipped eight bytes at a time: the reference it is held to.
func appendHTMLSafeByByte(b, src []byte) []byte {
	start := 0
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '<', '>', '&':
			b = append(b, src[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case 0xE2:
			if i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8 {
				b = append(b, src[start:i]...)
				b = append(b, '\\', 'u', '2', '0', '2', hexDigits[src[i+2]&0xF])
				i += 2
				start = i + 1
			}
		}
	}
	return append(b, src[start:]...)
}

// FuzzAppendHTMLSafe holds appendHTMLSafe to the byte-at-a-time loop for
// any bytes, and, for compact valid JSON, to what json.Marshal writes for
// it as a json.RawMessage.
func FuzzAppendHTMLSafe(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"a":"<b>&</b>"}`, `{"name":"张三","note":"a\u2028b"}`, "{\"n\":\"\u2028\u2029\"}",
		`{"long":"abcdefghijklmnopqrstuvwxyz<0123456789>&ABCDEFGHIJ"}`, "\xe2\x80", "\xe2\x80\xa8", "1234567\xe2\x80\xa9",
		`{"x":"________&________<________>________"}`, "\xe2\xe2\x80\xa8\xe2",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		got, want := appendHTMLSafe([]byte("x"), src), appendHTMLSafeByByte([]byte("x"), src)
		if !bytes.Equal(got, want) {
			t.Fatalf("appendHTMLSafe(%q) = %q, byte by byte %q", src, got, want)
		}
		var compact bytes.Buffer
		if json.Compact(&compact, src) != nil || !bytes.Equal(compact.Bytes(), src) {
			return
		}
		marshaled, err := json.Marshal(json.RawMessage(src))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[1:], marshaled) {
			t.Fatalf("appendHTMLSafe(%q) = %q, json.Marshal %q", src, got[1:], marshaled)
		}
	})
}
