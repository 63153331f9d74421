// Package api is a node's local HTTPS API for the province's own callers,
// laid out as go-kit endpoints and an HTTP transport under /api/v1:
//
//   - systems (kind system) submit records and read their delivery state and
//     the inbox of what arrived from other provinces;
//   - auditors (kind auditor) read the audit log, its signed heads and proofs,
//     and aggregates, never record payloads; they export it, have the node
//     verify its own store, and reconcile it with another province's node's
//     (which the node reads over the peer API);
//   - operators (kind operator) read the node's status, and with admins
//     list, requeue and discard the dead letters: envelopes delivery gave up on.
//
// Agreements and registry operations (admins) are served by the registry's
// handler on the same listener; api/openapi.yaml describes both.
package api
