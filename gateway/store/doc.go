// Package store is a gateway node's durable state on one bbolt file: the
// outbox of signed envelopes waiting for delivery to each peer province, the
// state of every record the node accepted or denied, and the inbox of
// envelopes received from other provinces.
//
// "Accepted" means durable: a write returns only after the transaction that
// holds it has been committed and fsync'd. Writers are group-committed: while
// one transaction is being written, the writes that arrive queue up and then
// share the next transaction, so fsync bounds latency, not throughput.
//
// The store does not parse envelopes: it keeps their encoded bytes with the
// few fields it indexes, so contracts can evolve without a migration here, and
// another backend (PostgreSQL for a multi-replica province) can implement the
// same methods.
package store
