package main

import (
	"flag"
	"io"
	"testing"
)

// TestAuditFilterKeepsTheTimesGiven: --from and --to were sent to the node
// cut to the second, so a bound taken from an entry's time (which has
// nanoseconds) selected entries of that second before --from and left out
// those before --to. (From a review.)
func TestAuditFilterKeepsTheTimesGiven(t *testing.T) {
	for _, tc := range []struct {
		name, flag, want string
	}{
		{"fraction of a second", "2026-03-15T02:09:14.561970119Z", "2026-03-15T02:09:14.561970119Z"},
		{"offset kept", "2026-03-15T10:09:14.5+08:00", "2026-03-15T10:09:14.5+08:00"},
		{"whole second", "2026-03-15T02:09:14Z", "2026-03-15T02:09:14Z"},
		{"day", "2026-03-15", "2026-03-15T00:00:00+08:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("audit query", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f := addFilterFlags(fs)
			if err := fs.Parse([]string{"--from", tc.flag, "--to", tc.flag}); err != nil {
				t.Fatal(err)
			}
			q, err := f.values()
			if err != nil {
				t.Fatal(err)
			}
			if q.Get("from") != tc.want || q.Get("to") != tc.want {
				t.Errorf("--from and --to %s sent as from=%s to=%s; want %s", tc.flag, q.Get("from"), q.Get("to"), tc.want)
			}
		})
	}
}
