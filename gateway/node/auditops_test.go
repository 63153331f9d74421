package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki"
)

// flows appends n flows from 51 to each of 44 and 33 to the node's log and
// returns the positions of those to 44.
func flows(t *testing.T, n *Node, count int) []int64 {
	t.Helper()
	var to44 []int64
	for i := range count {
		for _, dest := range []audit.Province{"44", "33"} {
			e := audit.Entry{Kind: audit.KindSent, EnvelopeID: "01JENV" + string(dest) + string(rune('A'+i)), RecordType: "transfer",
				Origin: "51", Destination: dest, AgreementID: "AG-51-" + string(dest) + "-2026-001", AgreementVersion: 1,
				Decision: audit.Allow, PayloadDigest: audit.Digest{byte(i), 1}, Size: 900, Peer: "spiffe://p51.fed.test/system/hr"}
			idx, err := n.audit.Append(context.Background(), e)
			if err != nil {
				t.Fatal(err)
			}
			if dest == "44" {
				to44 = append(to44, idx)
			}
		}
	}
	return to44
}

func auditClient(t *testing.T, n *Node, p *gatewaytest.PKI, province string, kind pki.Kind) *api.Client {
	t.Helper()
	cl, err := api.NewClient("https://"+n.Addr(), p.TLS(p.Issue(province, kind, "li")), "51")
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestAuditExportStreamsTheFilteredEntries: both formats hold exactly the
// entries /audit/entries selects, JSON lines byte for byte as stored.
func TestAuditExportStreamsTheFilteredEntries(t *testing.T) {
	n, p := singleNode(t)
	to44 := flows(t, n, 3)
	cl := auditClient(t, n, p, "51", pki.KindAuditor)
	ctx := context.Background()
	pair := url.Values{"pair": {"51:44"}}

	var jsonl bytes.Buffer
	if err := cl.AuditExport(ctx, pair, api.FormatJSONL, &jsonl); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(jsonl.String(), "\n"), "\n")
	if len(lines) != len(to44) {
		t.Fatalf("jsonl export has %d lines, want %d:\n%s", len(lines), len(to44), jsonl.String())
	}
	for i, pos := range to44 {
		raw, err := n.audit.RawEntries(ctx, pos, pos+1)
		if err != nil || len(raw) != 1 {
			t.Fatal(raw, err)
		}
		if lines[i] != string(raw[0].Data) {
			t.Errorf("line %d:\n got %s\nwant %s (as stored)", i, lines[i], raw[0].Data)
		}
	}

	var csvOut bytes.Buffer
	if err := cl.AuditExport(ctx, pair, api.FormatCSV, &csvOut); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(to44) || rows[0][0] != "index" {
		t.Fatalf("csv export: %d rows, want a header and %d", len(rows), len(to44))
	}
	for i, row := range rows[1:] {
		if row[0] != strconv.FormatInt(to44[i], 10) || row[6] != "51" || row[7] != "44" {
			t.Errorf("csv row %d: %v", i, row)
		}
	}

	hc := p.Client(p.Issue("51", pki.KindOperator, "ops"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	for _, tc := range []struct {
		query, status, contentType, file string
	}{
		{"?format=csv", "200", "text/csv; charset=utf-8", `.csv"`},
		{"?format=jsonl", "200", "application/jsonl", `.jsonl"`},
		{"", "200", "application/jsonl", `.jsonl"`},
		{"?format=xml", "400", "application/json; charset=utf-8", ""},
		{"?format=csv&from=today", "400", "application/json; charset=utf-8", ""},
		{"?format=csv&type=transfers", "400", "application/json; charset=utf-8", ""},
	} {
		resp, err := hc.Get("https://" + n.Addr() + "/api/v1/audit/export" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		disposition := resp.Header.Get("Content-Disposition")
		if strconv.Itoa(resp.StatusCode) != tc.status || resp.Header.Get("Content-Type") != tc.contentType ||
			(tc.file != "" && !(strings.HasPrefix(disposition, `attachment; filename="audit-`) && strings.HasSuffix(disposition, tc.file))) {
			t.Errorf("%s: %d %q %q", tc.query, resp.StatusCode, resp.Header.Get("Content-Type"), disposition)
		}
		if tc.query == "?format=xml" && !strings.Contains(string(body), `format must be csv or jsonl, got \"xml\"`) {
			t.Errorf("bad format: %s", body)
		}
		if tc.query == "?format=csv&from=today" && !strings.Contains(string(body), "from must be an RFC 3339 time") {
			t.Errorf("bad from: %s", body)
		}
		if tc.query == "?format=csv&type=transfers" && !strings.Contains(string(body), `type \"transfers\" is not a record type`) {
			t.Errorf("bad type: %s", body)
		}
	}
}

// flipStored changes one byte of the stored entry at pos, as someone with
// the data file would.
func flipStored(t *testing.T, n *Node, pos int64) {
	t.Helper()
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(pos))
	err := n.store.DB().Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit")).Bucket([]byte("entries"))
		v := bytes.Clone(b.Get(k[:]))
		v[len(v)/2] ^= 0x01
		return b.Put(k[:], v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAuditVerifyReportsTamperingByPosition: the node's check of its own
// store passes on a clean log and names the position of a changed entry.
func TestAuditVerifyReportsTamperingByPosition(t *testing.T) {
	n, p := singleNode(t)
	to44 := flows(t, n, 4)
	cl := auditClient(t, n, p, "51", pki.KindAuditor)
	ctx := context.Background()

	clean, err := cl.AuditVerify(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !clean.OK() || clean.Checked < int64(len(to44)) {
		t.Fatalf("clean log: %+v", clean)
	}
	kept := clean.Latest.Note
	if rep, err := cl.AuditVerify(ctx, kept); err != nil || !rep.OK() || rep.Earlier == nil {
		t.Fatalf("with the head just kept: %+v, %v", rep, err)
	}

	flipStored(t, n, to44[2])
	rep, err := cl.AuditVerify(ctx, kept)
	if err != nil {
		t.Fatal(err)
	}
	want := audit.Finding{Position: to44[2], Problem: audit.ProblemRewritten}
	if len(rep.Findings) != 1 || rep.Findings[0] != want {
		t.Errorf("after changing entry %d: findings %v, want [%v]", to44[2], rep.Findings, want)
	}

	// An earlier head that is not this log's is a finding naming it.
	rep, err = cl.AuditVerify(ctx, []byte("not a head\n"))
	if err != nil {
		t.Fatal(err)
	}
	var named bool
	for _, f := range rep.Findings {
		named = named || (f.Problem == audit.ProblemBadHead && strings.HasPrefix(f.Detail, "earlier:"))
	}
	if !named {
		t.Errorf("a malformed earlier head: findings %v, want a bad-head naming earlier", rep.Findings)
	}
	// A body that is not {"earlier": "..."} is refused, naming the member.
	hc := p.Client(p.Issue("51", pki.KindAuditor, "li"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	for body, wantErr := range map[string]string{
		`{"earlier": 7}`:   "earlier",
		`{"earlyer": "x"}`: `unknown field \"earlyer\"`,
		`[`:                `{\"earlier\":`,
	} {
		resp, err := hc.Post("https://"+n.Addr()+"/api/v1/audit/verify", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(got), wantErr) {
			t.Errorf("body %s: %d %s, want 400 mentioning %s", body, resp.StatusCode, got, wantErr)
		}
	}
}

// TestAuditOperationsByKind: auditors may export, verify and reconcile;
// operators export and reconcile; systems none of them.
func TestAuditOperationsByKind(t *testing.T) {
	n, p := singleNode(t)
	base := "https://" + n.Addr()
	type call struct{ method, path string }
	export, verify, reconcile := call{"GET", "/api/v1/audit/export"}, call{"POST", "/api/v1/audit/verify"}, call{"GET", "/api/v1/audit/reconcile?with=44"}
	// This federation has no province 44: an admitted reconcile reaches the
	// peer lookup and fails there, naming the province.
	tests := []struct {
		kind pki.Kind
		want map[call]int
	}{
		{pki.KindAuditor, map[call]int{export: 200, verify: 200, reconcile: 502}},
		{pki.KindOperator, map[call]int{export: 200, verify: 403, reconcile: 502}},
		{pki.KindSystem, map[call]int{export: 403, verify: 403, reconcile: 403}},
	}
	for _, tt := range tests {
		hc := p.Client(p.Issue("51", tt.kind, "x"), pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
		for c, status := range tt.want {
			req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != status {
				t.Errorf("%s %s %s: %d %s, want %d", tt.kind, c.method, c.path, resp.StatusCode, body, status)
			}
			if status == 502 && !strings.Contains(string(body), "province 44") {
				t.Errorf("%s reconcile with an unknown province: %s, want the province named", tt.kind, body)
			}
		}
	}
}
