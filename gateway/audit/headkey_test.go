package audit

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
)

// otherKeyConfig is testConfig signing with a key of its own, for the same
// origin, and its verifier.
func otherKeyConfig(t *testing.T) (Config, note.Verifier) {
	t.Helper()
	skey, vkey, err := GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	if cfg.Signer, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, v
}

// TestALogSignedWithAnotherKeyIsRefused: a log whose last head was signed
// with another key than the configured one (the wrong key file, or a new
// one made in place of a lost key) is refused at open with ErrWrongKey:
// every head it signed from then on would fail the auditors' verifier key.
func TestALogSignedWithAnotherKeyIsRefused(t *testing.T) {
	for _, withVerifier := range []bool{false, true} {
		t.Run(fmt.Sprintf("verifier=%v", withVerifier), func(t *testing.T) {
			path, _, before := closedSignedLog(t, 3, true, func(*bolt.Bucket) error { return nil })
			cfg, v := otherKeyConfig(t)
			if withVerifier {
				cfg.Verifier = v
			}
			checkRefusedAs(t, ErrWrongKey, path, cfg, before, "last signed head", fmt.Sprintf("%08x", cfg.Signer.KeyHash()))
		})
	}
}

// TestALastHeadWithABadSignatureIsRefused: a last head whose signature by
// the configured key does not verify was changed in the file: ErrCorrupt.
func TestALastHeadWithABadSignatureIsRefused(t *testing.T) {
	path, cfg, before := closedSignedLog(t, 3, true, func(top *bolt.Bucket) error {
		b := top.Bucket(bucketHeads)
		v := slices.Clone(b.Get(key(3)))
		// A base64 character inside the signature. Not its last before the
		// padding and the newline: that one carries two padding bits,
		// which decoding ignores, so flipping A and B there (1 in 16 keys)
		// changed nothing.
		i := len(v) - 10
		v[i] = map[bool]byte{true: 'B', false: 'A'}[v[i] == 'A']
		return b.Put(key(3), v)
	})
	cfg.Verifier = testVerifier(t)
	checkRefused(t, path, cfg, before, "last signed head", "does not verify")
}

// TestAVerifierThatIsNotTheSignersIsRefused: Config.Verifier must be the
// signer's own, or Open would check heads against another key.
func TestAVerifierThatIsNotTheSignersIsRefused(t *testing.T) {
	cfg := testConfig(t)
	_, cfg.Verifier = otherKeyConfig(t)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "verifier") {
		t.Errorf("Validate() = %v, want an error about the verifier", err)
	}
	cfg.Verifier = testVerifier(t)
	if err := cfg.Validate(); err != nil {
		t.Errorf("the signer's verifier: %v", err)
	}
}

// TestEmptyTellsALogWithHistory: Empty is true only for a file with no
// log, or a log with no entries, tree hashes or heads, where a new
// checkpoint key would contradict nothing already signed.
func TestEmptyTellsALogWithHistory(t *testing.T) {
	db, _ := newTestDB(t)
	cfg := testConfig(t)
	want := func(what string, empty bool) {
		t.Helper()
		got, err := Empty(db, cfg.Bucket)
		if err != nil || got != empty {
			t.Errorf("%s: Empty = %v, %v; want %v", what, got, err, empty)
		}
	}
	want("no log", true)
	l, err := Open(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want("a new log", true)
	if _, err := l.SignedHead(t.Context()); err != nil {
		t.Fatal(err)
	}
	want("a signed empty head", false)
	db2, _ := newTestDB(t)
	l2, err := Open(db2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	appendN(t, l2, 1)
	db = db2
	want("an entry", false)
	if _, err := Empty(db, "other"); err != nil {
		t.Errorf("another bucket: %v", err)
	}
}
