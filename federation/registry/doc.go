// Package registry is the federation registry: one raft group across the
// federation that holds the member provinces (their nodes, addresses and CA
// certificates), cooperation agreements with their whole history, the
// federation policy bundle versions and revoked certificate serials. Both
// sides of a border decide on the same agreement version because they read
// the same replicated log.
//
// # Pieces
//
//   - Store is the state machine without raft: commands in, results and
//     queries out. Registry drives it from raft (an unexported fsm adapts it).
//   - Commands travel in a versioned Envelope signed by an admin (or, to
//     join, by a node) with pki's convention. The leader stamps At; apply
//     verifies the signer's chain against the root and province CA
//     certificates held in the registry, as of At, so every replica reaches
//     the same verdict without reading a clock or a file. A refused command
//     is in the log too and is refused identically everywhere. The one
//     unsigned command, the genesis (OpInit), is proposed only by a
//     bootstrap node from its configuration; Submit refuses it.
//   - Each op has the command level of the release that introduced it
//     (CommandLevel is this release's). A node of an older release would
//     refuse a newer op as unknown while the others apply it, so before
//     proposing an op above level 1 the leader asks every node in the
//     directory for its level and refuses the command, naming the nodes
//     behind or unreachable, unless all know it. The check is outside the
//     state machine: apply stays deterministic.
//   - Each command carries a nonce. A command resubmitted after a leader
//     change answers its first outcome: writes are exactly-once, which is
//     what lets a client retry on another node. The nonce is bound to the
//     command's signing bytes: another command reusing it is refused, not
//     answered with the first one's outcome.
//   - Index answers "which agreements cover (origin, destination, type,
//     purpose) at t" with two map lookups and a scan of the few agreements of
//     that pair. It is an immutable value published with an atomic pointer
//     after every apply that changes coverage; only the touched province pair
//     is rebuilt, so reads never lock and writes stay cheap.
//   - Raft runs over a stream layer on pki's mutual TLS: only node
//     certificates of member provinces may connect, checked in the handshake.
//     The log and stable store are bbolt (raft-boltdb/v2), snapshots are files.
//   - Writes go to any node; a follower forwards them to the leader's HTTPS
//     API over mTLS. Reads are local and carry a Freshness (applied index,
//     last contact with the leader, stale); Consistent makes the next local
//     read linearizable with a read index obtained from the leader after a
//     barrier.
//
// # Agreement lifecycle
//
// propose (version 1, proposed) -> approve by each party's admin (approved,
// active from valid_from) -> suspend/resume -> terminate, or expired after
// valid_until. Active, suspended and expired are derived from the stored
// status and the day in China Standard Time; approved and terminated are
// stored. A suspension belongs to the province that made it: the agreement
// is suspended while any party holds one, and only that party can lift it.
// Amend proposes version N+1, which needs both approvals again; version N
// stays in force until then and is marked superseded when N+1 is approved.
// Version N+1 comes into force holding N's suspensions: approving new terms
// lifts no party's suspension, only that party's resume does.
// Terminate ends the version in force and a pending amendment with it;
// naming the amendment's version withdraws it alone.
// Every transition is signed by an admin of a party, and the history keeps
// each signed command, so the history can be verified again at any time.
// An approval signs a command whose body holds the version's SigningDigest,
// binding the signature to the exact terms.
//
// # Governance
//
// Stewards (by default the provinces of the configured voters) admit
// members, publish policy bundles and promote nodes. They also remove a
// member that leaves, once its nodes are removed and its agreements
// terminated; a steward province cannot be removed. The removal retires
// the keys of the province's CA certificates: no chain through them is
// trusted again, so the province comes back only with a new CA, and what
// its old CA signed stays out. A province's admins
// may record the issuance and revocation of their own province's
// certificates, and demote or remove its nodes.
package registry
