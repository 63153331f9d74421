// Package exchange is the record path of a gateway node, both ends of it.
//
// Export (origin): decode and validate a submitted record, check that the
// submitting system speaks for the record's province, find the agreement it
// travels under, ask policy for the export decision, apply the field
// obligations, seal the envelope (canonical payload, its digest, the signing
// node named), and durably queue it for the destination before answering
// "accepted".
//
// Signing. On a node (BatchSender wired in front of the peer client) a
// queued envelope is signed when it leaves, together with the rest of its
// delivery batch: one signature over the Merkle root of the envelopes'
// signing digests, each envelope carrying its inclusion proof
// (contracts.BatchProof), so each stays verifiable on its own with
// contracts' Envelope.Verify after the batch is split up, at the destination
// or by an auditor later. What is fixed at acceptance is the payload and its
// digest, which the "sent" audit entry records; the signature covers exactly
// that. Without BatchSender each envelope is signed alone when accepted.
//
// Import (destination): check that the sending node's province is the
// envelope's origin and that the envelope is addressed here, verify the
// payload digest and the signature against the sender's certificate chain
// (for a batch-signed envelope: its inclusion proof, and each distinct batch
// root's signature once per request; the envelopes of a request that make
// up one whole signed tree are proved together by building the tree once,
// each one's own path still held to it, contracts.VerifyTrees), validate
// the record, ask policy for the import decision, apply its obligations,
// store the envelope once, as it arrived (its id makes redelivery
// harmless), and answer a signed receipt: bound to the whole envelope, by
// the signing digest verified with it, for an origin that asks
// (peer.ReceiptBinding), and to its id and payload digest only for an
// origin of an earlier release, which could not read the binding.
//
// The per-record work of a request (decoding, policy, canonical encoding,
// signing or verifying) runs on every core, results in request order. A
// delivery's envelopes are decoded earlier, by the peer transport as it
// splits the body, in one pass on one core, rather than split there and
// decoded here on every core: that second pass costs CPU, which spreading
// it over the cores does not give back (they save time, not CPU).
// contracts' BenchmarkReadDelivery measures both ways on one core: for
// 100 envelopes the one pass takes about a quarter less CPU (figures, and
// the destination's CPU per record end to end, in docs/performance.md).
//
// Both ends write the flow to the audit log: identifiers, digests and
// decisions, never the record's content. When the audit log shares the
// store's bbolt file (a node's node.db), the sent and received entries are
// written in the transaction that queues or stores the records, so a record
// and its audit entry are durable together. An entry the log refuses
// never fails the commit of other records, nor is it dropped unsaid:
// identifiers the log refuses are cleared and the entry written without
// them (the operator's log names the fields), and a record whose entry the
// log refuses even so is left out of the commit, answered unavailable
// (export) or deferred "audit_error" (import). A peer's envelope whose ids
// are not contracts' ids (the log's tokens) is rejected on its own, and
// its refusal audited.
package exchange
