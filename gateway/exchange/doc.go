// Package exchange is the record path of a gateway node, both ends of it.
//
// Export (origin): decode and validate a submitted record, check that the
// submitting system speaks for the record's province, find the agreement it
// travels under, ask policy for the export decision, apply the field
// obligations, sign the envelope, and durably queue it for the destination
// before answering "accepted".
//
// Import (destination): check that the sending node's province is the
// envelope's origin and that the envelope is addressed here, verify the
// signature against the sender's certificate chain, validate the record, ask
// policy for the import decision, apply its obligations, store the envelope
// once (its id makes redelivery harmless) and answer a signed receipt.
//
// Both ends write the flow to the audit log: identifiers, digests and
// decisions, never the record's content.
package exchange
