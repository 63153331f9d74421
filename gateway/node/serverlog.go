package node

import (
	"context"
	"crypto/tls"
	"log"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/laborlink/laborlink/gateway/store"
)

// apiServer is the server of the listener that carries the local, peer and
// registry APIs, over h. Reads are bounded: a slow or stalled client
// cannot hold a connection and its buffers forever. A full batch of the
// largest records is ~64 MiB, well within a minute even between provinces.
func apiServer(h http.Handler, cfg *tls.Config, log *slog.Logger) *http.Server {
	return &http.Server{Handler: recoverPanics(log, h), TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: 5 * time.Minute, ErrorLog: serverErrorLog(log)}
}

// recoverPanics cuts off a request whose handler panicked, as net/http
// would (the connection over HTTP/1.1, the stream over HTTP/2), and logs the panic at error level with its stack but
// without its value. net/http would log it through the server's ErrorLog,
// value and all, at that log's level: debug, hidden at the default level,
// though a panic is a fault of the node's software that an operator must
// report; and the value may hold personal data (a handler panicking with
// the record it read). A panic with http.ErrAbortHandler is a handler
// cutting its response on purpose, and goes on unlogged.
func recoverPanics(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v != http.ErrAbortHandler {
				log.Error("a request's handler panicked and its connection was cut: a fault of this node's software; report this line to the maintainers",
					"method", r.Method, "path", route(r.URL.Path), "panic", store.PanicText(v), "stack", string(debug.Stack()))
			}
			panic(http.ErrAbortHandler)
		}()
		h.ServeHTTP(w, r)
	})
}

// serverErrorLog is a server's ErrorLog. What net/http logs there is
// mostly about clients (a handshake refused to a certificate that is not
// the federation's, a connection cut), expected on a listener others dial,
// and goes at debug level; but a failing accept, which leaves the listener
// taking no connections while the server retries (out of file
// descriptors), is the operator's to see, at error level.
func serverErrorLog(l *slog.Logger) *log.Logger {
	return log.New(serverLogWriter{l}, "", 0)
}

type serverLogWriter struct{ log *slog.Logger }

func (s serverLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelDebug
	if strings.HasPrefix(msg, "http: Accept error") {
		level = slog.LevelError
	}
	s.log.Log(context.Background(), level, msg)
	return len(p), nil
}
