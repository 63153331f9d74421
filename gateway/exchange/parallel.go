package exchange

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// forEach runs fn(i) for i in [0, n) on up to GOMAXPROCS goroutines and
// returns when all are done. The per-record work of a request (decoding,
// policy, canonical encoding, signing or verifying) is CPU-bound and
// independent between records, so a batch uses every core instead of one;
// each call writes only its own index's result, which keeps the order.
// A single record runs on the caller's goroutine.
func forEach(n int, fn func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}
