package contracts_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// checkOwnStrings fails t unless what decode makes of a copy of data stays
// what it makes of data once data has been decoded again and that copy has
// held another document, decoded there, and been overwritten: the strings
// a decoder returns are its own, neither views of the bytes they were read
// from nor of string-slab bytes (carveString) that a later decode writes
// again. Those bytes come from other provinces and business systems, and a
// buffer read into again would otherwise change, or leak into, the records
// decoded from it. decode returns nil where data does not decode, and
// leaves out what is by contract a slice of the input (an envelope's
// Payload).
func checkOwnStrings(t *testing.T, data, other []byte, decode func([]byte) any) {
	t.Helper()
	want := decode(data)
	if want == nil {
		return
	}
	// Its JSON is a copy of every string, which a slab that want shares
	// with got would not change; a value that json.Marshal refuses (a time
	// in a zone it cannot write) is held to want alone.
	wantJSON, jsonErr := json.Marshal(want)
	buf := bytes.Clone(data)
	got := decode(buf)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q decodes to %+v, a copy of it to %+v", data, want, got)
	}
	// data decoded again, then the other document where data was, decoded
	// there (last, so that it is what a slab used again would hold), and
	// every byte made unlike data's.
	decode(bytes.Clone(data))
	for i := copy(buf, other); i < len(buf); i++ {
		buf[i] = ' '
	}
	decode(buf)
	for i := range buf {
		buf[i] = ^data[i]
	}
	gotJSON, _ := json.Marshal(got)
	if !reflect.DeepEqual(got, want) || jsonErr == nil && !bytes.Equal(gotJSON, wantJSON) {
		t.Fatalf("decoded from %q, changed with its input or the decodes after it:\n got %s\nwant %s", data, gotJSON, wantJSON)
	}
}

// decodedRecord is Decode for checkOwnStrings.
func decodedRecord(data []byte) any {
	rec, err := contracts.Decode(data)
	if err != nil {
		return nil
	}
	return rec
}

// withoutPayload is a copy of e without its Payload, which is by contract a
// slice of the bytes e was decoded from, nor the mark that remembers it.
func withoutPayload(e *contracts.Envelope) *contracts.Envelope {
	c := *e
	c.Payload = nil
	c.ForgetCanonical()
	return &c
}

// decodedEnvelopeRecord is DecodeEnvelopeRecord for checkOwnStrings, the
// payload left out.
func decodedEnvelopeRecord(data []byte) any {
	env, rec, err := contracts.DecodeEnvelopeRecord(data)
	if err != nil {
		return nil
	}
	return []any{withoutPayload(env), rec}
}

// splitEnvelopesDecoded is SplitEnvelopes of a delivery for
// checkOwnStrings: the envelopes and records decoded in the split, the
// payloads left out.
func splitEnvelopesDecoded(data []byte) any {
	_, decoded, err := contracts.SplitEnvelopes(data, "envelopes", contracts.MaxDeliveryBatch, func(string, json.RawMessage) error { return nil })
	if err != nil {
		return nil
	}
	var out []any
	for _, d := range decoded {
		if d.Env != nil {
			out = append(out, withoutPayload(d.Env), d.Rec)
		}
	}
	return out
}

// TestDecodedStringsOutliveTheirInput: records decoded alone, with their
// envelope and in a delivery's split keep their strings when the bytes
// they were read from are overwritten and other documents decoded.
func TestDecodedStringsOutliveTheirInput(t *testing.T) {
	g := generator(t)
	var records [][]byte
	for range 4 {
		tr, r := g.Transfer(), g.Referral()
		for _, rec := range []contracts.Record{tr, g.Confirmation(tr), r, g.ReferralUpdate(r)} {
			b, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			records = append(records, b)
		}
	}
	for i, doc := range records {
		checkOwnStrings(t, doc, records[(i+1)%len(records)], decodedRecord)
	}
	envs := recordEnvelopes(t)
	for i, env := range envs {
		if _, _, err := contracts.DecodeEnvelopeRecord(env); err != nil {
			t.Fatalf("sample envelope %d: %v", i, err)
		}
		checkOwnStrings(t, env, envs[(i+1)%len(envs)], decodedEnvelopeRecord)
	}
	delivery := deliveryBody(envs...)
	if got := splitEnvelopesDecoded(delivery); got == nil || len(got.([]any)) != 2*len(envs) {
		t.Fatalf("the sample delivery is not decoded in its split: %v", got)
	}
	checkOwnStrings(t, delivery, deliveryBody(envs[1:]...), splitEnvelopesDecoded)
}
