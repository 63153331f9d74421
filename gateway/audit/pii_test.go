package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode"

	bolt "go.etcd.io/bbolt"
)

// TestLogHoldsNoPersonalData pushes synthetic traffic full of names, ID
// numbers and phone numbers through a real log and scans the bbolt file.
func TestLogHoldsNoPersonalData(t *testing.T) {
	ctx := context.Background()
	db, path := newTestDB(t)
	l, err := Open(db, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	recs, a, _ := traffic(300, 7)
	for _, e := range a {
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.SignedHead(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	db.Close()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var export strings.Builder
	if err := ExportCSV(&export, All(a)); err != nil {
		t.Fatal(err)
	}
	cells, err := csv.NewReader(strings.NewReader(export.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var csvText []string
	for _, row := range cells {
		csvText = append(csvText, row...)
	}
	texts := map[string][]string{"stored entries": storedStrings(t, path), "CSV export": csvText}
	// Patterns match whole tokens, so a digit run inside a hex digest is not
	// mistaken for a phone number.
	patterns := map[string]*regexp.Regexp{
		"resident ID number": regexp.MustCompile(`^[1-9][0-9]{5}(19|20)[0-9]{2}[01][0-9][0-3][0-9]{4}[0-9Xx]$`),
		"mobile number":      regexp.MustCompile(`^1[3-9][0-9]{9}$`),
		"Chinese name":       regexp.MustCompile(`\p{Han}`),
	}
	for what, values := range texts {
		t.Run(what, func(t *testing.T) {
			if len(values) < 1000 {
				t.Fatalf("only %d values scanned", len(values))
			}
			for _, v := range values {
				for tok := range strings.FieldsFuncSeq(v, func(c rune) bool { return !unicode.IsLetter(c) && !unicode.IsDigit(c) }) {
					for name, re := range patterns {
						if re.MatchString(tok) {
							t.Errorf("%s pattern found: %q in %q", name, tok, v)
						}
					}
				}
			}
		})
	}
	t.Run("bbolt file bytes", func(t *testing.T) {
		for _, r := range recs {
			for _, v := range []string{r.Worker.Name, r.Worker.IDNumber, r.Worker.Phone} {
				if bytes.Contains(file, []byte(v)) {
					t.Errorf("synthetic personal value %q found", v)
				}
			}
		}
	})
}

// storedStrings reads every string value of every stored entry straight
// from the bbolt file, bypassing the package's decoder.
func storedStrings(t *testing.T, path string) []string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for k, x := range v {
				out = append(out, k)
				walk(x)
			}
		}
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("audit")).Bucket(bucketEntries).ForEach(func(_, data []byte) error {
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				return err
			}
			walk(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestValidateRefusesPersonalData(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Entry)
	}{
		{"ID number as envelope id", func(e *Entry) { e.EnvelopeID = "510101199003071234" }},
		{"ID number ending in X", func(e *Entry) { e.RefersTo = "env-51010119900307123X" }},
		{"phone as serial", func(e *Entry) { e.Serial = "13812345678" }},
		{"Chinese name in agreement id", func(e *Entry) { e.AgreementID = "AG-张伟" }},
		{"spaces (free text) in a revision", func(e *Entry) { e.Policy.Province = "worker asked to" }},
		{"person's identity as peer", func(e *Entry) { e.Peer = "spiffe://p51.laborlink.test/admin/zhang-wei" }},
		{"free-text reason", func(e *Entry) { e.Reasons = []Reason{"worker Zhang refused"} }},
		{"free-text detail", func(e *Entry) { e.Kind, e.Detail = KindReferralUpdate, "called the worker" }},
		{"unknown province", func(e *Entry) { e.Origin = "99" }},
		{"overlong token", func(e *Entry) { e.EnvelopeID = strings.Repeat("a", 81) }},
		{"denied without reason", func(e *Entry) { e.Kind, e.Decision = KindDenied, Deny }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := sentEntry(1)
			tc.edit(&e)
			if err := e.Validate(); err == nil {
				t.Errorf("Validate accepted %+v", e)
			}
		})
	}
	good := sentEntry(1)
	good.EnvelopeID = "0190f6f5-8b5a-7cc0-9f3e-2b6c4d1e5a77"
	if err := good.Validate(); err != nil {
		t.Errorf("a UUID envelope id: %v", err)
	}
}

// TestEntryHasNoUncheckedText keeps the structural guarantee as the type
// grows: every string-shaped field must be one Validate checks.
func TestEntryHasNoUncheckedText(t *testing.T) {
	checked := map[string]bool{
		"Kind": true, "EnvelopeID": true, "RefersTo": true, "RecordType": true, "Origin": true,
		"Destination": true, "AgreementID": true, "Purpose": true, "Decision": true, "Reasons": true,
		"Policy": true, "Peer": true, "Due": true, "Serial": true, "Detail": true,
	}
	typ := reflect.TypeFor[Entry]()
	for f := range typ.Fields() {
		k := f.Type.Kind()
		if k == reflect.Slice {
			k = f.Type.Elem().Kind()
		}
		if (k == reflect.String || k == reflect.Struct && f.Type != reflect.TypeOf(t0)) && !checked[f.Name] {
			t.Errorf("Entry.%s (%s) is text that Validate does not check", f.Name, f.Type)
		}
	}
}
