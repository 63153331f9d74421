// Package audit is a gateway node's tamper-evident audit log: an append-only
// Merkle tree of every flow the node takes part in (sent, received, denied,
// receipts, confirmations, referral updates, agreement, policy and
// certificate events, operators' requeues and discards of dead letters), signed tree heads in the C2SP checkpoint format, the
// inclusion and consistency proofs that make those heads checkable, and the
// read-only operations auditors run over entries: query, stats, export,
// verify and reconcile.
//
// # Tree mathematics
//
// The tree is RFC 6962 (leaf hash SHA-256(0x00 || entry), node hash
// SHA-256(0x01 || left || right)) as implemented by golang.org/x/mod/sumdb/tlog,
// the code behind sum.golang.org. We chose it over transparency-dev/merkle
// because it is already a dependency, it is maintained with the Go toolchain,
// and it comes with a storage model: every tree hash has a fixed
// StoredHashIndex and never changes once computed, so hashes live in a bbolt
// bucket 64 to a value under sequential keys, an append rewrites only the
// last, partial value and never a page in the middle of the bucket, and
// proofs read O(log n) stored hashes. transparency-dev/merkle
// offers compact ranges and proof maths but leaves storage to the caller.
//
// # Signed heads
//
// A head is a C2SP checkpoint ("<origin>\n<size>\n<base64 root>\n", see
// github.com/transparency-dev/formats/log) signed as a C2SP signed note
// (golang.org/x/mod/sumdb/note) with an Ed25519 note key. The key is separate
// from the node's X.509 identity key: checkpoint verifiers (witnesses, Go's
// sumdb client, transparency-dev tooling) understand Ed25519 note keys, not
// X.509 chains, and a checkpoint key is meant to outlive certificate
// rotations so that old heads stay verifiable. Create one with GenerateKey.
//
// Heads are signed on a schedule (Config.SignInterval) and on demand. What
// serves auditors asks RecentHead, which signs at most one head a
// Config.HeadInterval and serves the newest stored head in between: each
// head signed is a signature and a synced write, which a loop of polls
// would otherwise cost a busy node every time. SignedHead signs whenever
// the log grew.
//
// # Storage
//
// A Log lives in one top-level bbolt bucket (default "audit") with nested
// buckets for entries, tree hashes and signed heads, so the node can share its
// store file (Open) or give the log a file of its own (OpenFile). Keys are
// 8-byte big-endian integers: an entry's position, a hash block's
// StoredHashIndex/64, a head's tree size. A log written before hash blocks
// keeps the hashes it had then under their own StoredHashIndex, up to meta's
// blocks_from. Do not open a log written since with a binary from before
// hash blocks: it fails with ErrCorrupt only once it needs a hash in a
// block, and the entries it appends until then keep their hashes where
// this code does not look for them.
//
// Meta's format key holds the log's format version (formatHashPerKey,
// formatHashBlocks), written when Open creates or upgrades a log. From
// this release on, Open refuses a log of a newer format than it knows with
// ErrNewerFormat, before writing anything to it; a log without the key is
// read by what it holds and gains its version in the transaction that
// opens it, which also starts its hash blocks if it has none yet.
//
// Meta's size key holds the number of entries, from the first append on.
// A log that holds entries or tree hashes without it, or with a value that
// is not a size, is refused with ErrCorrupt: read as empty, it would take
// its next appends over its history. So is a log whose buckets do not end
// where its size says: its last entry must be at position size-1, its last
// hash block must end with tree hash StoredHashCount(size)-1, and its
// hashes of before hash blocks must end at blocks_from-1, and it must hold
// no signed head for a larger size, as one whose entries, tree hashes and
// size were deleted, down to none or to fewer, does (Open reads the last
// key of each bucket). A size smaller than the log would also have appends
// take positions it holds, so an append fails with ErrCorrupt, writing
// nothing, if an entry or a tree hash is stored at or past where it would
// write, and SignedHead fails with ErrCorrupt, signing nothing, if a head
// for a larger size is stored.
//
// Open also reads the last signed head: it must be signed by
// Config.Signer's key (else ErrWrongKey: the key file is not the log's),
// its signature must verify with Config.Verifier if set, and the stored
// tree hashes must still give its root at its size (else ErrCorrupt). A
// changed tree hash would otherwise have the log sign heads that do not
// extend the heads its auditors hold, a fork under its own key, and blame
// intact entries when it checks itself. Before it signs, SignedHead checks
// the same root and that the new tree extends it, by a consistency proof
// from the stored hashes: O(log size) reads, about three times those of the
// root alone. It fails with ErrCorrupt, signing nothing, otherwise, and
// Damaged reports it until a head is signed again. Only hashes a root or a
// proof reads are checked this way; a changed entry, or a hash only an
// inclusion proof reads, is found by Verify.
//
// # Personal data
//
// An Entry cannot carry personal data: it has no free-text field. Identifiers
// are ASCII tokens that reject anything shaped like a resident ID number or a
// phone number, provinces are two-digit codes, reasons and details come from
// closed sets, and payloads appear only as SHA-256 digests and sizes. Append
// refuses an entry that fails Entry.Validate.
//
// # Concurrency
//
// A *Log is safe for concurrent use. Appends from many goroutines are grouped
// into one bbolt transaction (one fsync) by a single committer goroutine.
// The auditor-side functions (Query, Stats, Export*, Reconcile, Verify) are
// pure functions over entries, so they run on a node's own log and on files an
// auditor was given alike.
package audit
