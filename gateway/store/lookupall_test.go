package store

import (
	"context"
	"fmt"
	"testing"
)

// TestLookupAllAndCounters checks that the one-transaction reads answer
// as Lookup and Counter do, one by one.
func TestLookupAllAndCounters(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if _, err := s.Enqueue(ctx, []Outgoing{outgoing(1, "44"), outgoing(3, "33")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, "quota/AG-1/transfer/2026", 2); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		refs   []string
		want   string
		names  []string
		counts string
	}{
		{"none", nil, "[]", nil, "[]"},
		{"known and unknown", []string{outgoing(1, "").Ref, outgoing(2, "").Ref, outgoing(3, "").Ref, outgoing(1, "").Ref},
			"[01ENV00001  01ENV00003 01ENV00001]", []string{"quota/AG-1/transfer/2026", "quota/none", "quota/AG-1/transfer/2026"}, "[2 0 2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, err := s.LookupAll(tt.refs)
			if err != nil || fmt.Sprint(ids) != tt.want {
				t.Errorf("LookupAll = %q, %v; want %s", ids, err, tt.want)
			}
			for i, ref := range tt.refs {
				if id, _ := s.Lookup(ref); id != ids[i] {
					t.Errorf("Lookup(%s) = %q, LookupAll said %q", ref, id, ids[i])
				}
			}
			vs, err := s.Counters(tt.names)
			if err != nil || fmt.Sprint(vs) != tt.counts {
				t.Errorf("Counters = %v, %v; want %s", vs, err, tt.counts)
			}
		})
	}
}
