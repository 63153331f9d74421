package audit

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// storedTraffic is a log holding n flows' origin entries, and the entries
// as stored (Index set).
func storedTraffic(t *testing.T, n int) (*Log, []Entry) {
	t.Helper()
	ctx := context.Background()
	l, _ := newTestLog(t)
	_, a, _ := traffic(n, 3)
	for _, e := range a {
		if _, err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := l.Entries(ctx, 0, l.Size())
	if err != nil {
		t.Fatal(err)
	}
	return l, stored
}

// TestLogQueryAndStatsReadInChunks holds the node's streaming Query and
// Stats to the in-memory ones, reading the log whole and three entries at
// a time.
func TestLogQueryAndStatsReadInChunks(t *testing.T) {
	ctx := context.Background()
	l, stored := storedTraffic(t, 40)
	p := Pair{"51", "44"}
	filters := []Filter{{}, {Kind: KindSent}, {Pair: &p}, {From: t0.Add(7 * 60e9), To: t0.Add(23 * 60e9)}}
	for _, chunk := range []int64{scanChunk, 3} {
		t.Run(fmt.Sprintf("chunks of %d", chunk), func(t *testing.T) {
			defer func(old int64) { scanChunk = old }(scanChunk)
			scanChunk = chunk
			for _, f := range filters {
				got, err := l.Query(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if want := Query(stored, f); !reflect.DeepEqual(got, want) || len(want) == 0 {
					t.Errorf("%+v: %d entries, want %d (the same)", f, len(got), len(want))
				}
				sum, err := l.Stats(ctx, f, t0)
				if err != nil {
					t.Fatal(err)
				}
				if want := StatsFor(stored, f, t0); !reflect.DeepEqual(sum, want) {
					t.Errorf("%+v: stats\n got %+v\nwant %+v", f, sum, want)
				}
			}
		})
	}
}

func TestQueryRefusesMoreThanItsLimit(t *testing.T) {
	ctx := context.Background()
	l, stored := storedTraffic(t, 10)
	defer func(old int) { queryLimit = old }(queryLimit)
	queryLimit = 5
	_, err := l.Query(ctx, Filter{})
	if !errors.Is(err, ErrTooManyEntries) || !strings.Contains(err.Error(), "more than 5 match; narrow the window") {
		t.Errorf("%d entries under a limit of 5: %v", len(stored), err)
	}
	f := Filter{To: stored[5].Time}
	if es, err := l.Query(ctx, f); err != nil || len(es) != len(Query(stored, f)) || len(es) == 0 || len(es) > 5 {
		t.Errorf("a window of %d entries under a limit of 5: %d, %v", len(Query(stored, f)), len(es), err)
	}
	// Stats and Each have no limit.
	if sum, err := l.Stats(ctx, Filter{}, t0); err != nil || sum.Flows[0].Sent == 0 {
		t.Errorf("stats over 10 entries: %+v, %v", sum, err)
	}
}

func TestEachStopsAtTheFirstError(t *testing.T) {
	defer func(old int64) { scanChunk = old }(scanChunk)
	scanChunk = 3
	l, _ := storedTraffic(t, 10)
	stop := errors.New("stop")
	calls := 0
	err := l.Each(context.Background(), Filter{}, func(Entry) error {
		if calls++; calls == 7 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 7 {
		t.Errorf("Each returned %v after %d calls, want stop after 7", err, calls)
	}
}
