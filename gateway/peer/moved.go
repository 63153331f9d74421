package peer

import (
	"net"
	"sync"
)

// use is what a remote's HTTP client is doing: the requests in flight on
// it and, per connection, how many of them it carries. A remote replaced
// when its peer moved or this node's certificate was rotated (retire)
// closes each connection as the last request on it ends: its client is
// not used again, and the connections lead to the old address or present
// the old certificate, so nothing else would close them before the
// transport's idle timeout. Only connections that carry requests are
// kept, so nothing is held for a remote that is never retired.
type use struct {
	mu       sync.Mutex
	inflight int
	conns    map[net.Conn]int
	retired  bool
}

func (u *use) begin() {
	u.mu.Lock()
	u.inflight++
	u.mu.Unlock()
}

// got counts a request of the remote's on conn.
func (u *use) got(conn net.Conn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conns == nil {
		u.conns = make(map[net.Conn]int)
	}
	u.conns[conn]++
}

// end ends a request that used conns. Once the remote is retired, a
// connection that carries no other of its requests is closed outright,
// as its response has been read: an HTTP/2 stream ends asynchronously, so
// the connection may not count as idle yet. The last request closes the
// client's idle connections too.
func (r *remote) end(conns []net.Conn) {
	u := &r.use
	u.mu.Lock()
	var done []net.Conn
	for _, c := range conns {
		if u.conns[c]--; u.conns[c] <= 0 {
			delete(u.conns, c)
			done = append(done, c)
		}
	}
	u.inflight--
	retired, last := u.retired, u.inflight == 0
	u.mu.Unlock()
	if !retired {
		return
	}
	for _, c := range done {
		c.Close()
	}
	if last {
		r.client.CloseIdleConnections()
	}
}

// retire is called once r has been replaced: its idle connections are
// closed now, and those carrying requests as the requests end (see end).
func (r *remote) retire() {
	r.use.mu.Lock()
	r.use.retired = true
	r.use.mu.Unlock()
	r.client.CloseIdleConnections()
}
