package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transparency-dev/formats/log"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Head is a signed tree head: a C2SP checkpoint signed by the node's note key.
type Head struct {
	// Origin names the log.
	Origin string `json:"origin"`
	// Size is the number of entries the head commits to.
	Size int64 `json:"size"`
	// Root is the RFC 6962 root hash of those entries.
	Root tlog.Hash `json:"root"`
	// Note is the signed note exactly as signed; it is what auditors keep and
	// what C2SP verifiers read.
	Note []byte `json:"note"`
}

// GenerateKey creates a checkpoint signing key for the log named origin and
// returns it in the note formats: skey for Config.Signer (via note.NewSigner;
// keep it as secret as the node's TLS key), vkey to publish to auditors.
func GenerateKey(origin string) (skey, vkey string, err error) {
	return note.GenerateKey(rand.Reader, origin)
}

// VerifierKey derives the verifier key of a signer key from GenerateKey (the
// vkey it returned alongside), so that a node can check heads handed back to
// it without a copy of its public key file.
func VerifierKey(skey string) (string, error) {
	parts := strings.SplitN(strings.TrimSpace(skey), "+", 5) // base64 may hold "+" too
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("signer key: want PRIVATE+KEY+name+hash+key, as audit.GenerateKey writes it")
	}
	key, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != algEd25519 {
		return "", errors.New("signer key: not an Ed25519 note key")
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[2], pub)
}

// algEd25519 is the note format's algorithm byte for Ed25519 keys.
const algEd25519 = 1

// ParseHead checks a signed checkpoint against the log's verifier key and
// origin and returns it. It uses transparency-dev's checkpoint parser, the
// same code witnesses and other C2SP tools run.
func ParseHead(signed []byte, origin string, v note.Verifier) (Head, error) {
	cp, _, _, err := log.ParseCheckpoint(signed, origin, v)
	if err != nil {
		return Head{}, fmt.Errorf("signed head: %w", err)
	}
	if len(cp.Hash) != tlog.HashSize || cp.Size > 1<<62 {
		return Head{}, errors.New("signed head: malformed root hash or size")
	}
	h := Head{Origin: cp.Origin, Size: int64(cp.Size), Note: signed}
	copy(h.Root[:], cp.Hash)
	return h, nil
}

// SignedHead returns a head for the log as it is now, signing a new one if
// the tree grew since the last head and returning the last one otherwise.
// Every head it signs is stored (see Heads). Before it signs, it checks
// that the stored tree hashes still give the last head's root and that the
// new tree extends it; if not, it fails with ErrCorrupt and signs nothing,
// rather than sign a head that contradicts one its auditors may hold.
func (l *Log) SignedHead(ctx context.Context) (Head, error) {
	if err := ctx.Err(); err != nil {
		return Head{}, err
	}
	l.signMu.Lock()
	defer l.signMu.Unlock()
	return l.signHead()
}

// signHead is SignedHead under signMu.
func (l *Log) signHead() (Head, error) {
	var h Head
	signed := false
	err := l.update(func(tx *bolt.Tx) error {
		b, err := l.buckets(tx)
		if err != nil {
			return err
		}
		// Open checked the heads against the size; the file may have been
		// changed under the running node since.
		k, v := b.heads.Cursor().Last()
		if err := l.checkHeadsEnd(tx, b, k); err != nil {
			return err
		}
		if k != nil && unkey(k) == b.size {
			h, err = headFromStore(l.cfg.Origin, unkey(k), v)
			return err
		}
		root, err := l.extendingRoot(tx, b)
		if err != nil {
			return err
		}
		h, err = l.sign(b.size, root)
		if err != nil {
			return err
		}
		signed = true
		return b.heads.Put(key(h.Size), h.Note)
	})
	if err != nil {
		err = fmt.Errorf("sign audit head: %w", err)
		if errors.Is(err, ErrCorrupt) {
			l.damaged.Store(&err)
		}
		return Head{}, err
	}
	l.damaged.Store(nil)
	if signed {
		l.lastSigned = l.cfg.Now()
	}
	return h, nil
}

// Damaged is why the last SignedHead refused to sign, or to return, a head
// because the log's storage is damaged (ErrCorrupt), naming the file and
// what to do; nil if it did not, or signed one since. A node reports it
// (its readiness and status): a log that signs no head still takes
// appends, but auditors get no head to check them against. It holds no
// entry's content, only the file, buckets, sizes and hash prefixes.
func (l *Log) Damaged() error {
	if err := l.damaged.Load(); err != nil {
		return *err
	}
	return nil
}

// extendingRoot is the root of the log's tree as its stored hashes give
// it, once checked to extend the last signed head, if any: about three
// times the O(log size) hash reads of the root alone.
func (l *Log) extendingRoot(tx *bolt.Tx, b buckets) (tlog.Hash, error) {
	root, err := treeHash(b.size, hashReader{b})
	if err != nil {
		return tlog.Hash{}, err
	}
	last, ok, err := l.lastHead(b)
	if !ok || err != nil {
		return root, err
	}
	if err := l.checkHeadRoot(tx, b, last); err != nil {
		return tlog.Hash{}, err
	}
	if err := l.checkExtends(tx, b, last, b.size, root); err != nil {
		return tlog.Hash{}, err
	}
	return root, nil
}

// sign signs a head for size entries with root.
func (l *Log) sign(size int64, root tlog.Hash) (Head, error) {
	body := log.Checkpoint{Origin: l.cfg.Origin, Size: uint64(size), Hash: root[:]}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, l.cfg.Signer)
	if err != nil {
		return Head{}, err
	}
	return Head{Origin: l.cfg.Origin, Size: size, Root: root, Note: signed}, nil
}

// Heads returns every head signed so far, oldest first.
func (l *Log) Heads(ctx context.Context) ([]Head, error) {
	var out []Head
	err := l.view(func(tx *bolt.Tx) error {
		b, err := l.buckets(tx)
		if err != nil {
			return err
		}
		return b.heads.ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			h, err := headFromStore(l.cfg.Origin, unkey(k), v)
			if err != nil {
				return err
			}
			out = append(out, h)
			return nil
		})
	})
	return out, err
}

// headFromStore parses a stored head without its signature check: the node
// trusts what it signed itself; auditors use ParseHead.
func headFromStore(origin string, size int64, signed []byte) (Head, error) {
	n, err := note.Open(signed, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if errors.As(err, &unverified) {
		n, err = unverified.Note, nil
	}
	if err != nil {
		return Head{}, fmt.Errorf("%w: head %d: %v", ErrCorrupt, size, err)
	}
	var cp log.Checkpoint
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil || len(cp.Hash) != tlog.HashSize {
		return Head{}, fmt.Errorf("%w: head %d: %v", ErrCorrupt, size, err)
	}
	h := Head{Origin: origin, Size: size, Note: signed}
	copy(h.Root[:], cp.Hash)
	return h, nil
}

// startSigner signs a head on every tick when the tree grew; ticks nil means
// a ticker at Config.SignInterval, or no schedule if that is negative.
func (l *Log) startSigner(ticks <-chan time.Time) {
	ctx, cancel := context.WithCancel(context.Background())
	l.stopSigner = cancel
	l.signerDone = make(chan struct{})
	if ticks == nil {
		if l.cfg.SignInterval < 0 {
			close(l.signerDone)
			return
		}
		t := time.NewTicker(l.cfg.SignInterval)
		go func() { <-ctx.Done(); t.Stop() }()
		ticks = t.C
	}
	go func() {
		defer close(l.signerDone)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticks:
				_, err := l.SignedHead(ctx)
				switch {
				case err == nil || ctx.Err() != nil:
				case errors.Is(err, ErrCorrupt):
					l.cfg.Logger.Error("audit: no head signed: the stored log is damaged; stop the node and restore its data directory from a backup", "err", err)
				default:
					l.cfg.Logger.Error("audit: scheduled head", "err", err)
				}
			}
		}
	}()
}
