package contracts_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/laborlink/laborlink/contracts"
)

// seedDocuments is the fuzz seed corpus: generated records of every type, the
// example files, and a few broken documents.
func seedDocuments(f *testing.F) [][]byte {
	f.Helper()
	g := generator(f)
	var docs [][]byte
	add := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		docs = append(docs, b)
	}
	for range 3 {
		tr := g.Transfer()
		r := g.Referral()
		add(tr)
		add(g.Confirmation(tr))
		add(r)
		add(g.ReferralUpdate(r))
		add(g.Agreement())
	}
	files, _ := filepath.Glob("testdata/*/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		docs = append(docs, b)
	}
	docs = append(docs, []byte(`{"schema":"laborlink.transfer/v1","events":[{"kind":"left","at":"2026-01-01T00:00:00Z"}]}`),
		[]byte(`{"schema":"laborlink.referral/v1","amount_owed_fen":9007199254740993}`),
		[]byte(`{"schema":"laborlink.transfer/v1"} {}`), []byte(`[`), []byte(`{"schema":"\u006caborlink.transfer/v1"}`))
	return docs
}

// FuzzDecode checks that decoding never panics, and that whatever decodes is
// stable: encoding it and decoding again gives the same JSON, and its
// present fields are field paths. Whatever also validates must canonicalize
// and seal into an envelope whose record comes back equal.
func FuzzDecode(f *testing.F) {
	for _, d := range seedDocuments(f) {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := contracts.Decode(data)
		if err != nil {
			if rec != nil {
				t.Fatal("a record returned with an error")
			}
			_ = contracts.CheckJSON(data, now)
			return
		}
		b1, err := json.Marshal(rec)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		rec2, err := contracts.Decode(b1)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b1, err)
		}
		if b2, _ := json.Marshal(rec2); string(b1) != string(b2) {
			t.Fatalf("unstable:\n%s\n%s", b1, b2)
		}
		if contracts.ValidateAt(rec, now) != nil {
			return
		}
		checkValidInvariants(t, rec)
	})
}

// checkValidInvariants re-checks, by other means, what validation promised.
func checkValidInvariants(t *testing.T, rec contracts.Record) {
	t.Helper()
	h := rec.Head()
	if h.From == h.To || !contracts.IsProvince(h.From) || !contracts.IsProvince(h.To) {
		t.Fatalf("valid record crosses %q -> %q", h.From, h.To)
	}
	if tr, ok := rec.(*contracts.Transfer); ok {
		if contracts.CheckIDNumber(tr.Worker.IDNumber) != nil || contracts.CheckCreditCode(tr.Placement.EmployerCreditCode) != nil {
			t.Fatalf("valid transfer with bad codes: %+v", tr)
		}
		if !strings.HasPrefix(tr.Placement.Division, tr.To) || !strings.HasPrefix(tr.Worker.HouseholdDivision, tr.From) {
			t.Fatalf("valid transfer with divisions outside its provinces: %+v", tr)
		}
		for i := 1; i < len(tr.Events); i++ {
			if tr.Events[i].At.Before(tr.Events[i-1].At) {
				t.Fatal("valid transfer with events out of order")
			}
		}
	}
	env, err := contracts.NewEnvelope(rec, 1, now)
	if err != nil {
		t.Fatalf("valid record does not seal: %v", err)
	}
	back, err := env.Record()
	if err != nil {
		t.Fatalf("sealed record does not open: %v", err)
	}
	d1, _ := contracts.Digest(rec)
	d2, _ := contracts.Digest(back)
	if d1 != d2 {
		t.Fatal("record changed through its envelope")
	}
}

// FuzzValidate drives the code checks through a transfer's fields: no panic,
// and a transfer that validates has codes the standalone checks accept.
func FuzzValidate(f *testing.F) {
	g := generator(f)
	for range 5 {
		tr := g.Transfer()
		f.Add(tr.Worker.IDNumber, string(tr.Worker.Sex), tr.Worker.BirthDate.String(), tr.Placement.EmployerCreditCode,
			tr.Placement.Division, tr.Placement.Industry, tr.Worker.Phone, tr.Placement.MonthlyWageFen)
	}
	f.Add("11010519491231002X", "female", "1949-12-31", "91350100M000100Y43", "441900", "C1810", "13800138000", int64(-1))
	base := g.Transfer()
	f.Fuzz(func(t *testing.T, id, sex, birth, credit, division, industry, phone string, wage int64) {
		tr := *base
		tr.Worker.IDNumber, tr.Worker.Sex, tr.Worker.Phone = id, contracts.Sex(sex), phone
		tr.Worker.BirthDate, _ = contracts.ParseDate(birth)
		tr.Placement.EmployerCreditCode, tr.Placement.Division, tr.Placement.Industry = credit, division, industry
		tr.Placement.MonthlyWageFen = wage
		if err := tr.ValidateAt(now); err != nil {
			if len(contracts.FieldErrors(err)) == 0 {
				t.Fatalf("not a ValidationError: %v", err)
			}
			return
		}
		if contracts.CheckIDNumber(id) != nil || contracts.CheckCreditCode(credit) != nil ||
			contracts.CheckIndustry(industry) != nil || (phone != "" && contracts.CheckMobile(phone) != nil) ||
			contracts.CheckDivision(division) != nil || wage <= 0 {
			t.Fatalf("valid transfer with bad values: %q %q %q %q %q %d", id, credit, industry, phone, division, wage)
		}
		if tr.Worker.BirthDate.String() != id[6:10]+"-"+id[10:12]+"-"+id[12:14] {
			t.Fatalf("birth date %s disagrees with ID number %s", tr.Worker.BirthDate, id)
		}
		checkValidInvariants(t, &tr)
	})
}

// FuzzCanonicalize checks that canonical form is a fixed point and keeps the
// document's meaning.
func FuzzCanonicalize(f *testing.F) {
	for _, d := range seedDocuments(f) {
		f.Add(d)
	}
	f.Add([]byte(`{"\ud83d\ude00":1,"\ufb01":[true,null,"\u2028"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := contracts.CanonicalizeJSON(data)
		if err != nil {
			return
		}
		c2, err := contracts.CanonicalizeJSON(c)
		if err != nil || string(c) != string(c2) {
			t.Fatalf("canonical form is not a fixed point: %s -> %s (%v)", c, c2, err)
		}
		var a, b any
		if json.Unmarshal(data, &a) != nil || json.Unmarshal(c, &b) != nil {
			t.Fatal("canonical form does not parse")
		}
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("meaning changed:\n%s\n%s", ja, jb)
		}
	})
}

// FuzzDecodeEnvelope checks that what a peer sends cannot crash the receiver:
// decoding, verifying and opening an envelope never panic, and nothing
// verifies under a key that did not sign it.
func FuzzDecodeEnvelope(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/envelope*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"01KJKJ51Y59XNYXSRVHA592X8B","payload":"  ","batch":{"root":"","index":0,"size":1,"path":null,"signature":""}}`))
	stranger := keys(f)[1].priv.Public()
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := contracts.DecodeEnvelope(data)
		if err != nil {
			return
		}
		if env.Verify(stranger) == nil {
			t.Fatal("verified under a key that signed nothing")
		}
		_, _ = env.Record()
		_ = contracts.VerifyInBatch(env, stranger)
	})
}

// decodeReference is what Decode would do with encoding/json alone: the
// reference the hand-written decoders must agree with.
func decodeReference(data []byte) (contracts.Record, error) {
	var probe struct{ Schema string }
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, err
	}
	var rec contracts.Record
	switch probe.Schema {
	case contracts.SchemaTransfer:
		rec = new(contracts.Transfer)
	case contracts.SchemaConfirmation:
		rec = new(contracts.Confirmation)
	case contracts.SchemaReferral:
		rec = new(contracts.Referral)
	case contracts.SchemaReferralUpdate:
		rec = new(contracts.ReferralUpdate)
	default:
		return nil, errors.New("no record schema")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(rec); err != nil {
		return nil, err
	}
	if dec.More() || len(bytes.TrimSpace(data[dec.InputOffset():])) > 0 {
		return nil, errors.New("trailing data")
	}
	return rec, nil
}

// FuzzDecodeEquivalence holds the hand-written decoders to encoding/json:
// whatever they accept, encoding/json accepts with the same meaning, kept
// when the input is overwritten and other records decoded
// (checkOwnStrings); what they reject and encoding/json accepts has a
// repeated member or a member name in another case (repeatedOrFolded),
// which they reject on purpose.
func FuzzDecodeEquivalence(f *testing.F) {
	seeds := seedDocuments(f)
	for _, d := range seeds {
		f.Add(d)
	}
	f.Add([]byte(`{"schema":"laborlink.transfer/v1","Worker":{},"events":[null,{}],"training":null}`))
	f.Add([]byte(`{"schema":"laborlink.referral/v1","id":"a","id":"b","opened_at":"2026-01-01T00:00:00\u002b08:00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ferr := contracts.Decode(data)
		ref, rerr := decodeReference(data)
		if ferr == nil {
			if rerr != nil {
				t.Fatalf("Decode accepts what encoding/json rejects (%v):\n%s", rerr, data)
			}
			a, _ := json.Marshal(fast)
			b, _ := json.Marshal(ref)
			if !bytes.Equal(a, b) {
				t.Fatalf("meanings differ:\n%s\n%s", a, b)
			}
			checkOwnStrings(t, data, seeds[0], decodedRecord)
			return
		}
		if rerr != nil || ref == nil {
			return
		}
		var de *contracts.DecodeError
		if !errors.As(ferr, &de) {
			t.Fatalf("not a DecodeError: %v", ferr)
		}
		if repeatedOrFolded(data) || len(data) > contracts.MaxRecordSize {
			return // refused on purpose, as is a document past the size limit
		}
		t.Fatalf("Decode rejects what encoding/json accepts: %v\n%s", ferr, data)
	})
}

// repeatedOrFolded reports whether the JSON document data, which
// encoding/json reads, has an object with a member name given twice, as
// encoding/json matches names (case folded), or a name not spelled in
// lower case: what the hand-written decoders refuse on purpose where
// encoding/json takes the last of the names, whatever their case. The
// contracts' member names are all in lower-case ASCII. It tells that by
// the document, not by the decoder's error, which may name another
// member: the schema read first, say, when a name that folds to it comes
// later.
func repeatedOrFolded(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var value func() bool
	value = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			var names []string
			for dec.More() {
				tok, err := dec.Token()
				name, isName := tok.(string)
				if err != nil || !isName {
					return false
				}
				if !isLowerASCII(name) || slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }) {
					return true
				}
				names = append(names, name)
				if value() {
					return true
				}
			}
		case json.Delim('['):
			for dec.More() {
				if value() {
					return true
				}
			}
		default:
			return false
		}
		_, _ = dec.Token() // the closing delimiter
		return false
	}
	return value()
}

// isLowerASCII reports whether s has no byte outside ASCII and no upper-case
// letter.
func isLowerASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf || 'A' <= s[i] && s[i] <= 'Z' {
			return false
		}
	}
	return true
}
