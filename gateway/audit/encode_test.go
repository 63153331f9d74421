package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
)

// genericMarshal is the definition the hand-written encoder must match:
// the entry's json.Marshal, with the time in UTC, canonicalized.
func genericMarshal(e Entry) ([]byte, error) {
	e.Time = e.Time.UTC().Round(0)
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return contracts.CanonicalizeJSON(raw)
}

// checkEncoding fails t unless Marshal, and Prepare's encoding with the
// index spliced in, give what genericMarshal gives, or all fail.
func checkEncoding(t testing.TB, e Entry) {
	t.Helper()
	want, wantErr := genericMarshal(e)
	got, err := e.Marshal()
	if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Fatalf("entry %#v\nMarshal: %s (err %v)\nwant:    %s (err %v)", e, got, err, want, wantErr)
	}
	enc, cut, err := encodeEntry(&e)
	if wantErr == nil && checkIndex(e.Index) == nil && err == nil {
		if spliced := spliceIndex(nil, enc, cut, e.Index); !bytes.Equal(spliced, want) {
			t.Fatalf("entry %#v\nprepared: %s\nwant:     %s", e, spliced, want)
		}
	}
}

// TestMarshalGolden pins one typical entry's stored bytes, so that the
// encoder and its reference cannot drift together.
func TestMarshalGolden(t *testing.T) {
	e := sentEntry(1)
	e.Index = 42
	e.Reasons = []Reason{ReasonOther}
	const want = `{"agreement_id":"AG-51-44-2026-001","agreement_version":2,"decision":"allow",` +
		`"destination":"44","envelope_id":"01JBENV1ns","index":42,"kind":"sent","origin":"51",` +
		`"payload_digest":"0100000100000000000000000000000000000000000000000000000000000000",` +
		`"peer":"spiffe://p44.laborlink.test/node/gw-1","policy":{"federation":"fed-7","province":"p51-3"},` +
		`"purpose":"employment-service","reasons":["other"],"record_type":"transfer","size":901,` +
		`"time":"2026-03-02T08:00:01Z"}`
	got, err := e.Marshal()
	if err != nil || string(got) != want {
		t.Fatalf("Marshal = %s, %v\nwant      %s", got, err, want)
	}
}

// TestMarshalMatchesGenericForEveryField sets every field of Entry, found by
// reflection, so that a field added to Entry and not to the encoder fails
// here even before the random entries below learn of it.
func TestMarshalMatchesGenericForEveryField(t *testing.T) {
	var e Entry
	fill(reflect.ValueOf(&e).Elem())
	checkEncoding(t, e)
}

// fill sets v, and everything in it, to something not zero.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Int64:
		v.SetInt(7)
	case reflect.Uint8:
		v.SetUint(1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Array:
		fill(v.Index(0))
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(t0))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	default:
		panic(fmt.Sprintf("fill: no value for a %s; teach fill, randomEntry and encodeEntry", v.Type()))
	}
}

// TestMarshalMatchesGeneric compares the encoder with its definition over
// thousands of random entries of every kind (and of kinds that are not),
// with hostile strings, empty and nil slices, odd times and integers at and
// beyond the ±2^53 the canonical form allows.
func TestMarshalMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	kinds := append(Kinds(), "", "not-a-kind")
	failures := 0
	for _, kind := range kinds {
		for range 3000 {
			e := randomEntry(r)
			e.Kind = kind
			if _, err := genericMarshal(e); err != nil {
				failures++
			}
			checkEncoding(t, e)
		}
	}
	// The generator should reach the error paths too, but mostly not.
	if total := 3000 * len(kinds); failures == 0 || failures > total/2 {
		t.Fatalf("%d of %d random entries do not encode", failures, total)
	}
}

// pieces are what random strings are made of: plain text, everything RFC
// 8785 or json.Marshal escapes or replaces, and invalid UTF-8.
var pieces = []string{"a", "Z9", "AG-51-44-2026-001", "spiffe://p44.example.org/node/gw-1",
	`"`, `\`, "/", "<", ">", "&", "\x00", "\x01", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t",
	"\u2028", "\u2029", "é", "王伟", "😀", "\ufffd", "\ufeff", "\xff", "\xc3", "\xed\xa0\x80",
	"\xf4\x90\x80\x80", "\xe2\x80"}

func randomString(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(6) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// randomInt is mostly small, sometimes at or beyond ±2^53.
func randomInt(r *rand.Rand) int64 {
	switch r.IntN(12) {
	case 0:
		return []int64{maxSafeInt, -maxSafeInt, maxSafeInt + 1, -maxSafeInt - 1,
			math.MaxInt64, math.MinInt64}[r.IntN(6)]
	case 1:
		return r.Int64N(2*maxSafeInt+1) - maxSafeInt
	case 2, 3, 4:
		return r.Int64N(2001) - 1000
	}
	return 0
}

// randomTime is zero, or any time in any zone, sometimes with a monotonic
// reading or a year that cannot be written in four digits.
func randomTime(r *rand.Rand) time.Time {
	zone := time.FixedZone("", (r.IntN(49)-24)*30*60)
	switch r.IntN(10) {
	case 0:
		return time.Time{}
	case 1:
		return time.Now()
	case 2:
		return time.Date([]int{-1, 0, 9999, 10000}[r.IntN(4)], time.Month(1+r.IntN(12)), 1+r.IntN(31),
			r.IntN(24), 0, 0, r.IntN(1e9), zone)
	}
	ns := []int{0, r.IntN(1e9), r.IntN(1000) * 1e6, r.IntN(1e6) * 1e3}[r.IntN(4)]
	return time.Unix(r.Int64N(4e9), int64(ns)).In(zone)
}

func randomEntry(r *rand.Rand) Entry {
	s := func() string { return randomString(r) }
	e := Entry{
		Index: randomInt(r), Time: randomTime(r), Kind: Kind(s()), EnvelopeID: s(), RefersTo: s(),
		RecordType: s(), Origin: Province(s()), Destination: Province(s()), AgreementID: s(),
		AgreementVersion: randomInt(r), Purpose: s(), Decision: Decision(s()),
		Policy: PolicyRevisions{Federation: s(), Province: s()}, Size: randomInt(r), Peer: s(),
		LatencyMS: randomInt(r), Due: s(), Serial: s(), Detail: Detail(s()),
	}
	switch r.IntN(4) {
	case 0:
		e.Reasons = []Reason{}
	case 1:
		for range 1 + r.IntN(4) {
			e.Reasons = append(e.Reasons, Reason(s()))
		}
	}
	switch r.IntN(3) {
	case 0:
		e.PayloadDigest[r.IntN(len(e.PayloadDigest))] = byte(1 + r.IntN(255))
	case 1:
		for i := range e.PayloadDigest {
			e.PayloadDigest[i] = byte(r.Uint32())
		}
	}
	return e
}

// FuzzMarshal is the differential test: whatever the fields hold, Marshal
// and Prepare's encoding are what json.Marshal and CanonicalizeJSON make of
// the entry, or all of them fail. text holds the string fields, separated by
// U+001E; reasons the reasons, likewise, with nil for "" unless empty is set.
func FuzzMarshal(f *testing.F) {
	f.Add("sent\x1eenv-1\x1e\x1etransfer\x1e51\x1e44\x1eAG-1\x1eemployment-service\x1eallow\x1espiffe://p44.x/node/a",
		"", false, int64(3), int64(2), int64(900), int64(12), int64(1772438401), int64(5e8), 0, []byte{1})
	f.Add("denied\x1e\"\\\u2028\x00\x1f\xff\x1e\x1e\x1e\x1e\x1e\x1e\x1e\x1edeny\x1e\x1e2026-03-02\x1e0A\x1ereferred\x1efed\x1ep51",
		"no-agreement\x1e<&>", true, int64(1<<53), int64(-1), int64(0), int64(-(1<<53)-1), int64(-62135596800), int64(0), 8*3600, []byte{})
	f.Fuzz(func(t *testing.T, text, reasons string, empty bool, index, version, size, latency, sec, nsec int64, zone int, digest []byte) {
		var e Entry
		fields := []*string{(*string)(&e.Kind), &e.EnvelopeID, &e.RefersTo, &e.RecordType,
			(*string)(&e.Origin), (*string)(&e.Destination), &e.AgreementID, &e.Purpose,
			(*string)(&e.Decision), &e.Peer, &e.Due, &e.Serial, (*string)(&e.Detail),
			&e.Policy.Federation, &e.Policy.Province}
		for i, s := range strings.SplitN(text, "\x1e", len(fields)) {
			*fields[i] = s
		}
		if reasons != "" {
			for s := range strings.SplitSeq(reasons, "\x1e") {
				e.Reasons = append(e.Reasons, Reason(s))
			}
		} else if empty {
			e.Reasons = []Reason{}
		}
		e.Index, e.AgreementVersion, e.Size, e.LatencyMS = index, version, size, latency
		e.Time = time.Unix(sec, nsec).In(time.FixedZone("", zone))
		copy(e.PayloadDigest[:], digest)
		checkEncoding(t, e)
	})
}

// validEntries are entries of every kind that Validate accepts, with every
// optional field in use somewhere.
func validEntries(n int) []Entry {
	var out []Entry
	_, a, b := traffic(n, 3)
	for i := range a {
		out = append(out, a[i], b[i%len(b)])
		switch i % 7 {
		case 0:
			out = append(out, Entry{Time: t0, Kind: KindDenied, EnvelopeID: fmt.Sprintf("d-%d", i), Origin: "51",
				Decision: Deny, Reasons: []Reason{ReasonQuotaExceeded, ReasonProvincePolicy}})
		case 1:
			out = append(out, Entry{Time: t0.Add(time.Duration(i) * time.Nanosecond), Kind: KindReferralUpdate,
				EnvelopeID: fmt.Sprintf("ref-%d", i), RefersTo: "ref-0", Due: "2026-04-01", Detail: DetailAccepted})
		case 2:
			out = append(out, Entry{Time: t0, Kind: KindCertificate, Serial: "0a1b2c", Detail: DetailRevoked})
		case 3:
			out = append(out, Entry{Time: t0, Kind: KindAgreement, AgreementID: "AG-51-44-2026-001",
				AgreementVersion: int64(i), Detail: DetailAmended})
		case 4:
			out = append(out, Entry{Time: t0, Kind: KindPolicy, Policy: PolicyRevisions{Province: "p51-9"},
				Detail: DetailProvincePolicy})
		case 5:
			out = append(out, Entry{Time: t0.In(time.FixedZone("", 8*3600)), Kind: KindConfirmation,
				EnvelopeID: fmt.Sprintf("c-%d", i), Reasons: []Reason{}})
		case 6:
			out = append(out, Entry{Time: t0, Kind: KindRequeue, EnvelopeID: fmt.Sprintf("q-%d", i), Destination: "44", Serial: "3f9a0c"})
		}
	}
	return out
}

// TestStoredEntriesMatchGeneric: whichever way an entry is appended (the
// group commit, AppendTx or Prepare and AppendPreparedTx), the log stores
// the generic encoding of the entry at its index, and AppendTx still tells
// the caller the indexes.
func TestStoredEntriesMatchGeneric(t *testing.T) {
	ctx := context.Background()
	l, db := newTestLog(t)
	es := validEntries(30)
	var want [][]byte
	add := func(e Entry) {
		t.Helper()
		e.Index = int64(len(want))
		b, err := genericMarshal(e)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, b)
	}
	for i := 0; i < len(es); i += 3 {
		if _, err := l.Append(ctx, es[i]); err != nil {
			t.Fatal(err)
		}
		add(es[i])
		batch := []Entry{es[i+1]}
		if err := db.Update(func(tx *bolt.Tx) error { return l.AppendTx(tx, batch...) }); err != nil {
			t.Fatal(err)
		}
		if batch[0].Index != int64(len(want)) {
			t.Fatalf("AppendTx set index %d, want %d", batch[0].Index, len(want))
		}
		add(es[i+1])
		ps, err := l.Prepare(es[i+2])
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error { return l.AppendPreparedTx(tx, ps...) }); err != nil {
			t.Fatal(err)
		}
		add(es[i+2])
	}
	storedAs(t, l, want)
}
