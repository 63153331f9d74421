// Package policy decides, with OPA embedded as a library, whether a record may
// cross a provincial border and what goes with it.
//
// Every record is decided twice: by the origin's export decision before it
// leaves and by the destination's import decision when it arrives. Each
// decision consults two layers that must both allow: the federation bundle
// (replicated through the registry, versioned; a copy ships in the binary) and
// the node's own province policy (a directory of Rego files). Default deny: a
// record crosses only under an agreement that passes every check. An export
// both allow is still denied when its obligations would keep from the
// destination a division that its decision reads (crossing.go): the
// destination would refuse it for good.
//
// A decision is a document: allow, reasons with stable codes, obligations per
// field path (drop, or mask with a named pattern), the agreement used and the
// revisions of both layers. Apply carries out the obligations on the record's
// JSON.
//
// Queries are prepared once per pair of layer revisions and swapped
// atomically; a decision finishes on the revision it started with. Decisions
// for records of the same shape under the same agreement, day and revisions
// are identical, so the engine caches them (see cache.go and docs/policy.md
// for what the cache key holds and why that is sound).
package policy
