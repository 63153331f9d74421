package peer

import (
	"fmt"
	"net/http"
	"sync/atomic"
)

// DefaultMaxBodies is how many bytes of batches a handler reads and holds
// at once, over all provinces, without a MaxBodies option: half the node's
// default memory limit (runtime.memory_limit_mib, 128 MiB). Each
// province's share (MaxPerProvince) alone would let a handful of
// provinces sending full batches, up to MaxBody each, have the node hold
// gigabytes.
const DefaultMaxBodies = 64 << 20

// MaxBodies sets how many bytes of batches the handler reads and holds at
// once, each counted at its declared Content-Length (MaxBody without one)
// from before its body is read until it is answered. A batch that would
// take the bytes in hand past n is answered 503 with Retry-After before
// its body is read, as one more of a province's requests is, unless no
// other is in hand: a batch larger than n alone is still read, so that none
// waits for ever. n below 1 keeps DefaultMaxBodies.
func MaxBodies(n int64) HandlerOption {
	return func(c *handlerConfig) {
		if n > 0 {
			c.maxBodies = n
		}
	}
}

// bodyBudget counts the bytes of the batches in hand.
type bodyBudget struct {
	max  int64
	held atomic.Int64
}

// reserve takes room for r's body, and says how much to release once r is
// answered, or false if there is no room for it now. r's body is read with
// MaxBody at most, and the server reads no more than a declared length.
func (b *bodyBudget) reserve(r *http.Request) (int64, bool) {
	n := r.ContentLength
	if n < 0 || n > MaxBody {
		n = MaxBody
	}
	for {
		held := b.held.Load()
		if held > 0 && held+n > b.max {
			return 0, false
		}
		if b.held.CompareAndSwap(held, held+n) {
			return n, true
		}
	}
}

func (b *bodyBudget) release(n int64) { b.held.Add(-n) }

// withinBudget reads and handles a request with h only if b has room for
// its body, and answers it 503 otherwise, which the origin sends again
// after its backoff, before its body is read.
func withinBudget(b *bodyBudget, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, ok := b.reserve(r)
		if !ok {
			busy(w, fmt.Sprintf("busy: this node has as many bytes of batches in hand as it takes at once (%d); send again later", b.max))
			return
		}
		defer b.release(n)
		h.ServeHTTP(w, r)
	})
}
