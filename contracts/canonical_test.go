package contracts

import (
	"testing"
)

func TestCanonicalizeJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"sorted keys", `{"b":1,"a":2}`, `{"a":2,"b":1}`},
		{"nested and spaces", `{ "z": [ 3, {"y":true, "x":null} ], "a":"s" }`, `{"a":"s","z":[3,{"x":null,"y":true}]}`},
		{"no html escaping", `{"a":"<&>"}`, `{"a":"<&>"}`},
		{"control characters", `{"a":"\u0001\n"}`, `{"a":"\u0001\n"}`},
		{"unicode kept literal", `{"名":"张三\u2028"}`, "{\"名\":\"张三\u2028\"}"},
		// U+1F600 (surrogates D83D..) sorts before U+FB01 in UTF-16 but after it in UTF-8.
		{"utf16 key order", "{\"\uFB01\":1,\"\U0001F600\":2}", "{\"\U0001F600\":2,\"\uFB01\":1}"},
		{"negative integer", `{"a":-5}`, `{"a":-5}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalizeJSON([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCanonicalizeJSONRejects(t *testing.T) {
	for _, in := range []string{`{"a":1.5}`, `{"a":1e3}`, `{"a":9007199254740993}`, `{"a":1} {}`, `{"a":`, `"" }`, `{} ]`} {
		if _, err := CanonicalizeJSON([]byte(in)); err == nil {
			t.Errorf("%s: want error", in)
		}
	}
}

func TestDigestIgnoresKeyOrder(t *testing.T) {
	a, err := CanonicalizeJSON([]byte(`{"schema":"x","id":"1","from":"51"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := CanonicalizeJSON([]byte(`{"from":"51","id":"1","schema":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Errorf("%s != %s", a, b)
	}
}
