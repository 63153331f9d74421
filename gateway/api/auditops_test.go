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
)

// failingAfter yields n entries, then fails.
func failingAfter(n int) audit.EntrySource {
	return func(yield func(audit.Entry) error) error {
		for i := range n {
			e := audit.Entry{Index: int64(i), Kind: audit.KindSent, EnvelopeID: fmt.Sprintf("env-%d", i), Origin: "51", Destination: "44"}
			if err := yield(e); err != nil {
				return err
			}
		}
		return errors.New("disk read failed")
	}
}

// TestExportFailingMidwayCutsTheResponse: an export that fails after part
// of the file went out must not end as a 200 with an error line appended;
// one that fails before anything went out answers with the error.
func TestExportFailingMidwayCutsTheResponse(t *testing.T) {
	for _, format := range []string{FormatCSV, FormatJSONL} {
		resp := AuditExportResponse{Format: format, Entries: failingAfter(500), At: time.Now()}
		func() {
			defer func() {
				if r := recover(); r != http.ErrAbortHandler {
					t.Errorf("%s: failing after 500 entries: recovered %v, want http.ErrAbortHandler", format, r)
				}
			}()
			encodeAuditExport(context.Background(), httptest.NewRecorder(), resp)
		}()
		resp.Entries = failingAfter(0)
		rec := httptest.NewRecorder()
		if err := encodeAuditExport(context.Background(), rec, resp); err == nil || !strings.Contains(err.Error(), "disk read failed") {
			t.Errorf("%s: failing at once: %v", format, err)
		}
		if d := rec.Header().Get("Content-Disposition"); d != "" {
			t.Errorf("%s: failing at once, the error goes out as a file to save: Content-Disposition %q", format, d)
		}
	}
}

// TestAnEmptyExportIsAFile: with nothing to write, the export is still
// the file the client asked for.
func TestAnEmptyExportIsAFile(t *testing.T) {
	empty := func(func(audit.Entry) error) error { return nil }
	for _, format := range []string{FormatCSV, FormatJSONL} {
		rec := httptest.NewRecorder()
		if err := encodeAuditExport(context.Background(), rec, AuditExportResponse{Format: format, Entries: empty, At: time.Now()}); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if d := rec.Header().Get("Content-Disposition"); !strings.HasPrefix(d, "attachment; filename=\"audit-") {
			t.Errorf("%s: empty export's Content-Disposition %q", format, d)
		}
	}
}

func TestTooManyEntriesIsTheCallersToFix(t *testing.T) {
	err := fmt.Errorf("%w: more than 100000 match", audit.ErrTooManyEntries)
	if status, code := statusOf(err); status != http.StatusBadRequest || code != "invalid" {
		t.Errorf("statusOf(%v) = %d %s, want 400 invalid", err, status, code)
	}
}
