package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/laborlink/laborlink/gateway/gatewaytest"
)

// logLines are the lines of a JSON log at level, holding want.
func logLines(log, level, want string) []string {
	var out []string
	for line := range strings.Lines(log) {
		if strings.Contains(line, `"level":"`+level+`"`) && strings.Contains(line, want) {
			out = append(out, line)
		}
	}
	return out
}

// TestAPanickingHandlerIsLoggedAsAnError: a handler of the API listener
// that panics is a fault of the node's software, which an operator must see
// at the default log level and report; its value, which may hold the
// record the handler read, is logged at no level. A handler cutting its
// response on purpose (http.ErrAbortHandler, as an export failing midway
// does) logs nothing.
func TestAPanickingHandlerIsLoggedAsAnError(t *testing.T) {
	for name, tc := range map[string]struct {
		value  any
		errors int
	}{
		"a fault": {fmt.Errorf("bad record of 张三, 110101199003071234, 13800138000"), 1},
		"a cut":   {http.ErrAbortHandler, 0},
	} {
		t.Run(name, func(t *testing.T) {
			logs := &gatewaytest.Buffer{}
			log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			srv := apiServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(tc.value) }), nil, log)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Close()
			if resp, err := http.Get("http://" + ln.Addr().String() + "/api/v1/records/01JABC"); err == nil {
				resp.Body.Close()
				t.Fatalf("the panicking handler answered %d; want the connection cut", resp.StatusCode)
			}
			got := logLines(logs.String(), "ERROR", "panicked")
			if len(got) != tc.errors {
				t.Fatalf("%d error lines about the panic, want %d; the log:\n%s", len(got), tc.errors, logs)
			}
			for _, line := range got {
				if !strings.Contains(line, `"path":"/api/v1/records"`) || !strings.Contains(line, `"panic":"with a *errors.errorString"`) || !strings.Contains(line, "serverlog_test.go") {
					t.Errorf("the error line lacks the route, the panic's type or its stack: %s", line)
				}
			}
			gatewaytest.NoPersonalData(t, "the log", logs.String())
			if strings.Contains(logs.String(), "张三") {
				t.Errorf("the log holds the panic's value:\n%s", logs)
			}
		})
	}
}

// failingListener fails its first Accept as a process out of file
// descriptors does, then waits until closed.
type failingListener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *failingListener) Accept() (net.Conn, error) {
	var err error
	l.once.Do(func() {
		err = &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	})
	if err != nil {
		return nil, err
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *failingListener) Close() error {
	close(l.closed)
	return nil
}

// TestAFailingAcceptIsLoggedAsAnError: while its listener fails to accept
// (too many open files) the API takes no connection, which an operator
// must see at the default log level.
func TestAFailingAcceptIsLoggedAsAnError(t *testing.T) {
	logs := &gatewaytest.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := apiServer(http.NotFoundHandler(), nil, log)
	ln := &failingListener{closed: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	gatewaytest.Eventually(t, "the failed accept logged", func() bool { return strings.Contains(logs.String(), "Accept error") })
	srv.Close()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("serve: %v", err)
	}
	if got := logLines(logs.String(), "ERROR", "too many open files"); len(got) != 1 {
		t.Errorf("%d error lines about the failed accept, want 1; the log:\n%s", len(got), logs)
	}
}
