package api

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-kit/kit/endpoint"

	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/pki"
)

// TestEndpointsServeTheirOwnProvinceOnly: the endpoints that serve the
// province's own callers (records, the inbox, cases, policy, status, dead
// letters, the audit head) refuse a caller of another province of a kind
// they otherwise take, by themselves. They relied on OwnProvince, which
// the node wraps them in, while MakeSet said that the exchange checked
// provinces: it does for submissions, dry runs and a system's records, not
// for these, which served another province's system this one's inbox and
// cases, and its operator the dead letters, when called without it. Only
// an auditor of another province reads the audit head. An endpoint that
// got past its check reaches the services, here absent, and panics: it
// counts as served.
func TestEndpointsServeTheirOwnProvinceOnly(t *testing.T) {
	set := MakeSet(Services{Province: "51", Audit: newFlowLog(), Now: time.Now,
		Status: func(context.Context) any { return "status" }, DeadLetters: &deadLetterActs{}})
	as := func(province string, kind pki.Kind) context.Context {
		return auth.WithIdentity(context.Background(), pki.Identity{Domain: "laborlink.example", Province: province, Kind: kind, Name: "x"})
	}
	call := func(e endpoint.Endpoint, ctx context.Context, req any) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("served: %v", r)
			}
		}()
		_, err = e(ctx, req)
		return err
	}
	for _, tc := range []struct {
		name string
		e    endpoint.Endpoint
		req  any
		kind pki.Kind
	}{
		{"record by an operator", set.Record, RecordRequest{Key: "01JX"}, pki.KindOperator},
		{"inbox", set.Inbox, InboxRequest{Limit: 10}, pki.KindSystem},
		{"inbox item", set.InboxItem, InboxItemRequest{ID: "01JX"}, pki.KindSystem},
		{"referrals", set.Referrals, ReferralsRequest{}, pki.KindSystem},
		{"policy", set.PolicyShow, nil, pki.KindSystem},
		{"status", set.NodeStatus, nil, pki.KindOperator},
		{"dead letters", set.DeadLetterList, DeadLettersRequest{}, pki.KindOperator},
		{"requeue", set.DeadLetterRequeue, RequeueRequest{Peer: "33", All: true}, pki.KindOperator},
		{"discard", set.DeadLetterDiscard, DiscardRequest{Peer: "33", EnvelopeID: "01JX"}, pki.KindAdmin},
		{"audit head by an operator", set.AuditHead, nil, pki.KindOperator},
	} {
		if err := call(tc.e, as("44", tc.kind), tc.req); !errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s, %s of 44 on 51's node: %v; want forbidden", tc.name, tc.kind, err)
		}
	}
	if err := call(set.AuditHead, as("44", pki.KindAuditor), nil); errors.Is(err, auth.ErrForbidden) {
		t.Errorf("audit head, auditor of 44: %v; want it served", err)
	}
	// The province's own callers get past the check.
	for name, e := range map[string]endpoint.Endpoint{"status": set.NodeStatus, "dead letters": set.DeadLetterList} {
		if err := call(e, as("51", pki.KindOperator), DeadLettersRequest{}); err != nil {
			t.Errorf("%s, operator of 51: %v", name, err)
		}
	}
}
