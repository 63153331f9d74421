package webhook

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAnAnswerEchoingThePushIsNotShown: a broken system or proxy that
// answers with the request it got (not HTTP) made net/http quote that
// answer, the items with their personal data, in its error, which the
// pusher logs and keeps as State's LastError for operators and auditors.
// (From a review.) The error now says the answer was malformed, and not
// what it held.
func TestAnAnswerEchoingThePushIsNotShown(t *testing.T) {
	s, _, in := inboxWith(t, 2)
	defer s.Close()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS() // only for its certificate and client
	defer srv.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.TLS)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serveConns(ln, func(c net.Conn) {
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		c.Write(append(body, "\r\n\r\n"...)) // the items, as the answer
	})
	p, err := New(Config{URL: "https://" + ln.Addr().String() + "/push", Client: srv.Client()}, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, pushErr := p.once(ctx)
	p.note(n, pushErr)
	cancel()
	st, err := p.State()
	if err != nil {
		t.Fatal(err)
	}
	if pushErr == nil || !strings.Contains(pushErr.Error(), "malformed HTTP") {
		t.Fatalf("push error %v; want one saying the answer was malformed", pushErr)
	}
	for _, shown := range []string{pushErr.Error(), st.LastError} { // Run logs the same error
		if strings.Contains(shown, "items") || strings.Contains(shown, in[0].EnvelopeID) {
			t.Errorf("%q shows the answer, the items the system echoed", shown)
		}
	}
}

// serveConns hands each connection ln accepts to handle, on a goroutine of
// its own, until ln is closed: a system that does not speak HTTP as it
// should.
func serveConns(ln net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
}
