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
// goroutines, even after the request has returned, so conns and refused
// are read under mu.
type call struct {
	trace    *httptrace.ClientTrace
	progress reqtrace.Progress
	mu       sync.Mutex
	conns    []net.Conn // more than one if the transport retried on a new one
	// refused is why a connection the request got was closed before the
	// request was written on it: its server's certificate no longer
	// verifies (see remote.gotConn).
	refused error
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
		resp, err = ep(httptrace.WithClientTrace(ctx, c.trace), request, c)
		if err != nil {
			// The request failed because its connection was closed
			// under it: say why.
			if refused := c.refusedBy(); refused != nil {
				return nil, refused
			}
		}
		return resp, err
	}
}

// refusedBy returns why a connection of c's was closed before its
// request was written (see remote.gotConn), or nil.
func (c *call) refusedBy() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused
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

// newCall returns a call whose trace counts its connections in r.use,
// and checks each before its request is written on it (gotConn).
func (r *remote) newCall() *call {
	c := &call{}
	c.trace = c.progress.Trace(func(conn net.Conn) { r.gotConn(c, conn) })
	return c
}

// gotConn counts conn, which the transport gave c's request, and closes
// it before the request is written when its server's certificate no
// longer verifies: a connection outlives the handshake that verified the
// server by hours, and a batch written on it after the certificate was
// revoked (its key compromised, say) would hand the records to whoever
// serves it now, though checkAnswer refuses the answer after. The
// transport calls this before it writes anything on conn; the request
// then fails, or goes again on a new connection, whose handshake checks
// the certificate.
func (r *remote) gotConn(c *call, conn net.Conn) {
	r.use.got(conn)
	err := r.server.checkConn(conn)
	c.mu.Lock()
	c.conns = append(c.conns, conn)
	if err != nil {
		c.refused = err
	}
	c.mu.Unlock()
	if err != nil {
		conn.Close()
	}
}
