package peer

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/pki"
)

// heldReceiver hands each batch on to next once released is closed, and
// says on entered that it holds one.
type heldReceiver struct {
	next     Receiver
	entered  chan struct{}
	released chan struct{}
}

func (h *heldReceiver) Receive(ctx context.Context, from pki.Identity, chain []*x509.Certificate, envs []json.RawMessage, decoded []contracts.DecodedEnvelope) (DeliverResponse, error) {
	h.entered <- struct{}{}
	<-h.released
	return h.next.Receive(ctx, from, chain, envs, decoded)
}

// TestAProvinceGetsItsShareOfRequestsAtOnce: a node handles at most
// MaxPerProvince requests of one province's nodes at once; the one more is
// answered 503 with Retry-After before its body is read, which the origin
// retries rather than refuses, while another province's requests and,
// once one is done, the province's own are taken again.
func TestAProvinceGetsItsShareOfRequestsAtOnce(t *testing.T) {
	f := newFixture(t)
	hold := &heldReceiver{next: f.recv, entered: make(chan struct{}), released: make(chan struct{})}
	srv := f.p.Serve(f.p.Issue("44", pki.KindNode, "gw-1"), pki.PeerPolicy{}, NewHandler(hold, MaxPerProvince(2)))
	c := f.client(t, directory{"44": srv.URL}, BreakerSettings{})
	sent := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.Send(context.Background(), "44", batch("a"))
			sent <- err
		}()
	}
	for range 2 {
		<-hold.entered
	}
	post := func(province string) (int, http.Header, string) {
		t.Helper()
		hc := f.p.Client(f.p.Issue(province, pki.KindNode, "gw-9"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
		resp, err := hc.Post(srv.URL+Path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(body)
	}

	if status, h, body := post("51"); status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(body, "busy") {
		t.Errorf("a third request of p51 while two are handled: %d, Retry-After %q, %s; want 503 busy with Retry-After", status, h.Get("Retry-After"), body)
	}
	_, err := c.Send(context.Background(), "44", batch("a"))
	var answer *AnswerError
	if _, _, refused := Refusal(err); !errors.As(err, &answer) || answer.Status != http.StatusServiceUnavailable || refused {
		t.Errorf("a third batch of p51: %v; want 503, to be sent again", err)
	}
	if status, _, body := post("33"); status != http.StatusBadRequest {
		t.Errorf("a request of p33 meanwhile: %d %s; want it read (400, the batch is empty)", status, body)
	}
	close(hold.released)
	for range 2 {
		if err := <-sent; err != nil {
			t.Errorf("a batch handled: %v", err)
		}
	}
	if status, _, body := post("51"); status != http.StatusBadRequest {
		t.Errorf("a request of p51 once the others are done: %d %s; want it read (400, the batch is empty)", status, body)
	}
}
