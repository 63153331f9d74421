package audit

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// person is the personal data a real record carries: it must never reach the log.
type person struct {
	Name, IDNumber, Phone string
}

var surnames = []rune("王李张刘陈杨黄赵吴周")
var givens = []rune("伟芳娜敏静丽强磊军洋")

// idNumber makes a GB 11643-valid resident ID number from province 51.
func idNumber(r *rand.Rand) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	body := fmt.Sprintf("510101%04d%02d%02d%03d", 1970+r.IntN(35), 1+r.IntN(12), 1+r.IntN(28), r.IntN(1000))
	sum := 0
	for i, c := range body {
		sum += int(c-'0') * weights[i]
	}
	return body + string("10X98765432"[sum%11])
}

func newPerson(r *rand.Rand) person {
	return person{
		Name:     string([]rune{surnames[r.IntN(len(surnames))], givens[r.IntN(len(givens))], givens[r.IntN(len(givens))]}),
		IDNumber: idNumber(r),
		Phone:    fmt.Sprintf("1%d%09d", 3+r.IntN(7), r.IntN(1e9)),
	}
}

// record stands in for a contracts record: a header the log may see and a
// body full of personal data it may not.
type record struct {
	ID          string `json:"id"`
	From, To    string
	AgreementID string `json:"agreement_id"`
	Purpose     string `json:"purpose"`
	Worker      person `json:"worker"`
	WageFen     int64  `json:"wage_fen"`
}

// flowEntries is how the exchange describes one record crossing from 51 to
// 44: what the origin logs and what the destination logs.
func flowEntries(r *rand.Rand, i int, at time.Time) (rec record, origin, dest Entry) {
	rec = record{ID: fmt.Sprintf("sub-%d", i), From: "51", To: "44", AgreementID: "AG-51-44-2026-001",
		Purpose: "employment-service", Worker: newPerson(r), WageFen: 500000 + r.Int64N(100000)}
	payload, _ := json.Marshal(rec)
	origin = Entry{
		Time: at, Kind: KindSent, EnvelopeID: fmt.Sprintf("env-%06d", i), RecordType: "transfer",
		Origin: "51", Destination: "44", AgreementID: rec.AgreementID, AgreementVersion: 1,
		Purpose: rec.Purpose, Decision: Allow, Policy: PolicyRevisions{"fed-3", "p51-8"},
		PayloadDigest: sha256.Sum256(payload), Size: int64(len(payload)),
		Peer: "spiffe://p44.laborlink.test/node/gw-1",
	}
	dest = origin
	dest.Kind = KindReceived
	dest.Time = at.Add(time.Duration(20+r.IntN(200)) * time.Millisecond)
	dest.Policy.Province = "p44-2"
	dest.Peer = "spiffe://p51.laborlink.test/node/gw-1"
	return rec, origin, dest
}

// traffic builds n clean flows; a and b are the two nodes' logs, indexed.
func traffic(n int, seed uint64) (recs []record, a, b []Entry) {
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range n {
		rec, o, d := flowEntries(r, i, t0.Add(time.Duration(i)*time.Minute))
		o.Index, d.Index = int64(len(a)), int64(len(b))
		recs, a, b = append(recs, rec), append(a, o), append(b, d)
		receipt := o
		receipt.Kind, receipt.RefersTo, receipt.EnvelopeID = KindReceipt, o.EnvelopeID, "rcpt-"+o.EnvelopeID
		receipt.LatencyMS = int64(d.Time.Sub(o.Time) / time.Millisecond)
		receipt.Index = int64(len(a))
		a = append(a, receipt)
	}
	return recs, a, b
}
