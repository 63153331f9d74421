package api

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/pki"
)

// flowLog is a log of one entry per flow, of 51's node: with 44 both ways
// and with 33 both ways. What the Auditing methods not overridden are asked
// panics through the nil interface.
type flowLog struct {
	Auditing
	entries []audit.Entry
}

func newFlowLog() *flowLog {
	var es []audit.Entry
	for i, p := range []audit.Pair{{Origin: "51", Destination: "44"}, {Origin: "44", Destination: "51"}, {Origin: "51", Destination: "33"}, {Origin: "33", Destination: "51"}} {
		es = append(es, audit.Entry{Index: int64(i), Kind: audit.KindSent, Origin: p.Origin, Destination: p.Destination, Time: time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC)})
	}
	return &flowLog{entries: es}
}

func (l *flowLog) Query(_ context.Context, f audit.Filter) ([]audit.Entry, error) {
	return audit.Query(l.entries, f), nil
}

func (l *flowLog) Each(ctx context.Context, f audit.Filter, fn func(audit.Entry) error) error {
	es, _ := l.Query(ctx, f)
	for _, e := range es {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (l *flowLog) Stats(ctx context.Context, f audit.Filter, now time.Time) (audit.Summary, error) {
	return audit.Stats(audit.Query(l.entries, f), now), nil
}

func (l *flowLog) RawEntries(context.Context, int64, int64) ([]audit.RawEntry, error) {
	return nil, nil
}

func (l *flowLog) Verify(context.Context, []byte) (audit.Report, error) { return audit.Report{}, nil }

// pairs lists the flows of entries, as origin:destination, sorted.
func pairs(es []audit.Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, string(e.Origin)+":"+string(e.Destination))
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

// TestForeignAuditorsSeeTheirFlowsOnly: an auditor of 44 on 51's node reads
// the flows between 44 and 51, whatever filter it sends, is refused one
// that names 51's flows with 33, and is refused the routes that read the
// whole log or reach a third province; 51's own auditor reads everything.
func TestForeignAuditorsSeeTheirFlowsOnly(t *testing.T) {
	set := MakeSet(Services{Province: "51", Audit: newFlowLog(), Now: time.Now})
	as := func(province string) context.Context {
		return auth.WithIdentity(context.Background(), pki.Identity{Domain: "laborlink.example", Province: province, Kind: pki.KindAuditor, Name: "a"})
	}
	query := func(ctx context.Context, f audit.Filter) (string, error) {
		resp, err := set.AuditQuery(ctx, AuditQueryRequest{Filter: f})
		if err != nil {
			return "", err
		}
		return pairs(resp.(AuditQueryResponse).Entries), nil
	}
	export := func(ctx context.Context, f audit.Filter) (string, error) {
		resp, err := set.AuditExport(ctx, AuditExportRequest{Filter: f, Format: FormatJSONL})
		if err != nil {
			return "", err
		}
		var es []audit.Entry
		err = resp.(AuditExportResponse).Entries(func(e audit.Entry) error { es = append(es, e); return nil })
		return pairs(es), err
	}
	stats := func(ctx context.Context, f audit.Filter) (string, error) {
		resp, err := set.AuditStats(ctx, AuditQueryRequest{Filter: f})
		if err != nil {
			return "", err
		}
		var es []audit.Entry
		for _, f := range resp.(audit.Summary).Flows {
			es = append(es, audit.Entry{Origin: f.Origin, Destination: f.Destination})
		}
		return pairs(es), nil
	}
	all, with44 := "33:51 44:51 51:33 51:44", "44:51 51:44"
	for _, read := range []struct {
		name string
		read func(context.Context, audit.Filter) (string, error)
	}{{"entries", query}, {"export", export}, {"stats", stats}} {
		for _, tc := range []struct {
			name, province string
			filter         audit.Filter
			want, refused  string
		}{
			{"own, no filter", "51", audit.Filter{}, all, ""},
			{"own, 51:33", "51", audit.Filter{Pair: &audit.Pair{Origin: "51", Destination: "33"}}, "51:33", ""},
			{"foreign, no filter", "44", audit.Filter{}, with44, ""},
			{"foreign, its pair", "44", audit.Filter{Pair: &audit.Pair{Origin: "44", Destination: "51"}}, "44:51", ""},
			{"foreign, between the two reversed", "44", audit.Filter{Between: &audit.Pair{Origin: "44", Destination: "51"}}, with44, ""},
			{"foreign, 51:33", "44", audit.Filter{Pair: &audit.Pair{Origin: "51", Destination: "33"}}, "", "pair 51:33"},
			{"foreign, between 51 and 33", "44", audit.Filter{Between: &audit.Pair{Origin: "51", Destination: "33"}}, "", "between 51 and 33"},
		} {
			got, err := read.read(as(tc.province), tc.filter)
			switch {
			case tc.refused != "" && (!errors.Is(err, auth.ErrForbidden) || !strings.Contains(err.Error(), tc.refused)):
				t.Errorf("%s, %s: %q, %v; want refused naming %q", read.name, tc.name, got, err, tc.refused)
			case tc.refused == "" && (err != nil || got != tc.want):
				t.Errorf("%s, %s: %q, %v; want %q", read.name, tc.name, got, err, tc.want)
			}
		}
	}
	for name, call := range map[string]func(ctx context.Context) error{
		"raw": func(ctx context.Context) error {
			_, err := set.AuditRaw(ctx, AuditRawRequest{Start: 0, End: 1})
			return err
		},
		"verify": func(ctx context.Context) error { _, err := set.AuditVerify(ctx, AuditVerifyRequest{}); return err },
		"reconcile": func(ctx context.Context) error {
			_, err := set.AuditReconcile(ctx, AuditReconcileRequest{With: "51"})
			return err
		},
	} {
		if err := call(as("44")); !errors.Is(err, auth.ErrForbidden) || !strings.Contains(err.Error(), "province 51's own callers") {
			t.Errorf("%s by an auditor of 44: %v, want refused as for 51's own callers", name, err)
		}
		// 51's auditor passes the check: reconcile then fails on its request.
		if err := call(as("51")); errors.Is(err, auth.ErrForbidden) {
			t.Errorf("%s by an auditor of 51: %v", name, err)
		}
	}
}
