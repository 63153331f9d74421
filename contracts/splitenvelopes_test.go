package contracts_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// deliveryBody is a delivery of envs as nodes send it, with a chain before
// the envelopes and white space between them.
func deliveryBody(envs ...[]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"chain":["AAE="],"envelopes":[`)
	for i, e := range envs {
		if i > 0 {
			b.WriteString(" ,\n")
		}
		b.Write(e)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// checkSplitEnvelopes fails t unless SplitEnvelopes reads data as
// RawObjectSplit does, and each envelope it decodes is what
// DecodeEnvelopeRecord makes of that envelope alone. It returns how many it
// decoded.
func checkSplitEnvelopes(t *testing.T, data []byte, decode int) int {
	t.Helper()
	var got, want []string
	member := func(into *[]string) func(string, json.RawMessage) error {
		return func(name string, v json.RawMessage) error {
			*into = append(*into, name, string(v))
			return nil
		}
	}
	elems, decoded, err := contracts.SplitEnvelopes(data, "envelopes", decode, member(&got))
	wantElems, werr := contracts.RawObjectSplit(data, "envelopes", member(&want))
	if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Fatalf("%q: SplitEnvelopes error %v, RawObjectSplit %v", data, err, werr)
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(elems, wantElems) {
		t.Fatalf("%q: members %q and elements %q, RawObjectSplit %q and %q", data, got, elems, want, wantElems)
	}
	if len(decoded) != len(elems) {
		t.Fatalf("%q: %d decoded for %d elements", data, len(decoded), len(elems))
	}
	n := 0
	for i, d := range decoded {
		if d.Env == nil {
			if d.Rec != nil {
				t.Fatalf("element %d: a record without its envelope", i)
			}
			continue
		}
		if i >= decode {
			t.Fatalf("element %d decoded past the first %d", i, decode)
		}
		n++
		env, rec, err := contracts.DecodeEnvelopeRecord(elems[i])
		if err != nil {
			t.Fatalf("element %d decoded in the split, alone: %v", i, err)
		}
		if !reflect.DeepEqual(d.Env, env) || !reflect.DeepEqual(d.Rec, rec) {
			t.Fatalf("element %d: split decoded %+v %+v, alone %+v %+v", i, d.Env, d.Rec, env, rec)
		}
	}
	return n
}

// TestSplitEnvelopes: the envelopes of a delivery, signed alone and in a
// batch, are decoded as the body is split, each as it would be alone; what
// does not decode that way (a payload not in canonical form, a malformed
// envelope) is left to be decoded alone, and past the limit nothing is
// decoded.
func TestSplitEnvelopes(t *testing.T) {
	envs, _ := wireSamples(t)
	spaced := bytes.Replace(envs[0], []byte(`"payload":{`), []byte(`"payload":{ `), 1)
	if bytes.Equal(spaced, envs[0]) {
		t.Fatal("no payload to space out in the sample")
	}
	body := deliveryBody(append(envs[:len(envs):len(envs)], spaced, []byte(`{"id":1}`), []byte(`[]`))...)

	if n := checkSplitEnvelopes(t, body, len(envs)+3); n != len(envs) {
		t.Errorf("decoded %d envelopes in the split, want the %d well-formed ones in canonical form", n, len(envs))
	}
	// An envelope that decodes but for its size, which DecodeEnvelopeRecord
	// refuses alone (white space makes it longer than an envelope may be),
	// is not decoded in the split either; one of exactly the limit is.
	limit := append(bytes.Repeat([]byte{' '}, 2*contracts.MaxRecordSize-len(envs[0])), envs[0]...)
	limit[0], limit[len(limit)-len(envs[0])] = '{', ' '
	long := append([]byte{'{', ' '}, limit[1:]...)
	if _, _, err := contracts.DecodeEnvelopeRecord(long); err == nil {
		t.Fatal("an envelope over the size limit decodes alone")
	}
	for b, want := range map[string]int{
		string(deliveryBody(long)):                   0,
		string(deliveryBody(limit, long)):            1,
		string(deliveryBody(envs[0], long, envs[1])): 2,
	} {
		if n := checkSplitEnvelopes(t, []byte(b), 3); n != want {
			t.Errorf("decoded %d envelopes beside one over the size limit, want %d", n, want)
		}
	}
	if n := checkSplitEnvelopes(t, body, 2); n != 2 {
		t.Errorf("decoded %d envelopes with a limit of 2", n)
	}
	if n := checkSplitEnvelopes(t, body, 0); n != 0 {
		t.Errorf("decoded %d envelopes with a limit of 0", n)
	}
	for _, bad := range [][]byte{
		deliveryBody(envs[0], []byte(`{"id":`)),
		deliveryBody(envs[0], []byte(`{"id":1}}`)),
		append(deliveryBody(envs[0]), " x"...),
		bytes.TrimSuffix(deliveryBody(envs[0]), []byte(`]}`)),
	} {
		checkSplitEnvelopes(t, bad, 10)
		if _, _, err := contracts.SplitEnvelopes(bad, "envelopes", 10, func(string, json.RawMessage) error { return nil }); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzSplitEnvelopes holds SplitEnvelopes to RawObjectSplit and to
// DecodeEnvelopeRecord of each envelope alone, and the envelopes and
// records it decodes to keeping when the body is overwritten and others
// decoded (checkOwnStrings).
func FuzzSplitEnvelopes(f *testing.F) {
	envs, _ := wireSamples(f)
	f.Add(deliveryBody(envs...))
	f.Add(deliveryBody(envs[0], []byte(`{"id":1}`)))
	for _, e := range envs[:3] {
		f.Add(deliveryBody(e))
	}
	for _, s := range rawSeeds {
		f.Add([]byte(s))
	}
	other := deliveryBody(envs[0])
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSplitEnvelopes(t, data, 8)
		checkOwnStrings(t, data, other, splitEnvelopesDecoded)
	})
}

// BenchmarkReadDelivery reads a delivery of 100 envelopes signed alone, as a
// destination reads a request body: split, then each envelope decoded with
// its record, or both in one pass (SplitEnvelopes).
func BenchmarkReadDelivery(b *testing.B) {
	env, err := signedEnvelope(b, keys(b)[1].priv).AppendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	envs := make([][]byte, 100)
	for i := range envs {
		envs[i] = env
	}
	data := deliveryBody(envs...)
	none := func(string, json.RawMessage) error { return nil }
	b.Run("split-then-decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			elems, err := contracts.RawObjectSplit(data, "envelopes", none)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range elems {
				if _, _, err := contracts.DecodeEnvelopeRecord(e); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("one-pass", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			_, decoded, err := contracts.SplitEnvelopes(data, "envelopes", len(envs), none)
			if err != nil || decoded[len(decoded)-1].Env == nil {
				b.Fatal(err)
			}
		}
	})
}
