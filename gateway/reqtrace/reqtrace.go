// Package reqtrace tells how far an HTTP request got before it failed: to
// a connection, and to being written whole. A client that timed out after
// it had a connection spent the time on the request, writing it or
// waiting for its answer, not on reaching the server: a large batch on a
// slow link, or a busy server. Only a request written whole may have been
// processed. The peer client and the webhook pusher both halve their
// batches on such a timeout.
package reqtrace

import (
	"errors"
	"net"
	"net/http/httptrace"
	"sync"
)

// Progress is how far one request got. A request the transport starts
// again on another connection, or a redirect's, starts over (GetConn).
// The zero value is ready to use; a Progress traces one request.
type Progress struct {
	mu                 sync.Mutex
	connected, written bool
}

// Trace returns the ClientTrace that keeps p, calling gotConn (if not nil)
// with each connection the request gets. The transport may call the trace
// from its own goroutines, even after the request has returned.
func (p *Progress) Trace(gotConn func(net.Conn)) *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) {
			p.mu.Lock()
			p.connected, p.written = false, false
			p.mu.Unlock()
		},
		GotConn: func(i httptrace.GotConnInfo) {
			if gotConn != nil {
				gotConn(i.Conn)
			}
			p.mu.Lock()
			p.connected = true
			p.mu.Unlock()
		},
		WroteRequest: func(w httptrace.WroteRequestInfo) {
			p.mu.Lock()
			p.written = w.Err == nil
			p.mu.Unlock()
		},
	}
}

// TimedOut reports whether err, the request's error, is a timeout met
// once the request had a connection, and then whether the request had
// been written whole (sent). A timeout before a connection (a dial or a
// TLS handshake that did not complete) says nothing of the request, and
// is not one.
func (p *Progress) TimedOut(err error) (timedOut, sent bool) {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return false, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.connected, p.connected && p.written
}
