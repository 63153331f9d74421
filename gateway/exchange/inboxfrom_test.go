package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/peer"
)

// TestAnInboxItemIsFoundByItsOrigin: 33 and 44 each sent 51 an envelope
// under the same id (ids are each origin's own); the inbox by id alone
// gave the one that arrived first, and a system looking for 44's could
// not ask for it. InboxItem now takes the province that sent it.
func TestAnInboxItemIsFoundByItsOrigin(t *testing.T) {
	f := newFederation(t, "51", "44", "33")
	f.agreement("44", "51")
	f.agreement("33", "51")
	from44 := f.signedBy("44", f.generator("44", "51", 1).Transfer())
	env33, err := contracts.NewEnvelope(f.generator("33", "51", 2).Transfer(), 1, f.now)
	if err != nil {
		t.Fatal(err)
	}
	env33.ID = from44.ID
	from33 := f.sign("33", env33)
	for _, d := range []struct {
		from string
		env  *contracts.Envelope
	}{{"33", from33}, {"44", from44}} {
		raw, err := json.Marshal(d.env)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f.deliver(d.from, "51", raw); err != nil || got[0].Status != peer.StatusStored {
			t.Fatalf("%s's envelope %s: %+v, %v; want stored", d.from, d.env.ID, got, err)
		}
	}
	x := f.nodes["51"].x
	for _, tt := range []struct{ from, want string }{{"", "33"}, {"33", "33"}, {"44", "44"}} {
		it, err := x.InboxItem(context.Background(), tt.from, from44.ID)
		if err != nil || it.From != tt.want {
			t.Errorf("InboxItem(from %q, %s) = from %q, %v; want %s's", tt.from, from44.ID, it.From, err, tt.want)
		}
	}
	var e *Error
	if _, err := x.InboxItem(context.Background(), "11", from44.ID); !errors.As(err, &e) || e.Code != CodeNotFound {
		t.Errorf("InboxItem of a province that sent nothing under the id: %v, want not found", err)
	}
}
