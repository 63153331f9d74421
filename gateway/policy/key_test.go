package policy

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// oldKey is the cache key as it was built before appendKey wrote it into
// the caller's buffer: a string (its fields part is appendFieldsKey's, which
// TestFieldsKey holds to the lists of paths). It is
// the reference TestAppendKeyIsTheOldKey holds appendKey to, so that the
// cache tells apart exactly what it told apart.
func oldKey(p *prepared) string {
	var b strings.Builder
	sep := func(s string) { b.WriteString(s); b.WriteByte(0x1f) }
	sep(string(p.req.Side))
	sep(string(p.recordType))
	sep(p.head.Schema)
	sep(string(p.head.Purpose))
	sep(p.head.From)
	sep(p.head.To)
	sep(p.head.AgreementID)
	sep(p.req.Peer)
	sep(p.day)
	division := func(d string, party func(*contracts.Agreement) string) {
		b.WriteString(province(d))
		b.WriteByte(0x1e)
		for i := range p.agreements {
			if !within(d, party(&p.agreements[i])) {
				b.WriteString(d)
				break
			}
		}
		b.WriteByte(0x1f)
	}
	division(p.worker, func(a *contracts.Agreement) string { return a.Origin.Division })
	division(p.employer, func(a *contracts.Agreement) string { return a.Destination.Division })
	b.Write(appendFieldsKey(nil, p.fields))
	b.WriteByte(0x1f)
	for i := range p.agreements {
		a := &p.agreements[i]
		b.WriteString(a.ID)
		b.WriteByte(0x1e)
		b.WriteString(strconv.Itoa(a.Version))
		b.WriteByte(0x1e)
		b.WriteString(string(a.Status))
		b.WriteByte(0x1e)
		b.WriteString(strconv.FormatUint(fingerprint(a), 36))
		b.WriteByte(0x1e)
		for _, q := range a.Quotas {
			if q.RecordType != p.recordType {
				continue
			}
			if p.req.QuotaUsed[QuotaKey{a.ID, q.Period}] >= q.Max {
				b.WriteByte('1')
			} else {
				b.WriteByte('0')
			}
		}
		b.WriteByte(0x1d)
	}
	return b.String()
}

// TestAppendKeyIsTheOldKey: for requests that vary in everything the key
// reads (side, record and its type, purpose, divisions and fields present
// or given, peer, day or the clock's, candidate agreements, quotas), the
// key appendKey writes is, byte for byte, the one the string builder wrote;
// and from a full buffer it grows rather than writes over what is there.
func TestAppendKeyIsTheOldKey(t *testing.T) {
	recs := append(synthRecords(t, 40), transfer51to44(), confirmation44to51(), referral("44", "51"), referralUpdate("44", "51"))
	variants := agreementVariants()
	// Many candidates at once, out of order: past the buffer's size.
	var many []contracts.Agreement
	for i := range 12 {
		a := variants[i%(len(variants)-1)][0]
		a.ID += strconv.Itoa(11 - i)
		many = append(many, a)
	}
	variants = append(variants, many)
	divisions := []string{"511321", "511302", "510104", "440305", "440106", "330102", "", "51"}
	rng := rand.New(rand.NewPCG(3, 4))
	clock := func() time.Time { return march15.Add(16 * time.Hour) }
	longest := 0
	var fingerprints fingerprintMemo
	for i := range 2000 {
		rec := recs[rng.IntN(len(recs))]
		if rng.IntN(3) == 0 {
			rec = withDivisions(t, rec, divisions[rng.IntN(len(divisions))], divisions[rng.IntN(len(divisions))])
		}
		if rng.IntN(3) == 0 {
			rec = withPurpose(t, rec, []contracts.Purpose{contracts.PurposeStatistics, contracts.PurposeRightsProtection}[rng.IntN(2)])
		}
		ags := variants[rng.IntN(len(variants))]
		used := map[QuotaKey]int{}
		for _, a := range ags {
			used[QuotaKey{a.ID, contracts.QuotaYear}] = []int{0, 99_999, 100_000, 400_000}[rng.IntN(4)]
		}
		req := Request{
			Side:       []Side{Export, Import}[rng.IntN(2)],
			Record:     rec,
			Agreements: ags,
			QuotaUsed:  used,
			Peer:       []string{"", "spiffe://p44.laborlink.test/node/gw-1", "spiffe://p51.laborlink.test/system/hr"}[rng.IntN(3)],
			Time:       []time.Time{{}, march15, march15.AddDate(0, 0, 1)}[rng.IntN(3)],
		}
		if rng.IntN(4) == 0 {
			req.Fields = fieldsPresent(rec)
		}
		p := prepare(&req, clock)
		want := oldKey(&p)
		if got := string(p.appendKey(nil, &fingerprints)); got != want {
			t.Fatalf("request %d:\n got %q\nwant %q", i, got, want)
		}
		full := []byte("kept")
		if got := p.appendKey(full[:4:4], &fingerprints); string(got) != "kept"+want {
			t.Fatalf("request %d: appended to a full buffer: %q", i, got)
		}
		longest = max(longest, len(want))
	}
	if longest <= keySize {
		t.Errorf("no key was longer than the buffer (%d bytes, longest %d): the test does not cover growing it", keySize, longest)
	}
}
