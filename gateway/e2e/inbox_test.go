package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/gateway/exchange"
)

// TestTheInboxPagesByCursor: 44's system pages its inbox two at a time and
// reads every arrival exactly once, in the order they arrived; the cursor of
// the last page then reads nothing until the next arrival, which it reads
// alone. A cursor or limit that is not one is refused by name.
func TestTheInboxPagesByCursor(t *testing.T) {
	f := start(t, nil)
	g := f.gens["44"]
	// One at a time, each delivered before the next is sent: the order
	// they arrive in is the order they were sent in.
	var arrived []string
	for range 5 {
		res := f.submit("51", g.Transfer())[0]
		if res.Outcome != exchange.OutcomeAccepted {
			t.Fatalf("transfer: %+v", res)
		}
		f.waitArrived("44", res.EnvelopeID)
		arrived = append(arrived, res.EnvelopeID)
	}

	ctx := context.Background()
	inbox := f.system("44")
	var read []string
	var cursor uint64
	for pages := 0; ; pages++ {
		if pages > len(arrived) {
			t.Fatalf("still paging after %d pages of 2; read %v", pages, read)
		}
		page, err := inbox.Inbox(ctx, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 2 {
			t.Fatalf("a page of limit 2 holds %d items", len(page.Items))
		}
		if len(page.Items) == 0 {
			if page.Next != cursor {
				t.Errorf("an empty page moves the cursor from %d to %d", cursor, page.Next)
			}
			break
		}
		for _, it := range page.Items {
			if it.Seq <= cursor {
				t.Errorf("item %s at %d, not after the cursor %d", it.EnvelopeID, it.Seq, cursor)
			}
			read = append(read, it.EnvelopeID)
			cursor = it.Seq
		}
		if page.Next != cursor {
			t.Errorf("page ends at %d but its next cursor is %d", cursor, page.Next)
		}
	}
	if strings.Join(read, " ") != strings.Join(arrived, " ") {
		t.Errorf("paged\n%v\nwant each arrival once, in order\n%v", read, arrived)
	}

	res := f.submit("51", g.Transfer())[0]
	if res.Outcome != exchange.OutcomeAccepted {
		t.Fatalf("the later transfer: %+v", res)
	}
	f.waitArrived("44", res.EnvelopeID)
	page, err := inbox.Inbox(ctx, cursor, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].EnvelopeID != res.EnvelopeID || page.Next != page.Items[0].Seq {
		t.Errorf("after the last page: %+v; want the new arrival %s alone", page, res.EnvelopeID)
	}

	for _, c := range []struct{ query, names string }{
		{"after=first&limit=2", "after"},
		{"after=0&limit=0", "limit"},
		{"after=0&limit=1001", "limit"},
	} {
		status, body := f.httpAs("44", f.Certs["44"].System).do(http.MethodGet, "/api/v1/inbox?"+c.query, nil)
		if e := errorAnswer(t, body); status != http.StatusBadRequest || !strings.Contains(e.Error, c.names) {
			t.Errorf("inbox?%s: %d %+v; want 400 naming %s", c.query, status, e, c.names)
		}
	}
}
