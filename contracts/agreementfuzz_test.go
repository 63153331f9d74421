package contracts_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// decodeAgreementReference is what DecodeAgreement would do with
// encoding/json alone: the schema read as encoding/json reads it, then the
// document decoded with unknown members and trailing data refused.
func decodeAgreementReference(data []byte) (*contracts.Agreement, error) {
	var probe struct{ Schema string }
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, err
	}
	if probe.Schema != contracts.SchemaAgreement {
		return nil, errors.New("not an agreement")
	}
	a := new(contracts.Agreement)
	if err := contracts.DecodeStrictPlain(data, a); err != nil {
		return nil, err
	}
	return a, nil
}

// decodedAgreement is DecodeAgreement for checkOwnStrings.
func decodedAgreement(data []byte) any {
	a, err := contracts.DecodeAgreement(data)
	if err != nil {
		return nil
	}
	return a
}

// FuzzDecodeAgreement holds DecodeAgreement's walk of the document to
// encoding/json: whatever it accepts, encoding/json accepts as the same
// agreement, which encodes to a document it accepts again as the same, and
// which keeps when its input is overwritten (checkOwnStrings); whatever it
// refuses is refused with a *DecodeError, and where encoding/json accepts
// it only for a member given twice or in another case (repeatedOrFolded),
// or for its size, which DecodeAgreement refuses on purpose.
func FuzzDecodeAgreement(f *testing.F) {
	g := generator(f)
	var good []byte
	for range 3 {
		b, err := json.Marshal(g.Agreement())
		if err != nil {
			f.Fatal(err)
		}
		good = b
		f.Add(b)
	}
	if b, err := os.ReadFile("testdata/valid/agreement.json"); err == nil {
		f.Add(b)
	}
	const head = `{"schema":"laborlink.agreement/v1","id":"AG-1",`
	for _, members := range []string{
		`"valid_from":"2026-02-30"}`,
		`"valid_until":"2026-12-3\u0031","valid_from":null}`,
		`"approvals":[{"province":"51","at":"2026-01-01T00:00:00\u002b08:00"}]}`,
		`"approvals":[{"signature":"AQ"},{"signature":[1,2]},null]}`,
		`"id":"AG-2"}`,
		`"ID":"AG-2","ſchema":"laborlink.agreement/v1"}`,
		`"origin":{"name":"x","Name":"y"},"scope":[{"record_type":"transfer","purposes":[],"fields":null}]}`,
		`"quotas":[{"limit":1}],"version":1.0}`,
		`"title":"\ud800\u0000é"} {}`,
	} {
		f.Add([]byte(head + members))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := contracts.DecodeAgreement(data)
		want, werr := decodeAgreementReference(data)
		if err == nil {
			if werr != nil {
				t.Fatalf("DecodeAgreement accepts what encoding/json refuses (%v):\n%q", werr, data)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("agreements differ:\n got %+v\nwant %+v\n%q", got, want, data)
			}
			checkAgreementRoundTrip(t, got)
			checkOwnStrings(t, data, good, decodedAgreement)
			return
		}
		if got != nil {
			t.Fatalf("an agreement with the error %v", err)
		}
		var de *contracts.DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("%T %v, want a *DecodeError:\n%q", err, err, data)
		}
		if werr != nil || repeatedOrFolded(data) || len(data) > contracts.MaxRecordSize {
			return
		}
		t.Fatalf("DecodeAgreement refuses what encoding/json accepts: %v\n%q", err, data)
	})
}

// checkAgreementRoundTrip fails t unless a decoded agreement's JSON, as the
// CLI and the registry write it, decodes to an agreement with the same
// JSON again. (Not the same value: an empty list left out, omitempty,
// comes back nil.)
func checkAgreementRoundTrip(t *testing.T, a *contracts.Agreement) {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		return // a time encoding/json cannot write, as it decoded it
	}
	back, err := contracts.DecodeAgreement(b)
	if err != nil {
		t.Fatalf("the JSON of a decoded agreement does not decode: %v\n%s", err, b)
	}
	if again, err := json.Marshal(back); err != nil || string(again) != string(b) {
		t.Fatalf("the JSON of a decoded agreement decodes to another (%v):\n%s\n%s", err, again, b)
	}
}
