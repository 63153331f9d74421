package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
)

// Config configures an Engine. The zero value is usable: the shipped bundle,
// an empty province layer, a cache of DefaultCacheSize decisions.
type Config struct {
	// ProvinceDir is the directory of the node's province policy (Rego files
	// under package laborlink.province). Empty means no province rules: the
	// federation bundle alone decides.
	ProvinceDir string
	// CacheSize bounds the number of cached decisions per policy revision.
	// 0 means DefaultCacheSize; a negative value turns the cache off.
	CacheSize int
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// Logger receives reloads and reload failures; nil discards them.
	Logger *slog.Logger
	// Observe, if set, hears how long each decision took and whether the
	// cache answered it (for metrics). It must not block.
	Observe func(side Side, took time.Duration, cached bool)
}

// DefaultCacheSize is enough for every record shape of a busy corridor: one
// entry per (side, type, purpose, field set, agreement, divisions, day, ...).
const DefaultCacheSize = 65536

// Engine makes export and import decisions. It is safe for concurrent use:
// Decide runs on the compiled policy current when it starts, while SetBundle
// and ReloadProvince compile a new one and swap it in atomically.
type Engine struct {
	cfg Config
	cur atomic.Pointer[compiled]
	// mu serialises writers: compiling two swaps at once could lose one layer.
	mu sync.Mutex
	// fingerprints remembers the fingerprints of the agreements decisions
	// were asked about: every cache key has one per candidate agreement,
	// and hashing all of an agreement's scope for each record was a
	// sizeable part of a cache hit. They do not depend on the policy, so
	// they outlive a swap.
	fingerprints fingerprintMemo

	// beforeEval, when set by tests, runs after a decision has taken its
	// compiled policy and before it evaluates.
	beforeEval func()
}

// NewEngine compiles the bundle with the province policy read from
// cfg.ProvinceDir.
func NewEngine(ctx context.Context, bundle Layer, cfg Config) (*Engine, error) {
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	province, err := cfg.readProvince()
	if err != nil {
		return nil, err
	}
	c, err := compile(ctx, bundle, province, cfg.CacheSize)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg}
	e.cur.Store(c)
	c.warnUnread(cfg.Logger)
	return e, nil
}

func (cfg Config) readProvince() (Layer, error) {
	if cfg.ProvinceDir == "" {
		return Layer{Files: map[string]string{}}, nil
	}
	return ReadDir(cfg.ProvinceDir)
}

// Revisions returns the revisions of the layers in force now.
func (e *Engine) Revisions() Revisions { return e.cur.Load().revisions }

// Bundle returns the federation bundle in force now.
func (e *Engine) Bundle() Layer { return e.cur.Load().bundle }

// CacheStats reports the decision cache's hits and misses for the policy in
// force, and how many decisions it holds.
func (e *Engine) CacheStats() (hits, misses uint64, size int) {
	c := e.cur.Load().cache
	if c == nil {
		return 0, 0, 0
	}
	return c.hits.Load(), c.misses.Load(), c.len()
}

// Decide makes one decision. The returned Decision may be shared with other
// callers: do not modify it. An error means the policy could not be evaluated
// (a node must then treat the record as denied); a denial is not an error.
func (e *Engine) Decide(ctx context.Context, req Request) (*Decision, error) {
	if req.Side != Export && req.Side != Import {
		return nil, fmt.Errorf("decide: side %q is neither %q nor %q", req.Side, Export, Import)
	}
	if req.Record == nil {
		return nil, errors.New("decide: no record")
	}
	c := e.cur.Load()
	if e.beforeEval != nil {
		e.beforeEval()
	}
	var start time.Time
	if e.cfg.Observe != nil {
		start = time.Now()
	}
	p := prepare(&req, e.cfg.Now)
	p.keying = c.keying
	// With the cache off (CacheSize < 0) no key is built: it would
	// fingerprint every candidate agreement only to be thrown away.
	var buf [keySize]byte
	var key []byte
	if c.cache != nil {
		key = p.appendKey(buf[:0], &e.fingerprints)
		if d, ok := c.cache.get(key); ok {
			e.observe(req.Side, start, true)
			return d, nil
		}
	}
	miss := p // the evaluation keeps parts of it: on the heap, not p
	d, err := c.evaluate(ctx, &miss)
	if err != nil {
		return nil, err
	}
	c.cache.put(string(key), d) // a nil cache (off) keeps nothing
	e.observe(req.Side, start, false)
	return d, nil
}

// observe reports a decision that started at start, read only when
// Observe is set.
func (e *Engine) observe(side Side, start time.Time, cached bool) {
	if e.cfg.Observe != nil {
		e.cfg.Observe(side, time.Since(start), cached)
	}
}

func (c *compiled) evaluate(ctx context.Context, p *prepared) (*Decision, error) {
	// At the request's time, not the wall clock's: a cached decision and a
	// dry run must come out as an evaluation would (builtins.go).
	rs, err := c.query.Eval(ctx, rego.EvalParsedInput(p.input()), rego.EvalTime(p.time))
	if err != nil {
		return nil, fmt.Errorf("evaluate policy (%s): %w", c.revisions, err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, fmt.Errorf("evaluate policy (%s): the query gave %d results", c.revisions, len(rs))
	}
	d, err := decode(rs[0].Expressions[0].Value, p.req.Side, p.recordType, p.fields, c.revisions)
	if err == nil {
		err = p.checkAgreement(d)
	}
	if err != nil {
		return nil, fmt.Errorf("evaluate policy (%s): %w", c.revisions, err)
	}
	// Cached with the rest: what it reads (the agreement's parties, the
	// obligations, the divisions' provinces) is all in the cache key.
	return p.checkCrossing(d), nil
}

// SetBundle compiles a new federation bundle with the current province policy
// and swaps it in. Decisions under way finish on the previous one. On error
// the engine keeps what it had.
func (e *Engine) SetBundle(ctx context.Context, bundle Layer) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.cur.Load()
	if bundle.Revision() == old.revisions.Bundle && bundle.Version == old.revisions.BundleVersion {
		return nil
	}
	c, err := compile(ctx, bundle, old.province, e.cfg.CacheSize)
	if err != nil {
		return err
	}
	e.cur.Store(c)
	e.cfg.Logger.Info("policy: federation bundle applied", "version", bundle.Version, "revision", c.revisions.Bundle)
	return nil
}

// ReloadProvince re-reads the province directory and, if its revision
// changed, compiles and swaps it in. It reports whether it swapped. On error
// (a file that does not compile, say) the engine keeps the policy it had.
func (e *Engine) ReloadProvince(ctx context.Context) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	province, err := e.cfg.readProvince()
	if err != nil {
		return false, err
	}
	old := e.cur.Load()
	if province.Revision() == old.revisions.Province {
		return false, nil
	}
	c, err := compile(ctx, old.bundle, province, e.cfg.CacheSize)
	if err != nil {
		return false, err
	}
	e.cur.Store(c)
	e.cfg.Logger.Info("policy: province policy reloaded", "revision", c.revisions.Province)
	c.warnUnread(e.cfg.Logger)
	return true, nil
}

// warnUnread logs each province rule no decision reads: likely a deny
// meant to apply, written in a package the engine does not read.
func (c *compiled) warnUnread(log *slog.Logger) {
	for _, u := range c.unread {
		log.Warn("policy: a province policy rule is never read", "rule", u)
	}
}

// BundleSource is where the federation bundle in force comes from: the
// registry's local replica on a node. Implementations must be safe for
// concurrent use and answer from local state, without waiting on raft.
type BundleSource interface {
	// FederationBundle returns the bundle version currently in force.
	FederationBundle(ctx context.Context) (Layer, error)
}

// Refresh brings both layers up to date once: the bundle from src (when not
// nil) and the province directory from disk.
func (e *Engine) Refresh(ctx context.Context, src BundleSource) error {
	var errs []error
	if src != nil {
		b, err := src.FederationBundle(ctx)
		if err == nil {
			err = e.SetBundle(ctx, b)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("federation bundle: %w", err))
		}
	}
	if _, err := e.ReloadProvince(ctx); err != nil {
		errs = append(errs, fmt.Errorf("province policy %s: %w", e.cfg.ProvinceDir, err))
	}
	return errors.Join(errs...)
}

// Watch calls Refresh every interval until ctx ends, logging failures; the
// policy in force stays until a good one replaces it. Province directories
// are small, so re-reading and hashing them is simpler and more reliable than
// watching mtimes.
func (e *Engine) Watch(ctx context.Context, interval time.Duration, src BundleSource) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := e.Refresh(ctx, src); err != nil {
				e.cfg.Logger.Warn("policy: keeping the policy in force", "revisions", e.Revisions().String(), "err", err)
			}
		}
	}
}
