package contracts_test

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
)

// Canonical writes the canonical form straight from a Go value. It is held
// to the route it replaced, json.Marshal and then CanonicalizeJSON: the same
// bytes, or the same error, on every value: generated records of every type
// mutated at random, envelopes, receipts, and small structs that exercise
// every rule of encoding/json the encoder reproduces.

// canonicalReference is Canonical as it was.
func canonicalReference(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return contracts.CanonicalizeJSON(raw)
}

// checkCanonical fails t unless Canonical and Digest of v give what the
// reference gives (the same bytes, or an error with the same message), and
// the canonical encoder, when it does not decline v, the same bytes. It
// returns whether the encoder took v, and the reference's error.
func checkCanonical(t testing.TB, v any) (direct bool, refErr error) {
	t.Helper()
	want, werr := canonicalReference(v)
	got, err := contracts.Canonical(v)
	if fmt.Sprint(err) != fmt.Sprint(werr) || !bytes.Equal(got, want) {
		t.Fatalf("Canonical of %s:\n got %s (%v)\nwant %s (%v)", describe(v), got, err, want, werr)
	}
	d, derr := contracts.Digest(v)
	if fmt.Sprint(derr) != fmt.Sprint(werr) || werr == nil && d != sha256.Sum256(want) {
		t.Fatalf("Digest of %s: %x (%v), want SHA-256 of %s (%v)", describe(v), d, derr, want, werr)
	}
	b, ok := contracts.CanonicalDirect(v)
	if ok && (werr != nil || !bytes.Equal(b, want)) {
		t.Fatalf("canonical encoder on %s:\n got %s\nwant %s (%v)", describe(v), b, want, werr)
	}
	return ok, werr
}

// describe names v for a failure message.
func describe(v any) string {
	if b, err := json.Marshal(v); err == nil {
		return fmt.Sprintf("%T %s", v, b)
	}
	return fmt.Sprintf("%T", v)
}

// checkRecord checks v and v's value when v is a pointer (which is not
// addressable, so that marshalers with pointer receivers do not apply), and
// that the encoder declines exactly what the reference refuses: records
// need no fallback.
func checkRecord(t testing.TB, v any) {
	t.Helper()
	vals := []any{v}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		vals = append(vals, rv.Elem().Interface())
	}
	for _, v := range vals {
		if direct, err := checkCanonical(t, v); direct != (err == nil) {
			t.Fatalf("canonical encoder took %v a value the reference refuses with %v: %s", direct, err, describe(v))
		}
	}
}

// Values the mutator draws from.
var (
	trickyStrings = []string{
		"", "plain", `a "quoted" word`, `back\slash`, "\x00\x01\x1f\x7f", "tab\tnew\nline\r\b\f",
		"\u2028\u2029", "<script>&amp;</script>", "\xff", "\xfe", "\xe4\xb8", "a\xed\xa0\x80b", "\uFFFD",
		"张三", "川妹子家政", "\U0001F600", "\uFB01", "é", "\u007f\u0080", "1", "null", "{}",
	}
	trickyInts = []int64{
		0, 1, -1, 42, 1 << 53, -(1 << 53), 1<<53 + 1, -(1 << 53) - 1, math.MaxInt64, math.MinInt64,
		math.MaxInt32, math.MinInt32, 255, -128,
	}
	trickyUints  = []uint64{0, 1, 255, 1 << 53, 1<<53 + 1, math.MaxUint32, math.MaxUint64}
	trickyFloats = []float64{
		0, math.Copysign(0, -1), 1, -7, 1.5, 0.1, 1e-7, 1e20, 1e21, 1 << 53, 1<<53 + 2, -(1 << 53),
		math.NaN(), math.Inf(1), math.Inf(-1), 16777217, 1 << 30, 123456789, 1e15, math.MaxFloat64,
		math.SmallestNonzeroFloat64, 4.5e15 + 0.5,
	}
	trickyNumbers = []json.Number{
		"", "0", "-0", "12", "-12", "1.5", "1e3", "01", "+1", " 1", "1 ", "9007199254740992",
		"9007199254740993", "-9007199254740992", "abc", "-", "1.", ".5", "1E400",
	}
	trickyDates = []contracts.Date{
		{}, {Year: 2026, Month: 3, Day: 1}, {Year: 2026, Month: 2, Day: 30}, {Year: -5, Month: 1, Day: 1},
		{Year: 10000, Month: 13, Day: 99}, {Year: 2026}, {Year: 123456, Month: -1, Day: 100},
	}
	trickyJSON = []string{
		`{"b":1,"a":2}`, ` [ 1 , "x" , { "z" : null , "y" : true } ] `, `1.5`, `9007199254740993`, `-0`,
		`{"a":1,"a":2}`, `nul`, ``, " ", `"\u2028<>&"`, "\"\xff\"", `{"x":{"y":[true,false,null]}}`, `{}`, `[]`,
		"\"\U0001F600\"", `{"\ufb01":1,"\ud83d\ude00":2}`, `"\ud800"`, `[1,]`, `{"a":1} x`, "\t\"s\"\n",
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	}
)

func trickyTimes() []time.Time {
	base := time.Date(2026, 3, 2, 10, 30, 0, 123456789, time.UTC)
	var ts []time.Time
	for _, loc := range []*time.Location{
		time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("odd", 5*3600+45*60),
		time.FixedZone("west", -(12*3600 + 30*60)), time.FixedZone("secs", 3600+7),
		time.FixedZone("day", 24*3600), time.FixedZone("-day", -25*3600),
	} {
		ts = append(ts, base.In(loc), base.Truncate(time.Second).In(loc))
	}
	return append(ts, time.Time{}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Unix(0, 0), base.Round(time.Millisecond))
}

// mutator changes values in place at random, through reflection, so that
// one walk reaches every field of every type.
type mutator struct {
	rng   *rand.Rand
	times []time.Time
}

func newMutator(seed uint64) *mutator {
	return &mutator{rng: rand.New(rand.NewPCG(seed, seed+1)), times: trickyTimes()}
}

func (m *mutator) chance(p float64) bool { return m.rng.Float64() < p }

func pick[T any](m *mutator, list []T) T { return list[m.rng.IntN(len(list))] }

// str returns one to three tricky strings run together.
func (m *mutator) str() string {
	var b strings.Builder
	for range 1 + m.rng.IntN(3) {
		b.WriteString(pick(m, trickyStrings))
	}
	return b.String()
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	dateType      = reflect.TypeFor[contracts.Date]()
	rawType       = reflect.TypeFor[json.RawMessage]()
	numberType    = reflect.TypeFor[json.Number]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
	textType      = reflect.TypeFor[encoding.TextMarshaler]()
)

// mutate changes each value under v (which is settable) with probability p.
func (m *mutator) mutate(v reflect.Value, p float64, depth int) {
	switch v.Type() {
	case timeType:
		if m.chance(p) {
			v.Set(reflect.ValueOf(pick(m, m.times)))
		}
		return
	case dateType:
		if m.chance(p) {
			v.Set(reflect.ValueOf(pick(m, trickyDates)))
		}
		return
	case rawType:
		if m.chance(p) {
			v.Set(reflect.ValueOf(json.RawMessage(pick(m, trickyJSON))))
		}
		return
	case numberType:
		if m.chance(p) {
			v.SetString(string(pick(m, trickyNumbers)))
		}
		return
	case marshalerType:
		if m.chance(p) {
			setTo(v, m.marshaler())
		}
		return
	case textType:
		if m.chance(p) {
			setTo(v, m.textMarshaler())
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		if m.chance(p) {
			v.SetString(m.str())
		}
	case reflect.Bool:
		if m.chance(p) {
			v.SetBool(!v.Bool())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if m.chance(p) {
			n := pick(m, trickyInts)
			if v.OverflowInt(n) {
				n = int64(m.rng.IntN(200) - 100)
			}
			v.SetInt(n)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if m.chance(p) {
			n := pick(m, trickyUints)
			if v.OverflowUint(n) {
				n = uint64(m.rng.IntN(200))
			}
			v.SetUint(n)
		}
	case reflect.Float32, reflect.Float64:
		if m.chance(p) {
			v.SetFloat(m.float())
		}
	case reflect.Interface:
		if m.chance(p) {
			m.setInterface(v, depth)
		}
	case reflect.Pointer:
		m.mutatePointer(v, p, depth)
	case reflect.Slice:
		m.mutateSlice(v, p, depth)
	case reflect.Array:
		for i := range v.Len() {
			m.mutate(v.Index(i), p, depth+1)
		}
	case reflect.Map:
		if m.chance(p) {
			m.fillMap(v, depth)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			// The exported fields of an unexported embedded struct are
			// settable, though it is not.
			if f := v.Field(i); f.CanSet() || v.Type().Field(i).Anonymous && f.Kind() == reflect.Struct {
				m.mutate(f, p, depth+1)
			}
		}
	}
}

// setInterface sets v to a value drawn by anyValue, when it is of v's type.
func (m *mutator) setInterface(v reflect.Value, depth int) {
	if x := m.anyValue(depth); x == nil || reflect.TypeOf(x).AssignableTo(v.Type()) {
		setTo(v, x)
	}
}

// setTo sets the interface v to x, nil included.
func setTo(v reflect.Value, x any) {
	if x == nil {
		v.SetZero()
		return
	}
	v.Set(reflect.ValueOf(x))
}

func (m *mutator) float() float64 {
	switch m.rng.IntN(4) {
	case 0:
		return math.Float64frombits(m.rng.Uint64())
	case 1:
		return float64(m.rng.IntN(1<<20) - 1<<19)
	}
	return pick(m, trickyFloats)
}

func (m *mutator) mutatePointer(v reflect.Value, p float64, depth int) {
	switch {
	case v.IsNil():
		if depth < 6 && m.chance(p/2) {
			e := reflect.New(v.Type().Elem())
			m.mutate(e.Elem(), 0.8, depth+1)
			v.Set(e)
		}
	case m.chance(p / 3):
		v.SetZero()
	default:
		m.mutate(v.Elem(), p, depth+1)
	}
}

func (m *mutator) mutateSlice(v reflect.Value, p float64, depth int) {
	if v.Type().Elem().Kind() == reflect.Uint8 && m.chance(p) {
		switch m.rng.IntN(3) {
		case 0:
			v.SetZero()
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			b := reflect.MakeSlice(v.Type(), m.rng.IntN(40), 40)
			for i := range b.Len() {
				b.Index(i).SetUint(uint64(m.rng.IntN(256)))
			}
			v.Set(b)
		}
		return
	}
	switch {
	case m.chance(p / 4):
		v.SetZero()
		return
	case m.chance(p / 4):
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		return
	case depth < 6 && m.chance(p/3):
		e := reflect.New(v.Type().Elem()).Elem()
		m.mutate(e, 0.8, depth+1)
		v.Set(reflect.Append(v, e))
	}
	for i := range v.Len() {
		m.mutate(v.Index(i), p, depth+1)
	}
}

// fillMap sets v to a new map of a few entries, keys drawn so that two of
// them sometimes read back as one name ("\xff" and "\xfe" both as U+FFFD).
func (m *mutator) fillMap(v reflect.Value, depth int) {
	if depth >= 6 || m.chance(0.2) {
		v.SetZero()
		return
	}
	mp := reflect.MakeMap(v.Type())
	for range m.rng.IntN(4) {
		k := reflect.New(v.Type().Key()).Elem()
		if k.Kind() == reflect.String {
			k.SetString(pick(m, trickyStrings))
		} else {
			m.mutate(k, 1, depth+1)
		}
		e := reflect.New(v.Type().Elem()).Elem()
		m.mutate(e, 0.8, depth+1)
		mp.SetMapIndex(k, e)
	}
	v.Set(mp)
}

// anyValue returns a value of a kind drawn at random for an interface.
func (m *mutator) anyValue(depth int) any {
	if depth >= 6 {
		return m.str()
	}
	fill := func(v any) any {
		rv := reflect.ValueOf(v)
		m.mutate(rv.Elem(), 0.8, depth+1)
		return v
	}
	switch m.rng.IntN(24) {
	case 0:
		return nil
	case 1:
		return m.str()
	case 2:
		return m.chance(0.5)
	case 3:
		return pick(m, trickyNumbers)
	case 4:
		return m.float()
	case 5:
		return pick(m, trickyInts)
	case 6:
		return *fill(&[]any{nil, nil}).(*[]any)
	case 7:
		return *fill(new(map[string]any)).(*map[string]any)
	case 8:
		return fill(new(Adhoc))
	case 9:
		return *fill(new(AdhocInner)).(*AdhocInner)
	case 10:
		return m.marshaler()
	case 11:
		return m.textMarshaler()
	case 12:
		return *fill(new(ptrMarshaler)).(*ptrMarshaler) // not addressable: encoded as a struct
	case 13:
		return *fill(new(ptrText)).(*ptrText)
	case 14:
		return pick(m, trickyDates)
	case 15:
		return pick(m, m.times)
	case 16:
		return []byte(m.str())
	case 17:
		return *fill(new(map[int]string)).(*map[int]string)
	case 18:
		return *fill(new([2]any)).(*[2]any)
	case 19:
		return (*AdhocInner)(nil)
	case 20:
		return uint8(m.rng.IntN(256))
	case 21:
		return float32(m.float())
	case 22:
		return json.RawMessage(pick(m, trickyJSON))
	}
	return fill(new(Embedding))
}

func (m *mutator) marshaler() json.Marshaler {
	switch m.rng.IntN(6) {
	case 0:
		return nil
	case 1:
		return &ptrMarshaler{N: m.rng.IntN(100)}
	case 2:
		return (*ptrMarshaler)(nil)
	case 3:
		return failingMarshaler{}
	case 4:
		return bothMarshalers{}
	}
	return valueMarshaler{pick(m, trickyJSON)}
}

func (m *mutator) textMarshaler() encoding.TextMarshaler {
	switch m.rng.IntN(6) {
	case 0:
		return nil
	case 1:
		return &ptrText{m.str()}
	case 2:
		return failingText{}
	case 3:
		return bothMarshalers{}
	case 4:
		return pick(m, trickyDates)
	}
	return valueText{m.str()}
}

// Types for the ad hoc values: marshalers with value and pointer receivers,
// ones that fail, IsZero methods, embedding at several depths, and fields
// of every kind with omitempty.

// valueMarshaler's JSON is what it marshals to, valid or not; null when empty.
type valueMarshaler struct{ JSON string }

func (v valueMarshaler) MarshalJSON() ([]byte, error) {
	if v.JSON == "" {
		return []byte("null"), nil
	}
	return []byte(v.JSON), nil
}

type ptrMarshaler struct{ N int }

func (p *ptrMarshaler) MarshalJSON() ([]byte, error) {
	if p == nil {
		return []byte(`"nil receiver"`), nil
	}
	return fmt.Appendf(nil, ` { "n" : %d , "a" : [ 1, "<\u2028>" ] } `, p.N), nil
}

type failingMarshaler struct{}

func (failingMarshaler) MarshalJSON() ([]byte, error) { return nil, errors.New("failing marshaler") }

type bothMarshalers struct{}

func (bothMarshalers) MarshalJSON() ([]byte, error) { return []byte(`"from MarshalJSON"`), nil }
func (bothMarshalers) MarshalText() ([]byte, error) { return []byte("from MarshalText"), nil }

type valueText struct{ Text string }

func (v valueText) MarshalText() ([]byte, error) { return []byte(v.Text), nil }

type ptrText struct{ Text string }

func (p *ptrText) MarshalText() ([]byte, error) { return []byte("text:" + p.Text), nil }

type failingText struct{}

func (failingText) MarshalText() ([]byte, error) { return nil, errors.New("failing text marshaler") }

type evenZero struct{ N int }

func (z evenZero) IsZero() bool { return z.N%2 == 0 }

type negativeZero struct{ N int }

func (z *negativeZero) IsZero() bool { return z.N < 0 }

type textByte byte

func (b textByte) MarshalText() ([]byte, error) { return []byte{'b', byte(b)}, nil }

type myBytes []byte

type myByte byte

// AdhocInner is embedded by Adhoc and Embedding.
type AdhocInner struct {
	A string `json:"a"`
	B int    `json:"b,omitempty"`
	// Shadowed is hidden by Adhoc's own field of that name.
	Shadowed string `json:"shadowed"`
}

// AdhocPtr is embedded through a pointer, which may be nil.
type AdhocPtr struct {
	P     string `json:"p"`
	Clash string `json:"clash"`
}

// hidden is an unexported embedded struct with exported fields.
type hidden struct {
	H  string    `json:"h"`
	At time.Time `json:"h_at"`
	// Clash is tagged at the same depth as AdhocPtr.Clash: both vanish.
	Clash string `json:"clash"`
	// Untagged loses to Tagged below, which has its name as a tag.
	Untagged string
}

// Deeper is embedded twice at one depth, so its fields annihilate.
type Deeper struct{ Twice string }

type level1 struct {
	Deeper
	Tagged string `json:"Untagged"`
}

type level2 struct{ Deeper }

// Embedding collects the embedding rules.
type Embedding struct {
	AdhocInner
	*AdhocPtr
	hidden
	level1
	level2
	Shadowed int `json:"shadowed"`
}

// Adhoc has a field of every kind the encoder handles.
type Adhoc struct {
	Embedding
	Str      string               `json:"str,omitempty"`
	Int      int64                `json:"int,omitempty"`
	Int8     int8                 `json:"int8,omitempty"`
	Uint     uint32               `json:"uint,omitempty"`
	Uintptr  uintptr              `json:"uintptr,omitempty"`
	F64      float64              `json:"f64,omitempty"`
	F32      float32              `json:"f32,omitempty"`
	Bool     bool                 `json:"bool,omitempty"`
	Ptr      *AdhocInner          `json:"ptr,omitempty"`
	PtrPtr   **int                `json:"ptr_ptr"`
	Iface    any                  `json:"iface,omitempty"`
	Iface2   any                  `json:"iface2"`
	Map      map[string]any       `json:"map,omitempty"`
	IntMap   map[int8]string      `json:"int_map,omitempty"`
	UintMap  map[uint64]bool      `json:"uint_map"`
	TimeMap  map[string]time.Time `json:"time_map"`
	Slice    []string             `json:"slice,omitempty"`
	Structs  []AdhocInner         `json:"structs"`
	Bytes    []byte               `json:"bytes,omitempty"`
	MyBytes  myBytes              `json:"my_bytes"`
	MyByteS  []myByte             `json:"my_byte_slice"`
	TextByte []textByte           `json:"text_bytes"`
	Array    [2]int               `json:"array,omitempty"`
	ByteArr  [3]byte              `json:"byte_array"`
	Empty    [0]int               `json:"empty_array,omitempty"`
	Struct   AdhocInner           `json:"struct,omitempty"`
	Time     time.Time            `json:"time,omitzero"`
	TimePtr  *time.Time           `json:"time_ptr,omitempty"`
	Date     contracts.Date       `json:"date,omitzero"`
	DatePtr  *contracts.Date      `json:"date_ptr"`
	Number   json.Number          `json:"number,omitempty"`
	Raw      json.RawMessage      `json:"raw,omitempty"`
	Skipped  string               `json:"-"`
	//lint:ignore SA5008 "-," names the field "-": the encoder must read it as encoding/json does
	Dash string `json:"-,"`
	//lint:ignore U1000 unexported, so never encoded: the encoder must skip it
	private string
	Quoted  int64   `json:"quoted,string,omitempty"`
	QuotedS *string `json:",omitempty,string"`
	NoTag   string
	//lint:ignore SA5008 a malformed name: the encoder must fall back to the field's, as encoding/json does
	BadTag   string                     `json:"a\"b"`
	Unicode  string                     `json:"名字,omitempty"`
	Punct    string                     `json:"!#$%&()*+-./:;<=>?@[]^_{|}~ ,omitempty"`
	Marsh    valueMarshaler             `json:"marsh"`
	PMarsh   ptrMarshaler               `json:"pmarsh"`
	PMarshP  *ptrMarshaler              `json:"pmarsh_ptr"`
	Both     bothMarshalers             `json:"both"`
	Text     valueText                  `json:"text"`
	PText    ptrText                    `json:"ptext"`
	MarshI   json.Marshaler             `json:"marsh_iface"`
	TextI    encoding.TextMarshaler     `json:"text_iface"`
	Zero     evenZero                   `json:"zero,omitzero"`
	NegZero  negativeZero               `json:"neg_zero,omitzero"`
	NegZeroP *negativeZero              `json:"neg_zero_ptr,omitzero"`
	ZeroI    interface{ IsZero() bool } `json:"zero_iface,omitzero"`
	OmitZero [2]string                  `json:"omit_zero,omitzero"`
	Nested   map[string][]*AdhocInner   `json:"nested,omitempty"`
}

// Values that are not records: envelopes and receipts, sealed and signed
// from generated records, and the small structs above.

func corridorGenerators(t testing.TB) []*synth.Generator {
	t.Helper()
	var gs []*synth.Generator
	for i, c := range [][2]string{{"51", "44"}, {"52", "33"}, {"45", "11"}, {"65", "31"}} {
		g, err := synth.New(synth.Config{Origin: c[0], Destination: c[1], Seed: uint64(100 + i)})
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	return gs
}

var recordTypes = []contracts.RecordType{
	contracts.RecordTransfer, contracts.RecordConfirmation, contracts.RecordAgreement,
	contracts.RecordReferral, contracts.RecordReferralUpdate,
}

// TestCanonicalRecords checks thousands of generated records of every type,
// as generated and then mutated at random.
func TestCanonicalRecords(t *testing.T) {
	m := newMutator(1)
	n := 150
	if testing.Short() {
		n = 20
	}
	for _, g := range corridorGenerators(t) {
		for _, typ := range recordTypes {
			for i := range n {
				rec, err := g.Record(typ)
				if err != nil {
					t.Fatal(err)
				}
				checkRecord(t, rec)
				m.mutate(reflect.ValueOf(rec).Elem(), []float64{0.05, 0.2, 0.6}[i%3], 0)
				checkRecord(t, rec)
			}
		}
	}
}

// TestCanonicalEnvelopesAndReceipts checks sealed envelopes, signed alone
// and in batches, and their receipts, as made and mutated at random.
func TestCanonicalEnvelopesAndReceipts(t *testing.T) {
	m := newMutator(2)
	ks := keys(t)
	for _, g := range corridorGenerators(t) {
		var envs []*contracts.Envelope
		for i := range 40 {
			rec, err := g.Record(recordTypes[i%len(recordTypes)])
			if err != nil {
				t.Fatal(err)
			}
			r, ok := rec.(contracts.Record)
			if !ok {
				continue
			}
			env, err := contracts.NewEnvelope(r, 1+i%3, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				if err := env.Sign(ks[i%4/2].priv, signerURI); err != nil {
					t.Fatal(err)
				}
			}
			envs = append(envs, env)
		}
		batch := envs[len(envs)/2:]
		if err := contracts.SignBatch(batch, ks[0].priv, signerURI); err != nil {
			t.Fatal(err)
		}
		var rs []*contracts.Receipt
		for i, env := range envs {
			r := contracts.NewReceipt(env, contracts.ReceiptStored, "", testNow)
			if i%3 == 2 {
				r.Status, r.Reason = contracts.ReceiptRejected, "policy_denied"
			}
			rs = append(rs, r)
		}
		if err := contracts.SignReceipts(rs[:10], ks[1].priv, "spiffe://p44.laborlink.example/node/gw-2"); err != nil {
			t.Fatal(err)
		}
		for _, v := range append(asAny(envs), asAny(rs)...) {
			checkRecord(t, v)
			for _, p := range []float64{0.1, 0.3, 0.7} {
				m.mutate(reflect.ValueOf(v).Elem(), p, 0)
				checkRecord(t, v)
			}
		}
	}
}

func asAny[T any](list []T) []any {
	out := make([]any, len(list))
	for i, v := range list {
		out[i] = v
	}
	return out
}

// TestCanonicalAdhoc checks random values of Adhoc, which has a field of
// every kind, by pointer and by value, and interface trees as policy
// builds them. The encoder must take every value the reference takes,
// except one with a ",string" field to write, which it declines.
func TestCanonicalAdhoc(t *testing.T) {
	m := newMutator(3)
	n := 3000
	if testing.Short() {
		n = 300
	}
	var direct int
	for i := range n {
		a := new(Adhoc)
		m.mutate(reflect.ValueOf(a).Elem(), []float64{0.05, 0.2, 0.5}[i%3], 0)
		if i%2 == 0 {
			a.Quoted, a.QuotedS = 0, nil
		}
		ok, err := checkCanonical(t, a)
		if !ok && err == nil && a.Quoted == 0 && a.QuotedS == nil {
			t.Fatalf("the encoder declined %s", describe(a))
		}
		if ok {
			direct++
		}
		checkCanonical(t, *a)
		checkCanonical(t, m.anyValue(0))
	}
	if direct < n/10 {
		t.Errorf("the encoder took only %d of %d values", direct, n)
	}
	t.Logf("the encoder took %d of %d values", direct, n)
}

type cyclic struct {
	Name string  `json:"name"`
	Next *cyclic `json:"next"`
}

type withChan struct {
	C chan int `json:"c,omitempty"`
}

type withSkippedFunc struct {
	F func() `json:"-"`
	S string `json:"s"`
	//lint:ignore U1000 unexported, so never encoded: the encoder must skip it
	c chan int
}

type textKey int

func (k textKey) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "key-%d", k), nil }

// TestCanonicalCases checks values picked for an edge each: what json.Marshal
// or the canonicalizer refuse must be refused with the same error.
func TestCanonicalCases(t *testing.T) {
	loop := &cyclic{Name: "a"}
	loop.Next = loop
	var long *cyclic
	for range 1500 {
		long = &cyclic{Name: "x", Next: long}
	}
	one := 1
	onePtr := &one
	str := `s"<`
	cases := []any{
		nil, (*Adhoc)(nil), "", "\xff\xfe", 5, math.Copysign(0, -1), 1.5, float32(1 << 30), []int(nil), []int{}, map[string]int(nil),
		map[string]int{}, struct{}{}, &struct{}{}, Adhoc{}, &Adhoc{}, Embedding{}, &Embedding{AdhocPtr: &AdhocPtr{P: "p"}},
		loop, long, withChan{}, withSkippedFunc{S: "s"}, any(func() {}), complex(1, 2), []any{1, "a", nil, []any{}},
		map[string]int{"\xff": 1, "\xfe": 2}, map[string]int{"\xff": 1, "\uFFFD": 2}, map[string]int{"\uFB01": 1, "\U0001F600": 2},
		map[int8]string{-1: "a", 1: "b", 10: "c", 2: "d"}, map[uint64]bool{math.MaxUint64: true}, map[textKey]int{1: 1, 2: 2},
		map[float64]int{1: 1}, map[bool]int(nil), []myByte("ab"), myBytes("ab"), []textByte("ab"), [3]byte{1, 2, 3},
		json.RawMessage(nil), json.RawMessage(`{"b":1,"a":2}`), json.RawMessage(`{"a":1,"a":2}`),
		&struct{ P ptrMarshaler }{}, struct{ P ptrMarshaler }{}, &struct{ P ptrText }{}, struct{ P ptrText }{},
		[]ptrMarshaler{{1}, {2}}, [2]ptrText{{"a"}, {"b"}}, map[string]ptrMarshaler{"k": {3}},
		&struct{ M json.Marshaler }{(*ptrMarshaler)(nil)}, &struct{ M json.Marshaler }{}, failingMarshaler{}, failingText{},
		&struct{ T encoding.TextMarshaler }{bothMarshalers{}}, bothMarshalers{}, &bothMarshalers{},
		&struct {
			Q  int     `json:",string"`
			QS *string `json:",string"`
		}{5, &str},
		&struct {
			Q  int     `json:",string,omitempty"`
			QS *string `json:",string,omitempty"`
		}{},
		&Embedding{
			hidden: hidden{H: "h", At: testNow, Clash: "c", Untagged: "u"},
			level1: level1{Deeper: Deeper{"d1"}, Tagged: "t"}, level2: level2{Deeper{"d2"}},
		},
		&struct{ P **int }{&onePtr}, struct {
			Z  evenZero      `json:",omitzero"`
			N  negativeZero  `json:",omitzero"`
			NP *negativeZero `json:",omitzero"`
		}{evenZero{2}, negativeZero{-1}, &negativeZero{1}},
		&struct {
			Z  evenZero      `json:",omitzero"`
			N  negativeZero  `json:",omitzero"`
			NP *negativeZero `json:",omitzero"`
		}{evenZero{1}, negativeZero{-1}, nil},
	}
	for _, d := range trickyDates {
		cases = append(cases, d, &d)
	}
	for _, tm := range trickyTimes() {
		cases = append(cases, tm, &tm, map[string]any{"t": tm})
	}
	for _, f := range trickyFloats {
		cases = append(cases, f, float32(f), &struct{ F float32 }{float32(f)})
	}
	for _, n := range trickyNumbers {
		cases = append(cases, n, map[string]any{"n": n})
	}
	for _, n := range trickyInts {
		cases = append(cases, n, uint64(n))
	}
	for _, s := range trickyStrings {
		cases = append(cases, s, map[string]string{s: s}, []string{s}, valueText{s}, &ptrText{s}, myBytes(s))
	}
	for _, j := range trickyJSON {
		cases = append(cases, valueMarshaler{j}, json.RawMessage(j), &struct{ R json.RawMessage }{json.RawMessage(j)})
	}
	for _, v := range cases {
		checkCanonical(t, v)
	}
}

// recursive is built by the encoder while it meets itself.
type recursive struct {
	Name string               `json:"name"`
	Kids []recursive          `json:"kids,omitempty"`
	Next *recursive           `json:"next,omitempty"`
	ByID map[string]recursive `json:"by_id,omitempty"`
}

// TestCanonicalConcurrentFirstUse encodes a recursive type from many
// goroutines at once, while its encoder is first built.
func TestCanonicalConcurrentFirstUse(t *testing.T) {
	v := &recursive{Name: "a", Kids: []recursive{{Name: "b"}}, Next: &recursive{Name: "c", ByID: map[string]recursive{"d": {Name: "d"}}}}
	want, err := canonicalReference(v)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if got, err := contracts.Canonical(v); err != nil || !bytes.Equal(got, want) {
				errs <- fmt.Errorf("got %s (%v), want %s", got, err, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, ok := contracts.CanonicalDirect(v); !ok {
		t.Error("the encoder declined a recursive type")
	}
}

// FuzzCanonicalEncoder holds Canonical to the reference on values the
// fuzzer drives: documents decoded into records, agreements, interface
// trees and Adhoc, and Adhoc's scalar fields set from its other inputs.
func FuzzCanonicalEncoder(f *testing.F) {
	for i, d := range seedDocuments(f) {
		f.Add(d, trickyStrings[i%len(trickyStrings)], trickyInts[i%len(trickyInts)], trickyFloats[i%len(trickyFloats)])
	}
	f.Add([]byte(`{"str":"\u2028","map":{"\ufb01":1,"b":[1,2.5]},"iface":{"x":null},"bytes":"AAE=","date":"2026-01-02"}`),
		"\xff", int64(1<<53+1), 1e21)
	f.Fuzz(func(t *testing.T, doc []byte, s string, n int64, x float64) {
		if rec, err := contracts.Decode(doc); err == nil {
			checkRecord(t, rec)
		}
		if ag, err := contracts.DecodeAgreement(doc); err == nil {
			checkRecord(t, ag)
		}
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var tree any
		if dec.Decode(&tree) == nil {
			checkCanonical(t, tree)
		}
		var floats any
		if json.Unmarshal(doc, &floats) == nil {
			checkCanonical(t, floats)
		}
		var a Adhoc
		if json.Unmarshal(doc, &a) == nil {
			checkCanonical(t, &a)
		}
		a = Adhoc{
			Str: s, Int: n, Int8: int8(n), Uint: uint32(n), F64: x, F32: float32(x), Iface: s, Iface2: x,
			Map: map[string]any{s: n, "x": x, "n": json.Number(s)}, IntMap: map[int8]string{int8(n): s},
			UintMap: map[uint64]bool{uint64(n): true}, Slice: []string{s}, Bytes: []byte(s), Number: json.Number(s),
			Raw: json.RawMessage(s), Unicode: s, Marsh: valueMarshaler{s}, Text: valueText{s}, MarshI: valueMarshaler{string(doc)},
			Time: time.Unix(n, int64(x)).In(time.FixedZone(s, int(n%(48*3600)))), Date: contracts.Date{Year: int(n), Month: time.Month(n >> 8), Day: int(n >> 16)},
		}
		checkCanonical(t, &a)
		checkCanonical(t, a)
	})
}
