package audit

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
)

// Config is how a node sets up its audit log. The field comments are the
// operator documentation and state the defaults.
type Config struct {
	// Bucket is the top-level bbolt bucket the log keeps everything under, so
	// the node can share its store file with other components. Default "audit".
	Bucket string
	// Origin names the log in its checkpoints, by C2SP convention a URL
	// without scheme, such as "laborlink.example.org/p51/gw-1". Required.
	Origin string
	// Signer signs checkpoints: an Ed25519 note key from GenerateKey, whose
	// name should equal Origin. Required.
	Signer note.Signer
	// Verifier is the signer's own verifier (note.NewVerifier of the key
	// VerifierKey derives), with which Open checks the signature of the
	// last head the log holds. Optional: without it, Open only checks that
	// the head names the signer's key, by its name and key hash.
	Verifier note.Verifier
	// SignInterval is how often a new head is signed if the tree grew.
	// Default 1m; a negative value turns the schedule off (heads are then
	// signed only on demand with SignedHead).
	SignInterval time.Duration
	// HeadInterval is the least time between two heads RecentHead signs
	// (what GET /api/v1/audit/head serves): a head younger than this is
	// served as the newest, so that auditors polling a busy log do not
	// each cost it a signature and a synced write. Default 1s; it must not
	// be negative.
	HeadInterval time.Duration
	// MaxBatch caps how many appends share one transaction. Default 1024.
	MaxBatch int
	// Now is the clock that stamps entries without a time and tells the
	// age of heads (HeadInterval). Default time.Now.
	Now func() time.Time
	// Logger receives scheduler errors. Default slog.Default().
	Logger *slog.Logger
	// Update, when set, makes each commit of the log's own (an append, a
	// head, the buckets Open makes; not AppendPreparedTx, whose commit is
	// the caller's) in place of db.Update, returning fn's error or why the
	// commit failed. A log sharing its file with the node's store gives
	// the store's (store.Store.Update), so that one committer makes every
	// commit of the file: bbolt lets the next writer in as soon as a
	// commit has written its meta page, before its sync, so a commit of
	// the log's own whose sync failed would have the store's next commit
	// build on it, and a head signed after a store commit that failed
	// would commit the log's key to entries a restart may not find. fn
	// then runs in a transaction with other writes, and writes nothing
	// unless all of it can be written.
	Update func(fn func(*bolt.Tx) error) error
	// View, when set, reads the entries Scan, Each and the queries built
	// on them return in place of db.View, returning fn's error, or why
	// what it read is not durable. A log sharing its file with the node's
	// store gives the store's (store.Store.View), which returns once the
	// commit fn saw is durable: bbolt shows a commit to readers before its
	// sync, and entries shown then, taken back by a sync that failed,
	// would have an auditor or a peer reconciling find other entries at
	// their positions once the node restarts.
	View func(fn func(*bolt.Tx) error) error
}

// DefaultConfig returns a Config with every default filled in; the caller
// still sets Origin and Signer.
func DefaultConfig() Config {
	return Config{
		Bucket:       "audit",
		SignInterval: time.Minute,
		HeadInterval: time.Second,
		MaxBatch:     1024,
		Now:          time.Now,
		Logger:       slog.Default(),
	}
}

// withDefaults fills in the zero fields, so a partly set Config works.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Bucket == "" {
		c.Bucket = d.Bucket
	}
	if c.SignInterval == 0 {
		c.SignInterval = d.SignInterval
	}
	if c.HeadInterval == 0 {
		c.HeadInterval = d.HeadInterval
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	return c
}

// Validate reports what is missing or wrong in the configuration, naming the
// field.
func (c Config) Validate() error {
	var errs []error
	if c.Origin == "" {
		errs = append(errs, errors.New("audit config: origin is required (for example \"laborlink.example.org/p51/gw-1\")"))
	}
	if c.Signer == nil {
		errs = append(errs, errors.New("audit config: signer is required; create a checkpoint key with audit.GenerateKey"))
	} else if c.Origin != "" && c.Signer.Name() != c.Origin {
		errs = append(errs, fmt.Errorf("audit config: signer key is named %q but origin is %q; checkpoint verifiers expect them equal", c.Signer.Name(), c.Origin))
	}
	if c.Verifier != nil && c.Signer != nil && (c.Verifier.Name() != c.Signer.Name() || c.Verifier.KeyHash() != c.Signer.KeyHash()) {
		errs = append(errs, fmt.Errorf("audit config: verifier key %s+%08x is not the signer's, %s+%08x; give the verifier of the signer key (audit.VerifierKey)",
			c.Verifier.Name(), c.Verifier.KeyHash(), c.Signer.Name(), c.Signer.KeyHash()))
	}
	if c.HeadInterval < 0 {
		errs = append(errs, fmt.Errorf("audit config: head interval %s is negative; give a positive one, or 0 for the default", c.HeadInterval))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, errors.New("audit config: max batch must be positive"))
	}
	return errors.Join(errs...)
}
