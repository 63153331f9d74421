package loadgen

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/exchange"
)

// Gateway submits to a node's local API.
type Gateway struct{ Client *api.Client }

// Submit sends one batch and counts the accepted records; anything else is
// an error, since a load run's records are all valid and allowed.
func (g Gateway) Submit(ctx context.Context, docs []json.RawMessage) (int, error) {
	res, err := g.Client.Submit(ctx, docs...)
	if err != nil {
		return 0, err
	}
	n := 0
	var bad *exchange.SubmitResult
	for i := range res {
		if res[i].Outcome == exchange.OutcomeAccepted {
			n++
		} else if bad == nil {
			bad = &res[i]
		}
	}
	if bad != nil {
		b, _ := json.Marshal(bad)
		return n, fmt.Errorf("record not accepted: %s", b)
	}
	return n, nil
}
