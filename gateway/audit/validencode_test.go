package audit

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestPreparedValidEntriesMatchGeneric: Prepare copies the tokens and codes
// of an entry Validate passed without scanning them for what to escape. Valid
// entries with fields swapped for hostile strings, when Validate still passes
// them, must be stored as the generic encoding writes them; a Validate that
// let through a quote, a backslash or a control character fails here.
func TestPreparedValidEntriesMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	base := validEntries(10)
	valid := 0
	for range 50_000 {
		es := []Entry{base[r.IntN(len(base))]}
		e := &es[0]
		fields := []*string{(*string)(&e.Kind), &e.EnvelopeID, &e.RefersTo, &e.RecordType,
			(*string)(&e.Origin), (*string)(&e.Destination), &e.AgreementID, &e.Purpose,
			(*string)(&e.Decision), &e.Peer, &e.Due, &e.Serial, (*string)(&e.Detail),
			&e.Policy.Federation, &e.Policy.Province}
		for range 1 + r.IntN(3) {
			*fields[r.IntN(len(fields))] = randomString(r)
		}
		if r.IntN(4) == 0 {
			e.Reasons = []Reason{Reason(randomString(r)), ReasonOther}
		}
		ps, err := prepareAll(es, t0)
		if err != nil {
			continue
		}
		valid++
		want, err := genericMarshal(*e)
		if err != nil {
			t.Fatalf("entry %#v passed Validate but not the generic encoding: %v", *e, err)
		}
		got := spliceIndex(nil, ps[0].enc, ps[0].cut, e.Index)
		if !bytes.Equal(got, want) {
			t.Fatalf("entry %#v\nprepared: %s\nwant:     %s", *e, got, want)
		}
	}
	if valid < 1000 {
		t.Fatalf("only %d of the entries were valid", valid)
	}
}
