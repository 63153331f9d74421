package gatewaytest

import (
	"bytes"
	"sync"
)

// Buffer collects what goroutines write, a node's log or a process's
// output, for a test to read while they run.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it is safe to call from several goroutines at once.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far, while writers go on.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
