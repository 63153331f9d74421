package peer

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/pki"
)

// unavailable is a destination that cannot take a batch for now.
type unavailable struct{}

func (unavailable) Receive(context.Context, pki.Identity, []*x509.Certificate, []json.RawMessage, []contracts.DecodedEnvelope) (DeliverResponse, error) {
	return DeliverResponse{}, fmt.Errorf("receive: the registry replica has not caught up: %w", ErrUnavailable)
}

// TestAnUnavailableDestinationAnswers503: a destination that cannot take
// a batch for now (its store failed, its registry replica is behind)
// answers 503, which says the origin should send again later, not 500,
// which says the node is at fault.
func TestAnUnavailableDestinationAnswers503(t *testing.T) {
	f := newFixture(t)
	srv := f.p.Serve(f.p.Issue("44", pki.KindNode, "gw-1"), pki.PeerPolicy{}, NewHandler(unavailable{}))
	c := f.client(t, directory{"44": srv.URL}, BreakerSettings{})
	_, err := c.Send(context.Background(), "44", batch("a"))
	var answer *AnswerError
	if !errors.As(err, &answer) || answer.Status != http.StatusServiceUnavailable {
		t.Fatalf("send to an unavailable destination: %v; want an answer of 503", err)
	}
}
