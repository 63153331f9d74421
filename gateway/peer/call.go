package peer

import (
	"context"
	"net"
	"net/http/httptrace"
	"sync"

	"github.com/go-kit/kit/endpoint"

	"github.com/laborlink/laborlink/gateway/reqtrace"
)

// call is one request on a remote's HTTP client as the one ClientTrace it
// carries sees it: the connections it got, which count in the remote's
// use (see remote.end), the last of them the one a revoked server
// answered on (see closeRevoked); and how far it got before it failed
// (see timedOut). The transport may call the trace from its own
// goroutines, even after the request has returned, so conns is read under
// mu.
type call struct {
	trace    *httptrace.ClientTrace
	progress reqtrace.Progress
	mu       sync.Mutex
	conns    []net.Conn // more than one if the transport retried on a new one
}

// tracked is an endpoint of a remote's that reads what its request's
// trace saw.
type tracked func(ctx context.Context, request any, c *call) (any, error)

// track wraps one of r's endpoints so that each request carries one
// trace, built once for all that is told from it, and counts in r.use
// with its connections.
func (r *remote) track(ep tracked) endpoint.Endpoint {
	return func(ctx context.Context, request any) (resp any, err error) {
		c := r.newCall()
		r.use.begin()
		defer func() { r.ended(c, err) }()
		return ep(httptrace.WithClientTrace(ctx, c.trace), request, c)
	}
}

// ended ends c, a request of r's that failed with err, or succeeded.
func (r *remote) ended(c *call, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r.closeRevoked(c.conns, err)
	r.end(c.conns)
}

// untraced is ep as a tracked endpoint that reads nothing of the trace.
func untraced(ep endpoint.Endpoint) tracked {
	return func(ctx context.Context, request any, _ *call) (any, error) { return ep(ctx, request) }
}

// newCall returns a call whose trace counts its connections in r.use.
func (r *remote) newCall() *call {
	c := &call{}
	c.trace = c.progress.Trace(func(conn net.Conn) {
		r.use.got(conn)
		c.mu.Lock()
		c.conns = append(c.conns, conn)
		c.mu.Unlock()
	})
	return c
}
