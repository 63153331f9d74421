package contracts

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestAppendJSONStringsMatchesMarshal holds AppendJSONStrings to the bytes
// json.Marshal writes for the same []string, after a prefix it must leave
// alone.
func TestAppendJSONStringsMatchesMarshal(t *testing.T) {
	tests := []struct {
		name string
		ss   []string
	}{
		{"nil", nil},
		{"empty", []string{}},
		{"one empty string", []string{""}},
		{"plain", []string{"missing field", "bad date"}},
		{"quote and backslash", []string{`say "no"`, `C:\path`}},
		{"control characters", []string{"a\nb\tc\rd\be\ff", "\x00\x1f\x7f"}},
		{"html", []string{"<script>", "a&b", ">"}},
		{"line and paragraph separators", []string{"a\u2028b\u2029c"}},
		{"invalid utf-8", []string{"\xff", "a\xe2\x80b", "\xed\xa0\x80"}},
		{"non-ascii", []string{"张三", "Zoë", "🙂"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := json.Marshal(tt.ss)
			if err != nil {
				t.Fatal(err)
			}
			got := AppendJSONStrings([]byte("x"), tt.ss)
			if !bytes.Equal(got, append([]byte("x"), want...)) {
				t.Errorf("AppendJSONStrings(%q) = %s, json.Marshal %s", tt.ss, got[1:], want)
			}
		})
	}
}
