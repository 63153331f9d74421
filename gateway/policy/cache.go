package policy

import (
	"sync"
	"sync/atomic"
)

// decisionCache holds decisions for one pair of layer revisions. It lives
// inside the compiled policy it belongs to, so a new revision starts with an
// empty cache: invalidation by construction, with no key to forget.
//
// It is bounded with two generations instead of an LRU list: lookups go to the
// current map, then the previous one (promoting the entry); when the current
// map is full it becomes the previous one and a new map starts. Entries used
// within the last generation survive; at most 2*half entries are held. This
// costs one map lookup and no list bookkeeping on the hit path.
type decisionCache struct {
	half int

	mu       sync.Mutex
	current  map[string]*Decision
	previous map[string]*Decision

	hits, misses atomic.Uint64
}

func newDecisionCache(size int) *decisionCache {
	if size <= 0 {
		return nil
	}
	half := max(size/2, 1)
	return &decisionCache{half: half, current: make(map[string]*Decision, half)}
}

// get looks key up as it is, without making a string of it (the compiler
// does not allocate for a map index by string(key)); only a decision
// promoted from the previous generation has its key copied.
func (c *decisionCache) get(key []byte) (*Decision, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	d, ok := c.current[string(key)]
	if !ok {
		if d, ok = c.previous[string(key)]; ok {
			c.putLocked(string(key), d)
		}
	}
	c.mu.Unlock()
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return d, ok
}

func (c *decisionCache) put(key string, d *Decision) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.putLocked(key, d)
	c.mu.Unlock()
}

func (c *decisionCache) putLocked(key string, d *Decision) {
	if len(c.current) >= c.half {
		c.previous = c.current
		c.current = make(map[string]*Decision, c.half)
	}
	c.current[key] = d
}

func (c *decisionCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.current) + len(c.previous)
}
