package pki

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
)

type failingTransport struct{ err error }

func (t failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, t.err }

func TestRefusalHints(t *testing.T) {
	for _, c := range []struct {
		err  error
		hint bool
	}{
		{errors.New("remote error: tls: bad certificate"), true},
		{fmt.Errorf("write tcp 127.0.0.1:1->127.0.0.1:2: %w", syscall.EPIPE), true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{errors.New("dial tcp 127.0.0.1:2: connect: connection refused"), false},
		{errors.New("context deadline exceeded"), false},
	} {
		req, _ := http.NewRequest(http.MethodGet, "https://127.0.0.1:2/", nil)
		_, err := (&http.Client{Transport: RefusalHints{failingTransport{c.err}}}).Do(req)
		if got := strings.Contains(err.Error(), "may have refused this certificate"); got != c.hint {
			t.Errorf("%v: hinted %v, want %v (%v)", c.err, got, c.hint, err)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%v: the cause is lost: %v", c.err, err)
		}
	}
}

type idleTransport struct {
	failingTransport
	closed *bool
}

func (t idleTransport) CloseIdleConnections() { *t.closed = true }

func TestRefusalHintsCloseIdleConnections(t *testing.T) {
	closed := false
	(&http.Client{Transport: RefusalHints{idleTransport{closed: &closed}}}).CloseIdleConnections()
	if !closed {
		t.Error("closing a client's idle connections did not reach the wrapped transport")
	}
}
