package node

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/store"
	"github.com/laborlink/laborlink/pki"
)

// TestAFailedStoreMakesTheNodeUnhealthy: once a commit to the node's file
// has failed, the store takes no more reads or writes until the node
// restarts and reads the file again; /healthz, /readyz and the status say
// so, so that an orchestrator restarts it and an operator sees why.
func TestAFailedStoreMakesTheNodeUnhealthy(t *testing.T) {
	n, p := singleNode(t)
	if code, body := probe(t, n, "/healthz"); code != http.StatusOK {
		t.Fatalf("before the failure: /healthz %d %q", code, body)
	}
	// The file closed under the store: its next commit fails.
	if err := n.store.DB().Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.store.Increment(context.Background(), "probe", 1); !errors.Is(err, store.ErrFailed) {
		t.Fatalf("a commit to a closed file: %v; want store.ErrFailed", err)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := probe(t, n, path); code != http.StatusServiceUnavailable || !strings.Contains(body, "store failed") {
			t.Errorf("%s: %d %q; want 503 saying the store failed", path, code, body)
		}
	}
	if st := n.status(context.Background()).(Status); !strings.Contains(st.Ready, "store failed") {
		t.Errorf("status ready = %q; want it to say the store failed", st.Ready)
	}
	// A read of the local API is answered unavailable, which a client
	// retries elsewhere or later, not as the node's internal error.
	for _, c := range []struct {
		kind pki.Kind
		path string
	}{{pki.KindSystem, "/api/v1/inbox"}, {pki.KindOperator, "/api/v1/deadletters"}} {
		hc := p.Client(p.Issue("51", c.kind, "x"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
		if status, eb := callAPI(t, n, hc, "GET", c.path, ""); status != http.StatusServiceUnavailable || eb.Code != "unavailable" || !strings.Contains(eb.Error, "node.db") {
			t.Errorf("GET %s: %d %+v; want 503 unavailable naming the file", c.path, status, eb)
		}
	}
}

// TestAFailedAuditCommitStopsTheStore: the audit log shares node.db and
// commits through the store's committer, so a commit of its own that
// fails stops the store as one of the store's would, before any write of
// the store's builds on it. The append's error says it was the audit log's
// append whose commit to node.db failed, and the store's failure names
// that commit and file, as /healthz does: what an operator reads to know
// why the node must restart. A change that drops either fails here.
func TestAFailedAuditCommitStopsTheStore(t *testing.T) {
	n, _ := singleNode(t)
	db := n.store.DB().Path()
	if err := n.store.DB().Close(); err != nil {
		t.Fatal(err)
	}
	commit := "a commit to " + db + " failed"
	_, err := n.audit.Append(context.Background(), audit.Entry{Kind: audit.KindSent, EnvelopeID: "01JENV", RecordType: "transfer", Origin: "51", Destination: "44", Decision: audit.Allow})
	if !errors.Is(err, store.ErrFailed) || !strings.Contains(err.Error(), "append to audit log") || !strings.Contains(err.Error(), commit) {
		t.Fatalf("an audit append to a closed file: %v; want store.ErrFailed naming the audit log's append and %q", err, commit)
	}
	if err := n.store.Failed(); !errors.Is(err, store.ErrFailed) || !strings.Contains(err.Error(), commit) {
		t.Errorf("store after the audit log's commit failed: %v; want store.ErrFailed naming %q", err, commit)
	}
	if code, body := probe(t, n, "/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, commit) {
		t.Errorf("/healthz: %d %q; want 503 naming %q", code, body, commit)
	}
}

// TestAFailedStoreStopsTheAuditLog: once a commit of the store's has
// failed, the file they share may show what is not on disk, so the audit
// log neither appends nor signs a head over it: a head served then would
// commit the node's key to entries a restart may not find.
func TestAFailedStoreStopsTheAuditLog(t *testing.T) {
	n, _ := singleNode(t)
	ctx := context.Background()
	if err := n.store.DB().Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.store.Increment(ctx, "probe", 1); !errors.Is(err, store.ErrFailed) {
		t.Fatalf("a commit to a closed file: %v; want store.ErrFailed", err)
	}
	if _, err := n.audit.Append(ctx, audit.Entry{Kind: audit.KindSent, EnvelopeID: "01JENV", RecordType: "transfer", Origin: "51", Destination: "44", Decision: audit.Allow}); !errors.Is(err, store.ErrFailed) {
		t.Errorf("an audit append once the store failed: %v; want store.ErrFailed", err)
	}
	if h, err := n.audit.SignedHead(ctx); !errors.Is(err, store.ErrFailed) {
		t.Errorf("a head once the store failed: size %d, %v; want store.ErrFailed", h.Size, err)
	}
}

// TestALookupTheStoreCannotReadSaysSo: a record or received envelope
// looked up in a store that cannot be read is answered 503, and its
// message said the envelope did not exist ("no received envelope ...:
// store failed ..."), which the store, unread, cannot know. It says the
// store could not be read, naming what was looked up; one the store does
// not hold is still answered 404 "no ...".
func TestALookupTheStoreCannotReadSaysSo(t *testing.T) {
	n, p := singleNode(t)
	lookups := []struct {
		kind       pki.Kind
		path, what string
	}{
		{pki.KindSystem, "/api/v1/inbox/01JNOSUCH", `received envelope "01JNOSUCH"`},
		{pki.KindSystem, "/api/v1/records/01JNOSUCH", `record with envelope id "01JNOSUCH"`},
		{pki.KindOperator, "/api/v1/records?ref=51/transfer/T-1", `record with reference "51/transfer/T-1"`},
	}
	clients := map[pki.Kind]*http.Client{}
	for _, k := range []pki.Kind{pki.KindSystem, pki.KindOperator} {
		clients[k] = p.Client(p.Issue("51", k, "x-"+string(k)), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	}
	for _, l := range lookups {
		status, eb := callAPI(t, n, clients[l.kind], "GET", l.path, "")
		if status != http.StatusNotFound || eb.Code != "not_found" || eb.Error != "no "+l.what {
			t.Errorf("GET %s of a readable store: %d %+v; want 404 not_found %q", l.path, status, eb, "no "+l.what)
		}
	}
	if err := n.store.DB().Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.store.Increment(context.Background(), "probe", 1); !errors.Is(err, store.ErrFailed) {
		t.Fatalf("a commit to a closed file: %v; want store.ErrFailed", err)
	}
	for _, l := range lookups {
		status, eb := callAPI(t, n, clients[l.kind], "GET", l.path, "")
		want := "the store could not be read to look up the " + l.what + ": "
		if status != http.StatusServiceUnavailable || eb.Code != "unavailable" || !strings.HasPrefix(eb.Error, want) || !strings.Contains(eb.Error, "store failed") {
			t.Errorf("GET %s of a store that cannot be read: %d %+v; want 503 unavailable starting %q and giving the cause", l.path, status, eb, want)
		}
	}
}
