package contracts

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzSkipRaw holds skipRaw to skip: the same result, end, error and
// uncanon for any document, the quick pass being only a shortcut.
func FuzzSkipRaw(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,"x",{"b":null}],"c":true}`, ` [ 1 , "two" , {"three":[3]} , null , false ] `, `{"a":1,"a":2}`,
		`[1,]`, `{"a":}`, `{"a" 1}`, `{,}`, `[1 2]`, `"\u00e9\n"`, `"\ud800"`, `"a` + "\x01" + `"`, `nul`, `tru`, `-`, `01`,
		`1.`, `1e`, `{"\u0061":[]}`, `{"b":1,"a":2}`, `{"a":1,"b":[-0,1.5]}`, `{"a":{"c":1,"b":2},"b":3}`, strings.Repeat("[", 30) + strings.Repeat("]", 30), "\"\xff\"", ``, `{"a":1}x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		quick := &lexer{data: data, maxNest: 20}
		slow := &lexer{data: data, maxNest: 20}
		qok, sok := quick.skipRaw(), slow.skip()
		if qok != sok || quick.pos != slow.pos || !reflect.DeepEqual(quick.err, slow.err) || quick.nest != slow.nest || qok && quick.uncanon != slow.uncanon {
			t.Fatalf("%q: skipRaw %v at %d (%v), skip %v at %d (%v)", data, qok, quick.pos, quick.err, sok, slow.pos, slow.err)
		}
	})
}
