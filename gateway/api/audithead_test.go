package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/pki"
)

// headLog is a log of size entries that records what RecentHead is asked.
type headLog struct {
	Auditing
	size    int64
	atLeast []int64
}

func (l *headLog) Size() int64 { return l.size }

func (l *headLog) RecentHead(_ context.Context, atLeast int64) (audit.Head, error) {
	l.atLeast = append(l.atLeast, atLeast)
	return audit.Head{Size: l.size}, nil
}

// TestAuditHeadTakesMinSize: GET /api/v1/audit/head serves the node's
// recent head (audit.Log.RecentHead), which it signs at most once a head
// interval; min_size asks for one covering at least that many entries, for
// an auditor who needs a head over an entry the newest may not cover yet.
// A min_size beyond the log, which would wait for entries that may never
// come, or below 0, is refused, 400, naming it.
func TestAuditHeadTakesMinSize(t *testing.T) {
	decode := auditDecoder(t, "GET /api/v1/audit/head")
	l := &headLog{size: 10}
	set := MakeSet(Services{Province: "51", Audit: l, Now: time.Now})
	ctx := auth.WithIdentity(context.Background(), pki.Identity{Domain: "laborlink.example", Province: "51", Kind: pki.KindAuditor, Name: "x"})
	head := func(query string) error {
		req, err := decode(ctx, httptest.NewRequest(http.MethodGet, "/api/v1/audit/head"+query, nil))
		if err != nil {
			return err
		}
		_, err = set.AuditHead(ctx, req)
		return err
	}
	for _, query := range []string{"", "?min_size=0", "?min_size=7", "?min_size=10"} {
		if err := head(query); err != nil {
			t.Errorf("%q: %v", query, err)
		}
	}
	if want := "[0 0 7 10]"; fmt.Sprint(l.atLeast) != want {
		t.Errorf("RecentHead asked for %v, want %s", l.atLeast, want)
	}
	for query, want := range map[string]string{
		"?min_size=11": "beyond the log's 10 entries",
		"?min_size=-1": "min_size must be 0 or more",
		"?min_size=x":  "min_size must be a number",
		"?size=5":      `unknown query parameter "size"`,
	} {
		if err := head(query); !errors.Is(err, errBadRequest) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want a bad request (400) saying %q", query, err, want)
		}
	}
	if len(l.atLeast) != 4 {
		t.Errorf("RecentHead was asked %d times, want only for the 4 heads served", len(l.atLeast))
	}
}
