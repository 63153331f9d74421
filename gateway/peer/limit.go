package peer

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/laborlink/laborlink/gateway/delivery"
)

// DefaultMaxPerProvince is how many requests of one province's nodes a
// handler reads and handles at once without a MaxPerProvince option:
// twice the batches a node keeps in flight to a peer
// (delivery.DefaultInFlight), so that a node of this release is not turned
// away, while no province's nodes can have this node hold one request
// per HTTP/2 stream they open (250 on each connection), each up to
// MaxBody, in its memory.
const DefaultMaxPerProvince = 2 * delivery.DefaultInFlight

// MaxPerProvince sets how many requests of one province's nodes the
// handler reads and handles at once; the one more is answered 503 with
// Retry-After before its body is read, and the origin's delivery worker
// sends the batch again after its backoff, as after any 503. n below 1
// keeps DefaultMaxPerProvince.
func MaxPerProvince(n int) HandlerOption {
	return func(c *handlerConfig) {
		if n > 0 {
			c.maxPerProvince = n
		}
	}
}

// perProvince counts the requests of each province being handled.
type perProvince struct {
	max  int
	mu   sync.Mutex
	busy map[string]int // by province: a few dozen at most
}

func newPerProvince(max int) *perProvince {
	return &perProvince{max: max, busy: map[string]int{}}
}

func (l *perProvince) take(province string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy[province] >= l.max {
		return false
	}
	l.busy[province]++
	return true
}

func (l *perProvince) release(province string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.busy[province]--
}

// refuse answers a request of province that l has no room for: 503, which
// the origin sends again after its backoff, before its body is read.
func (l *perProvince) refuse(w http.ResponseWriter, province string) {
	busy(w, fmt.Sprintf("busy: this node is handling %d requests of province %s's nodes, the most it takes at once; send again later", l.max, province))
}

// busy answers a request this node has no room for now with msg: 503 with
// Retry-After, which the origin's delivery worker takes for a peer's
// passing failure, never a refusal of the batch (AnswerError.Refused).
func busy(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	json.NewEncoder(w).Encode(errorBody{Error: msg})
}
