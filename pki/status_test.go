package pki

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStatus(t *testing.T) {
	f := newFederation(t, "51")
	dir := f.ProvinceDir("51")
	now := time.Now()
	day := 24 * time.Hour
	ok := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	soon := issue(t, f, "51", IssueRequest{Kind: KindSystem, Name: "hr", NotAfter: now.Add(10 * day)})
	old := issue(t, f, "51", IssueRequest{Kind: KindAdmin, Name: "old", NotBefore: now.Add(-10 * day), NotAfter: now.Add(-day)})
	gone := issue(t, f, "51", IssueRequest{Kind: KindAuditor, Name: "gone"})
	if _, err := Revoke(dir, gone.Cert.SerialNumber, RevokeOptions{Reason: "affiliationChanged"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ok.KeyFile, 0o644); err != nil {
		t.Fatal(err)
	}

	rep, err := Status(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	byFile := map[string]CertStatus{}
	for _, c := range rep.Certs {
		byFile[filepath.Base(c.File)] = c
	}
	tests := []struct {
		file, role, who, problem string
	}{
		{"ca.pem", "province CA", "province 51 (Sichuan), laborlink.example", ""},
		{"root.pem", "root CA", "federation laborlink.example", ""},
		{"node-gw-1.pem", "node", ok.Identity.URI(), ""},
		{"system-hr.pem", "system", soon.Identity.URI(), "expires in 9 days"},
		{"admin-old.pem", "admin", old.Identity.URI(), "EXPIRED at"},
		{"auditor-gone.pem", "auditor", gone.Identity.URI(), "revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, found := byFile[tt.file]
			if !found {
				t.Fatalf("status does not list %s: %+v", tt.file, rep.Certs)
			}
			if c.Role != tt.role || c.Who != tt.who {
				t.Errorf("role %q who %q, want %q %q", c.Role, c.Who, tt.role, tt.who)
			}
			got := strings.Join(c.Problems, "; ")
			if tt.problem == "" && got != "" || !strings.Contains(got, tt.problem) {
				t.Errorf("problems %q, want %q", got, tt.problem)
			}
		})
	}
	if notes := strings.Join(rep.Notes, "\n"); !strings.Contains(notes, "node-gw-1-key.pem has mode 0644") {
		t.Errorf("notes do not flag the readable key: %q", notes)
	}

	pending := t.TempDir()
	if _, err := NewProvinceCSR(pending, "44", CSROptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err = Status(pending, now)
	if err != nil || !strings.Contains(strings.Join(rep.Notes, "\n"), "waiting for the root operator") {
		t.Errorf("pending CSR status: %+v, %v", rep, err)
	}
	if _, err := Status(filepath.Join(pending, "missing"), now); err == nil {
		t.Error("status of a missing directory succeeded")
	}
}
