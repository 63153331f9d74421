package store

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestOpenRekeysCasesOfTheOldForm: a store file whose cases older
// versions keyed by the two provinces and the id ("44-51/RF-1") has them,
// once opened, under CaseKey's (the province that opened the case and the
// id), with nothing of them lost. A case whose new key is taken, or that
// does not decode, stays under its old key and is logged by its keys.
func TestOpenRekeysCasesOfTheOldForm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	theirs := Case{Key: "44-51/RF-1", ReferralID: "RF-1", EnvelopeID: "E1", OpenedBy: "51", OpenedTo: "44", Direction: "received",
		Kind: "wage-arrears", Status: "accepted", Deadline: "2026-04-01", OpenedAt: at, UpdatedAt: at,
		Updates: []CaseUpdate{{EnvelopeID: "E2", From: "44", Status: "accepted", At: at}}}
	ours := Case{Key: "44-51/RF-2", ReferralID: "RF-2", EnvelopeID: "E3", OpenedBy: "44", OpenedTo: "51", Direction: "sent", Status: "referred"}
	clash := Case{Key: "44-51/RF-3", ReferralID: "RF-3", EnvelopeID: "E4", OpenedBy: "51", OpenedTo: "44", Status: "referred"}
	taken := Case{Key: "51/RF-3", ReferralID: "RF-3", EnvelopeID: "E5", OpenedBy: "51", OpenedTo: "44", Status: "accepted"}
	writeOldStore(t, path, map[string]any{
		theirs.Key: theirs, ours.Key: ours, clash.Key: clash, taken.Key: taken,
		"44-51/RF-4": json.RawMessage(`{"key": "44-51/RF-4", "status": `), // damaged
	})

	var logs bytes.Buffer
	s, err := Open(path, Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Case{"51/RF-1": theirs, "44/RF-2": ours, "51/RF-3": taken, "44-51/RF-3": clash}
	for key, c := range want {
		c.Key = key
		got, err := s.Case(key, at)
		if err != nil {
			t.Errorf("case %s: %v", key, err)
			continue
		}
		got.Overdue = false
		if g, w := mustJSON(t, got), mustJSON(t, &c); g != w {
			t.Errorf("case %s:\n got %s\nwant %s", key, g, w)
		}
	}
	for _, gone := range []string{"44-51/RF-1", "44-51/RF-2"} {
		if _, err := s.Case(gone, at); err == nil {
			t.Errorf("case %s is still under its old key", gone)
		}
	}
	s.DB().View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketCases).Get([]byte("44-51/RF-4")) == nil {
			t.Error("the damaged case is gone")
		}
		return nil
	})
	for _, line := range []string{`old_key=44-51/RF-3 key=51/RF-3`, `key=44-51/RF-4`, `cases=2`} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log does not say %q:\n%s", line, logs.String())
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Opened again, the store has nothing more to move.
	logs.Reset()
	s = openAt(t, path, Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := s.Case("51/RF-1", at); err != nil || strings.Contains(logs.String(), "re-keyed") {
		t.Errorf("second open: %v; log:\n%s", err, logs.String())
	}
}

// writeOldStore writes a store file as versions before CaseKey named the
// opening province wrote it: cases under the keys given.
func writeOldStore(t *testing.T, path string, cases map[string]any) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{PageSize: PageSize})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketCases)
		if err != nil {
			return err
		}
		for k, v := range cases {
			if raw, ok := v.(json.RawMessage); ok {
				if err := b.Put([]byte(k), raw); err != nil {
					return err
				}
				continue
			}
			if err := putJSON(b, k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
