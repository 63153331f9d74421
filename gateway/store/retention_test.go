package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// received stores n envelopes from 51, the i-th received at day i of
// March 2026 with a record naming its worker.
func received(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("01J00000000000000000000%03d", i)
		rec := fmt.Sprintf(`{"schema":"laborlink.transfer/v1","worker":{"name":"张三%d","id_number":"510102199001011234"},"pad":%q}`, i, strings.Repeat("x", 80))
		in := Incoming{EnvelopeID: id, From: "51", Type: "transfer", ReceivedAt: time.Date(2026, 3, i, 8, 0, 0, 0, time.UTC),
			Envelope: json.RawMessage(`{"id":"` + id + `","payload":` + rec + `}`), Record: json.RawMessage(rec), Receipt: json.RawMessage(`{"envelope_id":"` + id + `"}`)}
		if _, err := s.Receive(ctx, []Incoming{in}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPruneInboxDropsPersonalDataOnly: entries received before the cutoff
// lose their envelope and record, and nothing else; later ones, and those
// past upTo, are untouched; a redelivery of a pruned envelope is still a
// duplicate with its original receipt; what was pruned is not looked at
// again, and the result survives a reopen.
func TestPruneInboxDropsPersonalDataOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	prunedAt := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	s := openAt(t, path, Options{Now: func() time.Time { return prunedAt }})
	received(t, s, 6)

	// Before March 4th, but no further than position 2.
	cutoff := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	if n, err := s.PruneInbox(ctx, cutoff, 2); err != nil || n != 2 {
		t.Fatalf("PruneInbox through 2 = %d, %v; want 2 pruned", n, err)
	}
	if n, err := s.PruneInbox(ctx, cutoff, 1<<63); err != nil || n != 1 {
		t.Fatalf("PruneInbox = %d, %v; want the third pruned", n, err)
	}
	if n, err := s.PruneInbox(ctx, cutoff, 1<<63); err != nil || n != 0 {
		t.Fatalf("PruneInbox again = %d, %v; want nothing more", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{})

	items, err := s.Inbox(0, 10)
	if err != nil || len(items) != 6 {
		t.Fatalf("Inbox = %d items, %v; want all 6 positions kept", len(items), err)
	}
	for i, m := range items {
		pruned := i < 3
		if m.Seq != uint64(i+1) || m.From != "51" || m.Type != "transfer" || m.ReceivedAt.Day() != i+1 || len(m.Receipt) == 0 {
			t.Errorf("item %d lost what it keeps: %+v", i+1, m)
		}
		if got := m.Envelope == nil && m.Record == nil; got != pruned {
			t.Errorf("item %d: envelope and record gone = %v, want %v", i+1, got, pruned)
		}
		if pruned != !m.PrunedAt.IsZero() || (pruned && !m.PrunedAt.Equal(prunedAt)) {
			t.Errorf("item %d: pruned_at %v, want set (%v) = %v", i+1, m.PrunedAt, prunedAt, pruned)
		}
		if b, _ := json.Marshal(m); pruned && strings.Contains(string(b), "510102199001011234") {
			t.Errorf("pruned item %d still holds the ID number: %s", i+1, b)
		}
	}
	one, err := s.InboxItem(items[0].EnvelopeID)
	if err != nil || one.PrunedAt.IsZero() {
		t.Errorf("InboxItem of a pruned entry = %+v, %v", one, err)
	}
	got, err := s.Receive(ctx, []Incoming{{EnvelopeID: items[0].EnvelopeID, From: "51", Type: "transfer", Envelope: json.RawMessage(`{}`), Record: json.RawMessage(`{}`), Receipt: json.RawMessage(`{"new":1}`)}})
	if err != nil || !got[0].Duplicate || string(got[0].Receipt) != string(items[0].Receipt) {
		t.Errorf("redelivery of a pruned envelope = %+v, %v; want a duplicate with receipt %s", got, err, items[0].Receipt)
	}
}

// TestPruneInboxInBatches: a backlog larger than one transaction's share is
// pruned whole, over several commits.
func TestPruneInboxInBatches(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	in := make([]Incoming, pruneBatch+5)
	for i := range in {
		id := fmt.Sprintf("01J0000000000000000000%04d", i)
		in[i] = Incoming{EnvelopeID: id, From: "44", Type: "confirmation", ReceivedAt: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC),
			Envelope: json.RawMessage(`{"id":"` + id + `"}`), Record: json.RawMessage(`{"worker":"x"}`), Receipt: json.RawMessage(`{}`)}
	}
	if _, err := s.Receive(ctx, in); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneInbox(ctx, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 1<<63); err != nil || n != len(in) {
		t.Fatalf("PruneInbox = %d, %v; want %d", n, err, len(in))
	}
	last, err := s.Inbox(uint64(len(in)-1), 1)
	if err != nil || len(last) != 1 || last[0].PrunedAt.IsZero() || last[0].Record != nil {
		t.Errorf("last entry = %+v, %v; want it pruned", last, err)
	}
}

// TestPruneInboxReadsAgeFromArrivalOrder: an entry stamped out of order,
// while the clock was years ahead or had gone back, counts as received
// with the next entry in order after it: it neither holds back the
// entries after it nor goes before the one after it, and while none
// follows it, it stays.
func TestPruneInboxReadsAgeFromArrivalOrder(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openWith(t, Options{Now: func() time.Time { return now }})
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	receiveStamped(t, s, []time.Time{
		day(2026, 1, 1),
		day(2030, 1, 1), // the clock ahead by years: received before January 2nd
		day(2026, 1, 2), // corrected
		day(1970, 1, 1), // the clock reset: received before December 20th
		day(2026, 12, 20),
		day(1970, 1, 2), // reset again: received after December 20th, when is not known
	})
	for _, run := range []struct {
		now    time.Time
		pruned int
	}{
		{day(2027, 1, 1), 3},  // 90 days before: early October
		{day(2027, 3, 21), 2}, // 90 days before: December 21st
		{day(2035, 1, 1), 0},  // nothing in order after the last
	} {
		now = run.now
		if n, err := s.PruneInbox(ctx, now.Add(-90*24*time.Hour), 1<<63); err != nil || n != run.pruned {
			t.Fatalf("PruneInbox at %s = %d, %v; want %d pruned", now.Format(time.DateOnly), n, err, run.pruned)
		}
	}
	items, err := s.Inbox(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range items {
		if want := i < 5; !m.PrunedAt.IsZero() != want {
			t.Errorf("entry %d stamped %s: pruned = %v, want %v", m.Seq, m.ReceivedAt.Format(time.DateOnly), !want, want)
		}
	}
}

// TestPruneInboxPassesLongRunsOutOfOrder: more entries out of order in a
// row than one transaction prunes, as a clock ahead for a busy day makes,
// are pruned over several transactions with the entry in order after
// them, each read ahead once, and the call ends; entries out of order
// after the last in order stay.
func TestPruneInboxPassesLongRunsOutOfOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openWith(t, Options{Now: func() time.Time { return now }})
	stamps := []time.Time{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	for i := range 3 * pruneBatch {
		at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // the clock ahead
		if i%2 == 1 {
			at = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC) // or reset
		}
		stamps = append(stamps, at)
	}
	stamps = append(stamps, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	due := len(stamps)
	for range 5 {
		stamps = append(stamps, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	}
	receiveStamped(t, s, stamps)
	reads := 0
	counted := func(v []byte) (time.Time, error) {
		reads++
		return storedReceivedAt(v)
	}
	cutoff := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if n, err := s.pruneInbox(ctx, cutoff, 1<<63, nil, counted); err != nil || n != due {
		t.Fatalf("PruneInbox = %d, %v; want the first %d pruned", n, err, due)
	}
	if reads > len(stamps) {
		t.Errorf("read %d times of arrival for %d entries; want each read once", reads, len(stamps))
	}
	reads = 0
	if n, err := s.pruneInbox(ctx, cutoff, 1<<63, nil, counted); err != nil || n != 0 || reads != 0 {
		t.Errorf("PruneInbox again = %d, %v, reading %d times of arrival; want none pruned or read", n, err, reads)
	}
	last, err := s.Inbox(uint64(due), 10)
	if err != nil || len(last) != 5 {
		t.Fatalf("Inbox after %d = %d items, %v; want 5", due, len(last), err)
	}
	for _, m := range last {
		if !m.PrunedAt.IsZero() {
			t.Errorf("entry %d, out of order with no entry in order after it, pruned", m.Seq)
		}
	}
}

// TestPruneInboxNeverEarly: entries stamped ahead of the clock, when no
// entry in order follows them, are not due, however old the entry in
// order before them or without one; once one follows, they go with it.
func TestPruneInboxNeverEarly(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	const retention = 30 * 24 * time.Hour
	ahead := []time.Time{start.Add(time.Hour), start.Add(time.Hour), start.Add(time.Hour)} // the clock was an hour ahead, since corrected
	for _, tc := range []struct {
		name   string
		before []time.Time // received earlier, and pruned
	}{
		{"first run", nil},
		{"quiet inbox", []time.Time{start.Add(-40 * 24 * time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := start
			path := filepath.Join(t.TempDir(), "node.db")
			s := openAt(t, path, Options{Now: func() time.Time { return now }})
			receiveStamped(t, s, tc.before)
			if n, err := s.PruneInbox(ctx, now.Add(-retention), 1<<63); err != nil || n != len(tc.before) {
				t.Fatalf("PruneInbox of what came before = %d, %v; want %d", n, err, len(tc.before))
			}
			receiveStampedFrom(t, s, len(tc.before), ahead)
			if n, err := s.PruneInbox(ctx, now.Add(-retention), 1<<63); err != nil || n != 0 {
				t.Fatalf("PruneInbox = %d, %v; want the entries stamped ahead kept", n, err)
			}
			now = start.Add(24 * time.Hour)
			receiveStampedFrom(t, s, len(tc.before)+len(ahead), []time.Time{now})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openAt(t, path, Options{Now: func() time.Time { return now }})
			for _, c := range []struct {
				now    time.Time
				pruned int
			}{
				{start.Add(retention), 0},                             // past the stamps, not past the entry in order after them
				{start.Add(24*time.Hour + retention), 0},              // exactly the retention: not before
				{start.Add(25*time.Hour + retention), 1 + len(ahead)}, // with the entry after them
			} {
				now = c.now
				if n, err := s.PruneInbox(ctx, now.Add(-retention), 1<<63); err != nil || n != c.pruned {
					t.Fatalf("PruneInbox at %s = %d, %v; want %d", now, n, err, c.pruned)
				}
			}
		})
	}
}

// TestPruneInboxEndsRunsAtUpTo: entries out of order whose next entry in
// order lies past upTo are not due, even once read ahead past it.
func TestPruneInboxEndsRunsAtUpTo(t *testing.T) {
	ctx := context.Background()
	s := openWith(t, Options{Now: func() time.Time { return time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) }})
	ahead := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	receiveStamped(t, s, []time.Time{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ahead, ahead, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)})
	for _, c := range []struct {
		cutoff time.Time
		upTo   uint64
		pruned int
	}{
		{time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), 1 << 63, 1}, // reads the run through 4, not due
		{time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 3, 0},       // due, but ends past upTo
		{time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 4, 3},
	} {
		if n, err := s.PruneInbox(ctx, c.cutoff, c.upTo); err != nil || n != c.pruned {
			t.Fatalf("PruneInbox before %s through %d = %d, %v; want %d", c.cutoff.Format(time.DateOnly), c.upTo, n, err, c.pruned)
		}
	}
}

// TestPruneInboxConcurrently: two runs at once prune each entry once, the
// one that moves second planning again from where the first stopped.
func TestPruneInboxConcurrently(t *testing.T) {
	ctx := context.Background()
	s := openWith(t, Options{Now: func() time.Time { return time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) }})
	stamps := make([]time.Time, 2*pruneBatch+10)
	for i := range stamps {
		stamps[i] = time.Date(2026, 3, 1, 0, 0, i, 0, time.UTC)
		if i%3 == 1 {
			stamps[i] = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		}
	}
	receiveStamped(t, s, stamps)
	seen := map[uint64]int{} // written in transactions, which are one at a time
	count := func(_ *bolt.Tx, pruned []Incoming) error {
		for _, m := range pruned {
			seen[m.Seq]++
		}
		return nil
	}
	total := make(chan int, 2)
	for range 2 {
		go func() {
			n, err := s.PruneInboxAnd(ctx, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), 1<<63, count)
			if err != nil {
				t.Error(err)
			}
			total <- n
		}()
	}
	if n := <-total + <-total; n != len(stamps) || len(seen) != len(stamps) {
		t.Fatalf("pruned %d, %d entries given to also; want %d", n, len(seen), len(stamps))
	}
	for seq, times := range seen {
		if times != 1 {
			t.Errorf("entry %d given to also %d times", seq, times)
		}
	}
}

// receiveStamped stores an envelope from 51 received at each of stamps.
func receiveStamped(t *testing.T, s *Store, stamps []time.Time) {
	t.Helper()
	receiveStampedFrom(t, s, 0, stamps)
}

// receiveStampedFrom is receiveStamped numbering the envelopes' ids from
// first, after as many stored before.
func receiveStampedFrom(t *testing.T, s *Store, first int, stamps []time.Time) {
	t.Helper()
	if len(stamps) == 0 {
		return
	}
	in := make([]Incoming, len(stamps))
	for i, at := range stamps {
		id := fmt.Sprintf("01J000000000000000000F%04d", first+i)
		in[i] = Incoming{EnvelopeID: id, From: "51", Type: "transfer", ReceivedAt: at,
			Envelope: json.RawMessage(`{"id":"` + id + `"}`), Record: json.RawMessage(`{"worker":"x"}`), Receipt: json.RawMessage(`{}`)}
	}
	if _, err := s.Receive(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// TestPruneInboxAndWritesAlongside: also gets each entry it prunes as it
// was, in the pruning transaction, and an error from it leaves the entries
// whole and the next run starting from the same place.
func TestPruneInboxAndWritesAlongside(t *testing.T) {
	ctx := context.Background()
	s := openWith(t, Options{Now: func() time.Time { return time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }})
	received(t, s, 3)
	cutoff := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC) // the first two are due
	refuse := errors.New("audit log refused")
	if _, err := s.PruneInboxAnd(ctx, cutoff, 1<<63, func(*bolt.Tx, []Incoming) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("PruneInboxAnd with a failing also = %v, want %v", err, refuse)
	}
	var got []Incoming
	n, err := s.PruneInboxAnd(ctx, cutoff, 1<<63, func(tx *bolt.Tx, pruned []Incoming) error {
		got = append(got, pruned...)
		return nil
	})
	if err != nil || n != 2 || len(got) != 2 {
		t.Fatalf("PruneInboxAnd = %d, %v with %d given to also; want 2 and 2", n, err, len(got))
	}
	for i, m := range got {
		if m.Seq != uint64(i+1) || len(m.Record) == 0 || !m.PrunedAt.IsZero() {
			t.Errorf("also got %+v, want entry %d as it was before pruning", m, i+1)
		}
	}
}
