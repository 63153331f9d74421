// Package peer is the node-to-node API: batches of signed envelopes in,
// signed receipts out, over mutual TLS with node certificates only; and, for
// reconciliation, each node's audit entries of the flows between its
// province and the caller's (AuditPath). It follows
// go-kit's layout: a Receiver service, endpoints, an HTTP transport, and a
// client whose endpoint is wrapped in a per-peer circuit breaker.
//
// Per-envelope outcomes (stored, duplicate, rejected by import policy) travel
// inside a successful response, so only transport and server faults count
// against the breaker; a peer that correctly refuses a record is healthy.
package peer

import (
	"context"
	"crypto/x509"
	"encoding/json"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/pki"
)

// Path is where the peer API accepts batches.
const Path = "/peer/v1/deliver"

// MaxBody bounds a request body: a batch of contracts.MaxDeliveryBatch
// envelopes, each a record of contracts.MaxRecordSize with envelopeRoom
// around it, after the sender's certificate chain (chainRoom):
// 1000 × (64 KiB + 16 KiB) + 64 KiB = 81,985,536 bytes, about 78 MiB.
//
// An envelope may be larger than that, though rarely: nodes write a
// payload with the escapes json.Marshal adds (\u0026 for each &, say), and
// a receiver decodes an envelope of up to twice MaxRecordSize. A full batch
// of such envelopes (125 MiB) is not worth holding in memory for one
// request: it is refused 413 and its sender splits it
// (delivery.Config.Refusal), while a batch of delivery.DefaultBatchSize of
// them fits.
const MaxBody = contracts.MaxDeliveryBatch*(contracts.MaxRecordSize+envelopeRoom) + chainRoom

// envelopeRoom is an envelope's bytes around its record, and the comma
// after it: members whose values are identifiers of at most
// contracts.MaxIDLen characters (each escaped, at worst), a timestamp, a
// digest and the signer's URI, and a batch proof with a path for
// contracts.MaxBatch envelopes. About 2 KiB at most; 16 KiB leaves room
// for what the protocol may add.
const envelopeRoom = 16 << 10

// chainRoom is the room for the request's frame and its signing chain in
// base64: a node certificate and its province CA's, a few KiB.
const chainRoom = 64 << 10

// Status is what the destination did with one envelope.
type Status string

// The outcomes of one envelope.
const (
	StatusStored    Status = "stored"
	StatusDuplicate Status = "duplicate"
	StatusRejected  Status = "rejected"
	// StatusDeferred: not decided now (the destination's registry may lag,
	// or a transient fault); the origin keeps the envelope and retries.
	StatusDeferred Status = "deferred"
)

// DeliverRequest is one batch of signed envelopes.
type DeliverRequest struct {
	// Chain is the certificate chain (DER, leaf first) of the key that signed
	// the envelopes: the sending node's. The receiver verifies it against the
	// federation root and its revocation list, so signatures stay checkable
	// apart from the TLS session they arrived in.
	Chain [][]byte `json:"chain"`
	// Envelopes are the signed envelopes, as the origin encoded them.
	Envelopes []json.RawMessage `json:"envelopes"`
	// Decoded, when the body was read by this package, holds each
	// envelope of Envelopes decoded with its record as the body was split
	// (contracts.SplitEnvelopes); an Env of nil there, or no Decoded at
	// all, leaves the envelope to be decoded alone.
	Decoded []contracts.DecodedEnvelope `json:"-"`
}

// Result is the destination's answer for one envelope, in request order.
type Result struct {
	EnvelopeID string `json:"envelope_id"`
	Status     Status `json:"status"`
	// Reasons are stable codes for a rejection.
	Reasons []string `json:"reasons,omitempty"`
	// Receipt is the destination's signed receipt (stored or duplicate).
	Receipt json.RawMessage `json:"receipt,omitempty"`
}

// DeliverResponse answers a batch.
type DeliverResponse struct {
	Results []Result `json:"results"`
	// Chain is the certificate chain (DER, leaf first) whose key signed the
	// receipts: the destination node's. The origin verifies it and every
	// receipt before it counts an envelope as delivered.
	Chain [][]byte `json:"chain"`
}

// ReceiptBindingHeader is the request header with which an origin asks for
// receipts bound to the whole envelope: with the value
// ReceiptBindingEnvelope, the destination's receipts carry envelope_digest
// (contracts.Receipt.EnvelopeDigest). Receipts are decoded strictly, so an
// origin of a release before the member would refuse every receipt that
// has it: a destination writes it only for an origin that says it reads
// it, which this package's client does with every delivery.
const ReceiptBindingHeader = "Laborlink-Receipt-Binding"

// ReceiptBindingEnvelope is ReceiptBindingHeader's value asking for
// envelope_digest.
const ReceiptBindingEnvelope = "envelope_digest"

// bindingKey is the context key under which the server says the origin of
// a delivery asked for bound receipts.
type bindingKey struct{}

// WithReceiptBinding returns ctx saying that the origin of the delivery
// being answered asked for receipts bound to the whole envelope, as the
// server says it when the request carries ReceiptBindingHeader.
func WithReceiptBinding(ctx context.Context) context.Context {
	return context.WithValue(ctx, bindingKey{}, true)
}

// ReceiptBinding reports whether the origin of the delivery a Receiver
// answers asked for receipts bound to the whole envelope
// (WithReceiptBinding): false for an origin of an earlier release, whose
// receipts must then be without envelope_digest.
func ReceiptBinding(ctx context.Context) bool {
	bound, _ := ctx.Value(bindingKey{}).(bool)
	return bound
}

// Receiver is the destination side of the exchange. Implementations verify
// each envelope (origin = the peer's province, signature, import policy),
// store it once, and answer a result per envelope; an error means the batch
// as a whole could not be handled and the sender should retry it.
type Receiver interface {
	// Receive answers a delivery: envelopes as they arrived and, where
	// the transport decoded them as it read the body, decoded (see
	// DeliverRequest.Decoded; nil when it decoded none). A decoded[i]
	// with an Env is taken for what contracts.DecodeEnvelopeRecord makes
	// of envelopes[i], unchecked: it is what gets verified, while
	// envelopes[i] is what gets stored, so a caller must never pair them
	// otherwise.
	//
	// Each receipt binds its whole envelope when ctx says the origin asked
	// for it (ReceiptBinding), and binds its id and payload only
	// otherwise.
	//
	// The answer holds a result per envelope, in request order, and the
	// certificate chain of the key that signed their receipts, read with
	// that key: a chain read apart from the signing would be the newer
	// certificate's should the node's rotate while the request is
	// handled, and the origin would trust no receipt of the answer.
	Receive(ctx context.Context, from pki.Identity, chain []*x509.Certificate, envelopes []json.RawMessage, decoded []contracts.DecodedEnvelope) (DeliverResponse, error)
}
