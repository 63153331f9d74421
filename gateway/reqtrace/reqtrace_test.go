package reqtrace

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"
)

// post sends body to url with a client timing out after timeout, traced
// by a new Progress, and returns the Progress, how many connections the
// request got, and its error.
func post(t *testing.T, url string, body io.Reader, timeout time.Duration) (*Progress, int, error) {
	t.Helper()
	var p Progress
	conns := 0
	ctx := httptrace.WithClientTrace(context.Background(), p.Trace(func(net.Conn) { conns++ }))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: timeout}
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return &p, conns, err
}

func TestTimedOutWaitingForTheAnswerWasSent(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		<-release
	}))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handler

	p, conns, err := post(t, srv.URL, strings.NewReader("batch"), 200*time.Millisecond)
	if err == nil {
		t.Fatal("a server that never answers: no error")
	}
	timedOut, sent := p.TimedOut(err)
	if !timedOut || !sent {
		t.Errorf("TimedOut(%v) = %v, %v; want true, true: the request was written whole and its answer never came", err, timedOut, sent)
	}
	if conns != 1 {
		t.Errorf("gotConn called %d times; want 1", conns)
	}
}

// stalled is a body that blocks until its request is given up.
type stalled struct{ done <-chan struct{} }

func (s stalled) Read([]byte) (int, error) {
	<-s.done
	return 0, errors.New("given up")
}

func TestTimedOutWritingTheRequestWasNotSent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	// The body ends (in error) a little after the client gave up.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	p, _, err := post(t, srv.URL, stalled{done: ctx.Done()}, 200*time.Millisecond)
	if err == nil {
		t.Fatal("a body that never ends: no error")
	}
	timedOut, sent := p.TimedOut(err)
	if !timedOut || sent {
		t.Errorf("TimedOut(%v) = %v, %v; want true, false: the time was up while the request was being written", err, timedOut, sent)
	}
}

func TestTimeoutBeforeAConnectionIsNotOne(t *testing.T) {
	// A TLS server that accepts and never answers the handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	p, conns, err := post(t, "https://"+ln.Addr().String(), strings.NewReader("batch"), 200*time.Millisecond)
	if err == nil {
		t.Fatal("a handshake that never completes: no error")
	}
	if timedOut, sent := p.TimedOut(err); timedOut || sent {
		t.Errorf("TimedOut(%v) = %v, %v; want false, false: the request never had a connection", err, timedOut, sent)
	}
	if conns != 0 {
		t.Errorf("gotConn called %d times; want 0", conns)
	}
}

func TestOtherErrorsAreNotTimeouts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close()
	}))
	defer srv.Close()

	p, _, err := post(t, srv.URL, strings.NewReader("batch"), 5*time.Second)
	if err == nil {
		t.Fatal("a server that hangs up: no error")
	}
	if timedOut, sent := p.TimedOut(err); timedOut || sent {
		t.Errorf("TimedOut(%v) = %v, %v; want false, false: a connection closed is no timeout", err, timedOut, sent)
	}
}
