package peer

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/delivery"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// largestEnvelope is an unsigned envelope, as a node queues it to be
// signed with its batch, whose every member is as long as a receiver
// takes it: a payload of contracts.MaxRecordSize in canonical form and
// identifiers of contracts.MaxIDLen characters that json.Marshal escapes
// each into six.
func largestEnvelope(t *testing.T, signer string) []byte {
	t.Helper()
	payload := []byte(`{"a":"` + strings.Repeat("x", contracts.MaxRecordSize-len(`{"a":""}`)) + `"}`)
	escaped := strings.Repeat("<", contracts.MaxIDLen)
	e := &contracts.Envelope{
		ID:               "01ARZ3NDEKTSV4RRFFQ69G5FAV",
		Type:             contracts.RecordReferralUpdate,
		Schema:           contracts.SchemaFor(contracts.RecordReferralUpdate),
		Origin:           "51",
		Destination:      "44",
		AgreementID:      escaped,
		AgreementVersion: math.MaxInt,
		Purpose:          contracts.PurposeEmploymentConfirmation,
		Created:          time.Date(2030, 12, 31, 23, 59, 59, 999e6, time.UTC),
		Signer:           signer,
	}
	e.SetPayload(payload)
	env, err := e.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// largestProof is a batch proof for the last envelope of the largest batch
// signed together, with a P-384 signature of the longest encoding.
func largestProof() *contracts.BatchProof {
	path := make([][]byte, 0, 16)
	for n := contracts.MaxBatch; n > 1; n /= 2 {
		path = append(path, bytes.Repeat([]byte{0xff}, 32))
	}
	return &contracts.BatchProof{Root: make([]byte, 32), Index: contracts.MaxBatch - 1, Size: contracts.MaxBatch, Path: path, Signature: make([]byte, 104)}
}

// TestALargestBatchFitsMaxBody: a batch of contracts.MaxDeliveryBatch
// envelopes of the largest record, each with the largest batch proof,
// after a node's real signing chain, is under MaxBody, so a receiver
// reads it rather than answer 413; and so is a batch of the sender's
// default size of envelopes as large as a receiver decodes one (see
// MaxBody).
func TestALargestBatchFitsMaxBody(t *testing.T) {
	p := gatewaytest.NewPKI(t, "51")
	s := p.Signer(p.Issue("51", pki.KindNode, "gw-"+strings.Repeat("x", 40)))
	var chain [][]byte
	for _, c := range s.Chain() {
		chain = append(chain, c.Raw)
	}
	q := store.Queued{EnvelopeID: "01ARZ3NDEKTSV4RRFFQ69G5FAV", Envelope: largestEnvelope(t, s.Identity().URI()), SigningDigest: make([]byte, 32)}
	batch := make([]store.Queued, contracts.MaxDeliveryBatch)
	proofs := make([]*contracts.BatchProof, len(batch))
	for i := range batch {
		batch[i], proofs[i] = q, largestProof()
	}
	body, unsigned, err := encodeBatch(chain, batch, proofs)
	if err != nil || unsigned != -1 {
		t.Fatalf("encode the largest batch: unsigned %d, %v", unsigned, err)
	}
	if body.size() > MaxBody {
		t.Errorf("the largest batch is %d bytes, over MaxBody (%d)", body.size(), MaxBody)
	}
	env, err := contracts.WithBatchProof(q.Envelope, largestProof())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := contracts.DecodeEnvelope(env); err != nil {
		t.Fatalf("the largest envelope is not one a receiver takes: %v", err)
	}

	// As large as DecodeEnvelope takes an envelope: its limit is twice
	// MaxRecordSize. The bytes are not an envelope; only their length
	// counts here.
	decodable := store.Queued{EnvelopeID: q.EnvelopeID, Envelope: bytes.Repeat([]byte("x"), 2*contracts.MaxRecordSize)}
	batch = batch[:delivery.DefaultBatchSize]
	for i := range batch {
		batch[i] = decodable
	}
	if body, _, err := encodeBatch(chain, batch, nil); err != nil || body.size() > MaxBody {
		t.Errorf("a default batch of envelopes as large as a receiver decodes: %d bytes (%v), over MaxBody (%d)", body.size(), err, MaxBody)
	}
}
