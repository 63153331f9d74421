package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// TestDeadLetterRoutes: operators and admins list a node's dead letters,
// with reasons and without payload, and requeue them; systems and auditors
// may do neither. The record, the status page and the metrics show them,
// and the audit log a requeue, by the certificate's serial; a discard
// takes one off the node for good, audited the same way.
func TestDeadLetterRoutes(t *testing.T) {
	n, p := singleNode(t)
	ctx := context.Background()
	const id = "01JDEADLETTER0000000000000"
	if _, err := n.store.Enqueue(ctx, []store.Outgoing{{EnvelopeID: id, Ref: "51/transfer/T-DEAD", Type: "transfer", Peer: "44", Envelope: []byte(`{"payload":"SECRET-PAYLOAD"}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := n.store.MarkDead(ctx, "44", []store.DeadLetter{{EnvelopeID: id, Status: 400, Reason: "bad batch: envelopes[0]: invalid character"}}); err != nil {
		t.Fatal(err)
	}
	base := "https://" + n.Addr()
	leaves := map[pki.Kind]*pki.Leaf{}
	call := func(kind pki.Kind, method, path, body string) (int, string) {
		t.Helper()
		if leaves[kind] == nil {
			leaves[kind] = p.Issue("51", kind, "x-"+string(kind))
		}
		hc := p.Client(leaves[kind], pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}

	for _, tt := range []struct {
		kind   pki.Kind
		status int
	}{
		{pki.KindSystem, http.StatusForbidden},
		{pki.KindAuditor, http.StatusForbidden},
		{pki.KindOperator, http.StatusOK},
		{pki.KindAdmin, http.StatusOK},
	} {
		if code, body := call(tt.kind, "GET", "/api/v1/deadletters?peer=44", ""); code != tt.status {
			t.Errorf("%s lists dead letters: %d %s, want %d", tt.kind, code, body, tt.status)
		}
		if tt.status == http.StatusForbidden {
			if code, body := call(tt.kind, "POST", "/api/v1/deadletters/requeue", `{"peer":"44","all":true}`); code != tt.status {
				t.Errorf("%s requeues dead letters: %d %s, want %d", tt.kind, code, body, tt.status)
			}
		}
	}

	code, body := call(pki.KindOperator, "GET", "/api/v1/deadletters?peer=44", "")
	var list struct {
		DeadLetters []store.DeadLetter `json:"dead_letters"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != http.StatusOK {
		t.Fatalf("list: %d %s: %v", code, body, err)
	}
	if len(list.DeadLetters) != 1 || list.DeadLetters[0].EnvelopeID != id || list.DeadLetters[0].Status != 400 || !strings.Contains(list.DeadLetters[0].Reason, "bad batch") {
		t.Errorf("listed %+v", list.DeadLetters)
	}
	if strings.Contains(body, "SECRET") || strings.Contains(body, "outbox") {
		t.Errorf("the list carries the envelope: %s", body)
	}
	if _, body := call(pki.KindOperator, "GET", "/api/v1/records/"+id, ""); !strings.Contains(body, `"state":"failed"`) || !strings.Contains(body, "400 Bad Request") {
		t.Errorf("record of a dead letter: %s", body)
	}
	if _, body := call(pki.KindOperator, "GET", "/api/v1/status", ""); !strings.Contains(body, `"dead_letters":{"44":1}`) {
		t.Errorf("status lacks the dead letter: %s", body)
	}
	gatewaytest.Eventually(t, "the dead letter gauge", func() bool {
		return strings.Contains(get(t, "http://"+n.OpsAddr()+"/metrics"), `laborlink_dead_letters{peer="44"} 1`)
	})

	for _, tt := range []struct {
		body, want string
		status     int
	}{
		{`{"peer":"44"}`, "name the envelope_id", http.StatusBadRequest},
		{`{"peer":"4","all":true}`, "province code", http.StatusBadRequest},
		{`{"peer":"44","envelope_id":"01NOSUCH"}`, "no dead letter 01NOSUCH", http.StatusNotFound},
	} {
		if code, body := call(pki.KindAdmin, "POST", "/api/v1/deadletters/requeue", tt.body); code != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("requeue %s: %d %s, want %d mentioning %q", tt.body, code, body, tt.status, tt.want)
		}
	}
	if code, body := call(pki.KindAdmin, "POST", "/api/v1/deadletters/requeue", `{"peer":"44","envelope_id":"`+id+`"}`); code != http.StatusOK || !strings.Contains(body, `"requeued":1`) {
		t.Fatalf("requeue: %d %s", code, body)
	}
	if d, dead := n.store.Depth(), n.store.DeadLetterCounts(); !maps.Equal(d, map[string]int{"44": 1}) || len(dead) != 0 {
		t.Errorf("after requeue: depth %v, dead letters %v", d, dead)
	}
	requeues, err := n.audit.Query(ctx, audit.Filter{Kind: audit.KindRequeue})
	if err != nil {
		t.Fatal(err)
	}
	serial := leaves[pki.KindAdmin].Cert.SerialNumber.Text(16)
	if len(requeues) != 1 || requeues[0].EnvelopeID != id || requeues[0].Destination != "44" || requeues[0].Serial != serial {
		t.Errorf("requeue audit entries = %+v, want one for %s by the admin's certificate %s", requeues, id, serial)
	}
	if b, _ := json.Marshal(requeues); strings.Contains(string(b), "x-admin") {
		t.Errorf("the requeue's audit entry names the admin: %s", b)
	}
	if _, body := call(pki.KindOperator, "GET", "/api/v1/deadletters", ""); !strings.Contains(body, `"dead_letters":[]`) {
		t.Errorf("list after requeue: %s", body)
	}

	// Refused for good again, it is discarded: gone from the node with its
	// envelope, the record discarded, the discard audited.
	if err := n.store.MarkDead(ctx, "44", []store.DeadLetter{{EnvelopeID: id, Status: 422, Reason: "import refuses the record"}}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []pki.Kind{pki.KindSystem, pki.KindAuditor} {
		if code, body := call(kind, "POST", "/api/v1/deadletters/discard", `{"peer":"44","all":true,"through":99}`); code != http.StatusForbidden {
			t.Errorf("%s discards dead letters: %d %s, want 403", kind, code, body)
		}
	}
	if code, body := call(pki.KindOperator, "POST", "/api/v1/deadletters/discard", `{"peer":"44","envelope_id":"`+id+`"}`); code != http.StatusOK || !strings.Contains(body, `"discarded":1`) {
		t.Fatalf("discard: %d %s", code, body)
	}
	if d, dead := n.store.Depth(), n.store.DeadLetterCounts(); len(d) != 0 || len(dead) != 0 {
		t.Errorf("after discard: depth %v, dead letters %v; want none", d, dead)
	}
	if _, body := call(pki.KindOperator, "GET", "/api/v1/records/"+id, ""); !strings.Contains(body, `"state":"discarded"`) || !strings.Contains(body, `"discarded_at":`) {
		t.Errorf("record of a discarded dead letter: %s", body)
	}
	discards, err := n.audit.Query(ctx, audit.Filter{Kind: audit.KindDiscard})
	if err != nil {
		t.Fatal(err)
	}
	serial = leaves[pki.KindOperator].Cert.SerialNumber.Text(16)
	if len(discards) != 1 || discards[0].EnvelopeID != id || discards[0].Destination != "44" || discards[0].Serial != serial {
		t.Errorf("discard audit entries = %+v, want one for %s by the operator's certificate %s", discards, id, serial)
	}

	// A discard of all takes what a list showed, through its position,
	// and keeps, and counts, a dead letter buried after the list; without
	// the position, as an older client sends it, it is refused.
	const shown, late = "01JDEADLETTER0000000000001", "01JDEADLETTER0000000000002"
	for _, dl := range []string{shown, late} {
		if _, err := n.store.Enqueue(ctx, []store.Outgoing{{EnvelopeID: dl, Ref: "51/transfer/T-" + dl, Type: "transfer", Peer: "44", Envelope: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.store.MarkDead(ctx, "44", []store.DeadLetter{{EnvelopeID: shown, Status: 422, Reason: "import refuses the record"}}); err != nil {
		t.Fatal(err)
	}
	var shownList struct {
		Through uint64 `json:"through"`
	}
	if code, body := call(pki.KindOperator, "GET", "/api/v1/deadletters?peer=44", ""); code != http.StatusOK || json.Unmarshal([]byte(body), &shownList) != nil || shownList.Through == 0 {
		t.Fatalf("list: %d %s; want a through", code, body)
	}
	if err := n.store.MarkDead(ctx, "44", []store.DeadLetter{{EnvelopeID: late, Status: 422, Reason: "import refuses the record"}}); err != nil {
		t.Fatal(err)
	}
	if code, body := call(pki.KindOperator, "POST", "/api/v1/deadletters/discard", `{"peer":"44","all":true}`); code != http.StatusBadRequest || !strings.Contains(body, "all needs through") {
		t.Errorf("discard of all without through: %d %s, want 400 naming through", code, body)
	}
	all := fmt.Sprintf(`{"peer":"44","all":true,"through":%d}`, shownList.Through)
	if code, body := call(pki.KindOperator, "POST", "/api/v1/deadletters/discard", all); code != http.StatusOK || body != `{"discarded":1,"left":1}`+"\n" {
		t.Errorf("discard of all through %d: %d %q, want the one shown discarded and the late one left", shownList.Through, code, body)
	}
	if _, body := call(pki.KindOperator, "GET", "/api/v1/deadletters?peer=44", ""); strings.Contains(body, shown) || !strings.Contains(body, late) {
		t.Errorf("list after the discard of all: %s; want %s alone", body, late)
	}
	if discards, _ := n.audit.Query(ctx, audit.Filter{Kind: audit.KindDiscard}); len(discards) != 2 || discards[1].EnvelopeID != shown {
		t.Errorf("discard audit entries = %+v, want a second, for %s alone", discards, shown)
	}
}
