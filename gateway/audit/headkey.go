package audit

import (
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
)

// ErrWrongKey is returned by Open for a log whose last signed head is not
// signed by Config.Signer: every head signed from then on would fail the
// verifier key its auditors hold.
var ErrWrongKey = errors.New("audit log was signed with another key")

// Empty reports whether db holds no audit log under bucket, or one with
// nothing an append or a signature writes: no entries, tree hashes, size or
// signed heads, not even a head of the empty tree. Only such a log may get
// a new checkpoint key: any other holds heads, or will be signed over
// entries, that auditors check with the key it has.
func Empty(db *bolt.DB, bucket string) (bool, error) {
	empty := true
	err := db.View(func(tx *bolt.Tx) error {
		top := tx.Bucket([]byte(bucket))
		if top == nil {
			return nil
		}
		for _, name := range [][]byte{bucketEntries, bucketHashes, bucketBlocks, bucketHeads} {
			if b := top.Bucket(name); b != nil {
				if k, _ := b.Cursor().First(); k != nil {
					empty = false
					return nil
				}
			}
		}
		if meta := top.Bucket(bucketMeta); meta != nil && meta.Get(keySize) != nil {
			empty = false
		}
		return nil
	})
	return empty, err
}

// checkHeadKey requires h to carry a signature by Config.Signer's key, by
// its name and key hash, that verifies with Config.Verifier if set. A head
// signed by another key means the key file is not the log's; one whose
// signature by the key does not verify was changed.
func (l *Log) checkHeadKey(tx *bolt.Tx, h Head) error {
	_, err := note.Open(h.Note, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return l.headCorrupt(tx, h, fmt.Sprintf("is not a signed note (%v)", err))
	}
	n := unverified.Note
	s := l.cfg.Signer
	var by []string
	for _, sig := range n.UnverifiedSigs {
		if sig.Name == s.Name() && sig.Hash == s.KeyHash() {
			if l.cfg.Verifier == nil {
				return nil
			}
			if _, err := note.Open(h.Note, note.VerifierList(l.cfg.Verifier)); err != nil {
				return l.headCorrupt(tx, h, fmt.Sprintf("does not verify with the configured key (%v): it was changed", err))
			}
			return nil
		}
		by = append(by, fmt.Sprintf("%s+%08x", sig.Name, sig.Hash))
	}
	return fmt.Errorf("%w: %s, bucket %q: the last signed head, of size %d, is signed by %s, not by the configured key %s+%08x: configure the key the log was signed with (the one its auditors hold the verifier key of), or restore it from a backup",
		ErrWrongKey, tx.DB().Path(), l.cfg.Bucket, h.Size, strings.Join(by, ", "), s.Name(), s.KeyHash())
}

// headCorrupt is ErrCorrupt for a stored head that was changed.
func (l *Log) headCorrupt(tx *bolt.Tx, h Head, problem string) error {
	return l.bucketCorrupt(tx, bucketHeads, fmt.Sprintf("the last signed head, of size %d, %s", h.Size, problem))
}
