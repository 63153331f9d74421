package registry

import (
	"context"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/laborlink/laborlink/pki"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// A call another node refuses as unauthenticated or forbidden, as it
// refuses every request on a connection kept from before this node's
// certificate was rotated and the old one revoked, is sent once more on a
// new connection; refused again, or refused for another reason, it fails
// with that refusal, without a loop.
func TestCallRefusedOnAKeptConnectionIsSentOnceMore(t *testing.T) {
	for label, proto := range map[string]string{"http2": "h2", "http1": "http/1.1"} {
		for _, tc := range []struct {
			name       string
			code       Code // the other node's refusal on the connections it no longer accepts
			everywhere bool // it refuses on new connections too
			want       Code // the call's error code, "" for none
			requests   int  // how many requests the call makes
		}{
			{"unauthenticated, accepted on a new connection", EUnauthenticated, false, "", 2},
			{"forbidden, accepted on a new connection", EForbidden, false, "", 2},
			{"unauthenticated on the new connection too", EUnauthenticated, true, EUnauthenticated, 2},
			{"forbidden on the new connection too", EForbidden, true, EForbidden, 2},
			{"unavailable, not sent again", EUnavailable, false, EUnavailable, 1},
		} {
			t.Run(label+"/"+tc.name, func(t *testing.T) {
				api, r := newRefusingAPI(t, proto)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var st Status
				if err := r.call(ctx, http.MethodGet, api.addr, pathStatus, nil, &st); err != nil || st.ID != "other" {
					t.Fatalf("first call: %+v, %v; want the other node's status", st, err)
				}
				api.refuse(tc.code, tc.everywhere)

				st = Status{}
				err := r.call(ctx, http.MethodGet, api.addr, pathStatus, nil, &st)
				if got := ErrorCode(err); got != tc.want {
					t.Errorf("call answered code %q (%v), want code %q", got, err, tc.want)
				}
				if tc.want == "" && st.ID != "other" {
					t.Errorf("call decoded the status of %q, want the one the new connection answered", st.ID)
				}
				requests, conns, protos := api.counts()
				requests-- // the first call's
				if want := map[string]string{"h2": "HTTP/2.0", "http/1.1": "HTTP/1.1"}[proto]; !slices.Equal(protos, []string{want}) {
					t.Errorf("requests came over %v, want %s alone", protos, want)
				}
				if requests != tc.requests {
					t.Errorf("call made %d requests, want %d", requests, tc.requests)
				}
				if tc.requests == 2 && conns != 2 {
					t.Errorf("the call's requests went over %d connections in all, want the kept one and a new one", conns)
				}
			})
		}
	}
}

// refusingAPI is another node's registry API, which answers its status
// until refuse, and then refuses every request on the connections opened
// before (or on every connection, everywhere) with a code.
type refusingAPI struct {
	addr string

	mu         sync.Mutex
	conns      map[string]bool // by remote address: whether it was opened before refuse
	requests   int
	protos     map[string]bool // the HTTP versions of the requests
	code       Code
	everywhere bool
}

// newRefusingAPI serves a refusingAPI over mutual TLS on loopback,
// offering proto (h2 or http/1.1) as a node does, and returns it with a
// registry that calls it through the client nodes use to reach each other.
func newRefusingAPI(t *testing.T, proto string) (*refusingAPI, *Registry) {
	t.Helper()
	p := pkitest.New(t, "laborlink.test", "11", "51")
	sc, err := p.TLS(t, p.Issue(t, "11", pki.KindNode, "gw-1"), nil).ServerConfig(pki.PeerPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	sc.NextProtos = []string{proto}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	api := &refusingAPI{addr: ln.Addr().String(), conns: map[string]bool{}, protos: map[string]bool{}}
	srv := &http.Server{Handler: api, TLSConfig: sc, ReadHeaderTimeout: 5 * time.Second}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	client, err := forwardClient(p.TLS(t, p.Issue(t, "51", pki.KindNode, "gw-1"), nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.CloseIdleConnections)
	return api, &Registry{client: client}
}

func (a *refusingAPI) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	a.mu.Lock()
	a.requests++
	a.protos[req.Proto] = true
	kept, seen := a.conns[req.RemoteAddr]
	if !seen {
		a.conns[req.RemoteAddr] = false
	}
	refused := a.code != "" && (kept || a.everywhere)
	code := a.code
	a.mu.Unlock()
	if refused {
		writeError(w, Errorf(code, ""))
		return
	}
	writeJSON(w, http.StatusOK, Status{ID: "other"})
}

// refuse makes the API refuse with code every request on the connections
// open now, or on every connection if everywhere.
func (a *refusingAPI) refuse(code Code, everywhere bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for c := range a.conns {
		a.conns[c] = true
	}
	a.code, a.everywhere = code, everywhere
}

// counts is how many requests the API has had, over how many
// connections, and the HTTP versions they came in.
func (a *refusingAPI) counts() (requests, conns int, protos []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests, len(a.conns), slices.Sorted(maps.Keys(a.protos))
}
