package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.db")
	return openAt(t, path, Options{}), path
}

// openWith opens a store with opts in a directory of its own, closed when
// the test or benchmark ends.
func openWith(tb testing.TB, opts Options) *Store {
	tb.Helper()
	return openAt(tb, filepath.Join(tb.TempDir(), "node.db"), opts)
}

func openAt(tb testing.TB, path string, opts Options) *Store {
	tb.Helper()
	s, err := Open(path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func outgoing(i int, peer string) Outgoing {
	return Outgoing{
		EnvelopeID: fmt.Sprintf("01ENV%05d", i),
		Ref:        fmt.Sprintf("51/transfer/T-%d", i),
		Type:       "transfer",
		Peer:       peer,
		Envelope:   []byte(fmt.Sprintf(`{"id":"01ENV%05d"}`, i)),
	}
}

func TestEnqueueIsIdempotentByReference(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	first, err := s.Enqueue(ctx, []Outgoing{outgoing(1, "44")})
	if err != nil {
		t.Fatal(err)
	}
	again := outgoing(1, "44")
	again.EnvelopeID = "01OTHER"
	res, err := s.Enqueue(ctx, []Outgoing{again, again})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !r.Duplicate || r.EnvelopeID != first[0].EnvelopeID {
			t.Errorf("result %d = %+v, want duplicate of %s", i, r, first[0].EnvelopeID)
		}
	}
	pending, err := s.Pending("44", 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 {
		t.Fatalf("pending = %d envelopes, want 1", len(pending))
	}
}

func TestDuplicateInsideOneBatch(t *testing.T) {
	s, _ := openTest(t)
	a, b := outgoing(1, "44"), outgoing(1, "44")
	b.EnvelopeID = "01SECOND"
	res, err := s.Enqueue(context.Background(), []Outgoing{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Duplicate || !res[1].Duplicate || res[1].EnvelopeID != a.EnvelopeID {
		t.Errorf("results = %+v", res)
	}
}

func TestOutboxSurvivesReopenAndDrainsOnDelivery(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	var msgs []Outgoing
	for i := range 5 {
		msgs = append(msgs, outgoing(i, "44"))
	}
	msgs = append(msgs, outgoing(99, "33"))
	if _, err := s.Enqueue(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	depth := s.Depth()
	if depth["44"] != 5 || depth["33"] != 1 {
		t.Fatalf("depth after reopen = %v", depth)
	}
	pending, _ := s.Pending("44", 3, nil)
	if len(pending) != 3 || pending[0].EnvelopeID != "01ENV00000" || pending[2].EnvelopeID != "01ENV00002" {
		t.Fatalf("pending = %+v", pending)
	}
	// Envelopes in flight are passed over, and the limit counts the others.
	inFlight := func(id string) bool { return id == "01ENV00000" || id == "01ENV00002" }
	if rest, _ := s.Pending("44", 2, inFlight); len(rest) != 2 || rest[0].EnvelopeID != "01ENV00001" || rest[1].EnvelopeID != "01ENV00003" {
		t.Fatalf("pending past those in flight = %+v", rest)
	}
	// A full batch or nothing: three are there to take.
	for limit, want := range map[int]int{2: 2, 3: 3, 4: 0, 10: 0} {
		if full, err := s.PendingFull("44", limit, inFlight); err != nil || len(full) != want || want > 0 && full[0].EnvelopeID != "01ENV00001" {
			t.Errorf("PendingFull(limit %d) = %+v, %v; want %d envelopes", limit, full, err, want)
		}
	}
	if err := s.MarkDelivered(ctx, "44", []Delivered{{EnvelopeID: pending[0].EnvelopeID, Receipt: []byte(`{"status":"stored"}`)}}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Status(pending[0].EnvelopeID)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateDelivered || string(st.Receipt) != `{"status":"stored"}` || st.DeliveredAt.IsZero() {
		t.Errorf("status = %+v", st)
	}
	if depth := s.Depth(); depth["44"] != 4 {
		t.Errorf("depth after one delivery = %v", depth)
	}
}

func TestMarkDeliveredUnknownChangesNothing(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if _, err := s.Enqueue(ctx, []Outgoing{outgoing(1, "44")}); err != nil {
		t.Fatal(err)
	}
	err := s.MarkDelivered(ctx, "44", []Delivered{{EnvelopeID: "01ENV00001"}, {EnvelopeID: "01NOPE"}})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
	if st, _ := s.Status("01ENV00001"); st.State != StateAccepted {
		t.Errorf("known record changed to %s by a failed batch", st.State)
	}
}

func TestReceiveDeduplicates(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	in := Incoming{EnvelopeID: "01A", From: "51", Type: "transfer", Envelope: []byte(`{}`), Receipt: []byte(`"r1"`)}
	first, err := s.Receive(ctx, []Incoming{in})
	if err != nil {
		t.Fatal(err)
	}
	in.Receipt = []byte(`"r2"`)
	again, err := s.Receive(ctx, []Incoming{in, {EnvelopeID: "01B", From: "51", Type: "transfer", Envelope: []byte(`{}`), Receipt: []byte(`"r3"`)}})
	if err != nil {
		t.Fatal(err)
	}
	if !again[0].Duplicate || again[0].Seq != first[0].Seq || string(again[0].Receipt) != `"r1"` {
		t.Errorf("redelivery = %+v, want duplicate with the first receipt", again[0])
	}
	if again[1].Duplicate || again[1].Seq != first[0].Seq+1 {
		t.Errorf("new envelope = %+v", again[1])
	}
	items, err := s.Inbox(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 {
		t.Fatalf("inbox has %d items, want 2", len(items))
	}
	rest, _ := s.Inbox(items[0].Seq, 10)
	if len(rest) != 1 || rest[0].EnvelopeID != "01B" {
		t.Errorf("inbox after cursor = %+v", rest)
	}
}

// TestInboxAfterTheLastCursorIsEmpty: a cursor at the largest value has
// nothing after it; it must not wrap to the first page, or a pager loops.
func TestInboxAfterTheLastCursorIsEmpty(t *testing.T) {
	s, _ := openTest(t)
	if _, err := s.Receive(context.Background(), []Incoming{{EnvelopeID: "01A", From: "51", Type: "transfer", Envelope: []byte(`{}`), Receipt: []byte(`"r1"`)}}); err != nil {
		t.Fatal(err)
	}
	if items, err := s.Inbox(math.MaxUint64, 10); err != nil || len(items) != 0 {
		t.Errorf("inbox after cursor %d = %d items, %v; want none", uint64(math.MaxUint64), len(items), err)
	}
}

func TestConcurrentEnqueueGroupCommits(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			if _, err := s.Enqueue(ctx, []Outgoing{outgoing(i, "44")}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if depth := s.Depth(); depth["44"] != 200 {
		t.Errorf("depth = %v, want 200", depth)
	}
}

func TestAnswersAndCounters(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	o := outgoing(1, "44")
	if _, err := s.Enqueue(ctx, []Outgoing{o}); err != nil {
		t.Fatal(err)
	}
	a := Answer{EnvelopeID: "01CONF", Type: "confirmation", Summary: []byte(`{"employed":true}`)}
	for range 2 {
		if err := s.AddAnswer(ctx, o.Ref, "44", a); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := s.Status(o.EnvelopeID)
	if len(st.Answers) != 1 || st.Answers[0].EnvelopeID != "01CONF" {
		t.Errorf("answers = %+v", st.Answers)
	}
	if err := s.AddAnswer(ctx, "51/transfer/none", "44", a); !errors.Is(err, ErrNotFound) {
		t.Errorf("answer to unknown ref: err = %v", err)
	}
	forged := Answer{EnvelopeID: "01FORGED", Type: "confirmation"}
	if err := s.AddAnswer(ctx, o.Ref, "33", forged); !errors.Is(err, ErrNotAnswerable) {
		t.Errorf("answer from a province the record did not go to: err = %v", err)
	}
	if st, _ := s.Status(o.EnvelopeID); len(st.Answers) != 1 {
		t.Errorf("a forged answer was linked: %+v", st.Answers)
	}
	for want := uint64(1); want <= 3; want++ {
		got, err := s.Increment(ctx, "quota/AG-1/transfer/2026", 1)
		if err != nil || got != want {
			t.Fatalf("increment = %d, %v; want %d", got, err, want)
		}
	}
	if v, _ := s.Counter("quota/AG-1/transfer/2026"); v != 3 {
		t.Errorf("counter = %d", v)
	}
}

func TestClosedStoreRefusesWrites(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "x.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Enqueue(context.Background(), []Outgoing{outgoing(1, "44")}); err == nil {
		t.Error("enqueue on a closed store succeeded")
	}
}

func BenchmarkEnqueueParallel(b *testing.B) {
	s := openWith(b, Options{})
	ctx := context.Background()
	var n int64
	var mu sync.Mutex
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			i := n
			mu.Unlock()
			o := outgoing(int(i), "44")
			o.Envelope = make([]byte, 1500)
			if _, err := s.Enqueue(ctx, []Outgoing{o}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestWritesAlongside: EnqueueAnd and ReceiveAnd run the caller's writes in
// their transaction once duplicates are known, and an error from them leaves
// nothing written.
func TestWritesAlongside(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	if _, err := s.Enqueue(ctx, []Outgoing{outgoing(1, "44")}); err != nil {
		t.Fatal(err)
	}
	var fresh []bool
	_, err := s.EnqueueAnd(ctx, []Outgoing{outgoing(1, "44"), outgoing(2, "44"), outgoing(2, "44")}, func(tx *bolt.Tx, enq []Enqueued) error {
		for _, e := range enq {
			fresh = append(fresh, !e.Duplicate)
		}
		b, err := tx.CreateBucketIfNotExists([]byte("alongside"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	if err != nil || fmt.Sprint(fresh) != "[false true false]" {
		t.Fatalf("EnqueueAnd: err %v, fresh %v", err, fresh)
	}
	if err := s.DB().View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("alongside")).Get([]byte("k")) == nil {
			return errors.New("the caller's write is missing")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("refused")
	if _, err := s.EnqueueAnd(ctx, []Outgoing{outgoing(3, "44")}, func(*bolt.Tx, []Enqueued) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("EnqueueAnd error: %v", err)
	}
	if _, err := s.Lookup(outgoing(3, "44").Ref); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused enqueue left its record: %v", err)
	}

	in := func(id string) Incoming {
		return Incoming{EnvelopeID: id, From: "51", Type: "transfer", Envelope: json.RawMessage(`{}`), Record: json.RawMessage(`{}`), Receipt: json.RawMessage(`{"for":"` + id + `"}`)}
	}
	if _, err := s.Receive(ctx, []Incoming{in("A")}); err != nil {
		t.Fatal(err)
	}
	var dups []bool
	got, err := s.ReceiveAnd(ctx, []Incoming{in("A"), in("B"), in("B")}, func(_ *bolt.Tx, got []Received) error {
		for _, r := range got {
			dups = append(dups, r.Duplicate)
		}
		return nil
	})
	if err != nil || fmt.Sprint(dups) != "[true false true]" || got[1].Seq != got[2].Seq || string(got[2].Receipt) != `{"for":"B"}` {
		t.Fatalf("ReceiveAnd: err %v, duplicates %v, got %+v", err, dups, got)
	}
	if _, err := s.ReceiveAnd(ctx, []Incoming{in("C")}, func(*bolt.Tx, []Received) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("ReceiveAnd error: %v", err)
	}
	if _, err := s.InboxItem("C"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused receive left its envelope: %v", err)
	}
}

// TestOutboxKeepsSigningDigests: an envelope queued with a signing digest
// comes back with it, one without comes back as it was stored.
func TestOutboxKeepsSigningDigests(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	signed, unsigned := outgoing(1, "44"), toSign(t, outgoing(2, "44"), bytes.Repeat([]byte{7}, 32))
	if _, err := s.Enqueue(ctx, []Outgoing{signed, unsigned}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Pending("44", 10, nil)
	if err != nil || len(got) != 2 {
		t.Fatalf("pending: %v %v", got, err)
	}
	if got[0].SigningDigest != nil || !bytes.Equal(got[0].Envelope, signed.Envelope) {
		t.Errorf("signed envelope came back as %+v", got[0])
	}
	if !bytes.Equal(got[1].SigningDigest, unsigned.SigningDigest) || !bytes.Equal(got[1].Envelope, unsigned.Envelope) {
		t.Errorf("unsigned envelope came back as %+v", got[1])
	}
}

// TestReceiveDeduplicatesPerOrigin: an envelope id another province used
// first does not make the real envelope a duplicate.
func TestReceiveDeduplicatesPerOrigin(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	squat := Incoming{EnvelopeID: "01REAL", From: "33", Type: "transfer", Envelope: []byte(`{}`), Record: []byte(`{}`), Receipt: []byte(`"squat"`)}
	real := Incoming{EnvelopeID: "01REAL", From: "51", Type: "transfer", Envelope: []byte(`{}`), Record: []byte(`{}`), Receipt: []byte(`"real"`)}
	if _, err := s.Receive(ctx, []Incoming{squat}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Receive(ctx, []Incoming{real})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Duplicate || string(got[0].Receipt) != `"real"` {
		t.Fatalf("the real envelope was taken for a duplicate: %+v", got[0])
	}
	again, _ := s.Receive(ctx, []Incoming{real})
	if !again[0].Duplicate || again[0].Seq != got[0].Seq {
		t.Errorf("redelivery of the real envelope: %+v", again[0])
	}
}

// TestReceiveRefusesAnIDThatIsAnotherOriginsKey: the received bucket keys
// an envelope by origin "/" id and by its bare id, so an id holding a '/'
// ("51/01REAL" from 33) is refused: stored, it would take the key of
// 51's envelope 01REAL, which would then be taken for a duplicate of it,
// never stored, and answered with 33's receipt.
func TestReceiveRefusesAnIDThatIsAnotherOriginsKey(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	squat := Incoming{EnvelopeID: "51/01REAL", From: "33", Type: "transfer", Envelope: []byte(`{}`), Record: []byte(`{}`), Receipt: []byte(`"squat"`)}
	real := Incoming{EnvelopeID: "01REAL", From: "51", Type: "transfer", Envelope: []byte(`{}`), Record: []byte(`{}`), Receipt: []byte(`"real"`)}
	if _, err := s.Receive(ctx, []Incoming{squat}); err == nil || !strings.Contains(err.Error(), "'/'") {
		t.Errorf("receive %q: %v; want it refused for its '/'", squat.EnvelopeID, err)
	}
	got, err := s.Receive(ctx, []Incoming{real})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Duplicate || string(got[0].Receipt) != `"real"` {
		t.Fatalf("the real envelope was taken for a duplicate: %+v", got[0])
	}
	if m, err := s.InboxItemFrom(real.From, real.EnvelopeID); err != nil || string(m.Receipt) != `"real"` {
		t.Errorf("51's envelope reads back as %+v, %v; want it", m, err)
	}
}

// TestStatusWrittenWithItsAnswer: a status stored before answers were kept
// in their own bucket, holding the answer itself, reads as it was written;
// one marked delivered since reads with the answer from its bucket.
func TestStatusWrittenWithItsAnswer(t *testing.T) {
	s, _ := openTest(t)
	old := `{"envelope_id":"01OLD","ref":"51/transfer/T-OLD","type":"transfer","peer":"44","state":"delivered","accepted_at":"2026-01-02T03:04:05Z","delivered_at":"2026-01-02T03:04:06Z","receipt":{"status":"stored"}}`
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRecords).Put([]byte("01OLD"), []byte(old))
	}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Status("01OLD")
	if err != nil || st.State != StateDelivered || string(st.Receipt) != `{"status":"stored"}` || st.DeliveredAt.IsZero() {
		t.Fatalf("old status = %+v, %v", st, err)
	}

	ctx := context.Background()
	if _, err := s.Enqueue(ctx, []Outgoing{outgoing(1, "44")}); err != nil {
		t.Fatal(err)
	}
	id := outgoing(1, "44").EnvelopeID
	if err := s.MarkDelivered(ctx, "44", []Delivered{{EnvelopeID: id, Rejected: true, Reasons: []string{"policy_denied"}}}); err != nil {
		t.Fatal(err)
	}
	st, err = s.Status(id)
	if err != nil || st.State != StateRejected || !slices.Equal(st.Reasons, []string{"policy_denied"}) || st.Ref == "" || st.AcceptedAt.IsZero() || st.DeliveredAt.IsZero() {
		t.Fatalf("rejected status = %+v, %v", st, err)
	}
}

// TestPageSizeOfNewAndExistingFiles: a new store gets PageSize; a file made
// with bbolt's default 4 KiB pages opens with them and keeps its data.
func TestPageSizeOfNewAndExistingFiles(t *testing.T) {
	s, _ := openTest(t)
	if got := s.db.Info().PageSize; got != PageSize {
		t.Errorf("new store: page size %d, want %d", got, PageSize)
	}

	path := filepath.Join(t.TempDir(), "old.db")
	old, err := bolt.Open(path, 0o600, &bolt.Options{PageSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	err = old.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketCounters)
		if err != nil {
			return err
		}
		return b.Put([]byte("kept"), []byte{0, 0, 0, 0, 0, 0, 0, 7})
	})
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := s2.db.Info().PageSize; got != 4096 {
		t.Errorf("existing store: page size %d, want the 4096 it was made with", got)
	}
	if n, err := s2.Counter("kept"); err != nil || n != 7 {
		t.Errorf("existing store's counter = %d, %v; want 7", n, err)
	}
}

// TestDepthKeepsStepWithTheOutbox: the counts Depth answers from match a
// count of the outbox after concurrent enqueues (with duplicates and a
// failing extra write), answers (some twice) and a reopen.
func TestDepthKeepsStepWithTheOutbox(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	check := func(s *Store, when string) {
		t.Helper()
		got := s.Depth()
		if want := s.counted(t, bucketOutbox); !maps.Equal(got, want) {
			t.Errorf("%s: depth %v, outbox holds %v", when, got, want)
		}
	}
	peers := []string{"44", "33"}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < 400; i += 8 {
				msgs := []Outgoing{outgoing(i, peers[i%2]), outgoing(i/2, peers[i%2])} // the second often a duplicate
				if i%50 == 0 {
					s.EnqueueAnd(ctx, msgs, func(*bolt.Tx, []Enqueued) error { return errors.New("refused") })
					continue
				}
				if _, err := s.Enqueue(ctx, msgs); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	check(s, "after enqueues")
	for _, peer := range peers {
		// Each peer holds 96 envelopes at least: which peer an id
		// enqueued twice goes to is the race's, but ids 200 and up go to
		// one peer only. Answering 50 leaves both with some.
		pending, err := s.Pending(peer, 50, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ds []Delivered
		for _, q := range pending {
			ds = append(ds, Delivered{EnvelopeID: q.EnvelopeID})
		}
		if err := s.MarkDelivered(ctx, peer, ds); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkDelivered(ctx, peer, ds[:10]); err != nil { // a redelivered answer
			t.Fatal(err)
		}
	}
	check(s, "after answers")
	if d := s.Depth(); d["44"] == 0 || d["33"] == 0 {
		t.Fatalf("depth %v: the test should leave envelopes queued for both peers", d)
	}
	s.Close()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s, "after reopening")
}

// TestRecordAnd: progress is written with the task's own writes or not at
// all, and a counter is only ever raised.
func TestRecordAnd(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	put := func(v string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket(bucketMarks).Put([]byte("work"), []byte(v)) }
	}
	if err := s.RecordAnd(ctx, Progress{Counters: map[string]uint64{"index": 7}, Marks: map[string]string{"rev": "a"}}, put("one")); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	err := s.RecordAnd(ctx, Progress{Counters: map[string]uint64{"index": 9}, Marks: map[string]string{"rev": "b"}}, func(*bolt.Tx) error { return refused })
	if !errors.Is(err, refused) {
		t.Fatalf("a failing task: %v", err)
	}
	if err := s.RecordAnd(ctx, Progress{Counters: map[string]uint64{"index": 5}}, nil); err != nil {
		t.Fatal(err)
	}
	index, _ := s.Counter("index")
	rev, _ := s.Mark("rev")
	work, _ := s.Mark("work")
	if index != 7 || rev != "a" || work != "one" {
		t.Errorf("index %d, rev %q, work %q; want 7, a, one", index, rev, work)
	}
}

// TestQuotaTakesEachRecordOnce: a record over quota is not stored, so a
// later record of the same reference in the same call is decided on its
// own (over quota too), never answered as a duplicate of an envelope that
// does not exist; and a record carrying one counter twice (two quotas on
// the same records and period) is held to the stricter limit and counted
// once.
func TestQuotaTakesEachRecordOnce(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	with := func(i int, ref string, cs ...Counter) Outgoing {
		o := outgoing(i, "44")
		o.Ref, o.Counters = ref, cs
		return o
	}
	one := Counter{Name: "q1", Max: 1}
	if _, err := s.Enqueue(ctx, []Outgoing{with(0, "r0", one)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Enqueue(ctx, []Outgoing{with(1, "r1", one), with(2, "r1", one)})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range got {
		if !e.OverQuota || e.Duplicate {
			t.Errorf("record %d of a reference over quota: %+v, want over quota and no duplicate", i, e)
		}
	}
	got, err = s.Enqueue(ctx, []Outgoing{with(3, "r3", Counter{Name: "q2", Max: 10}, Counter{Name: "q2", Max: 2})})
	if err != nil || got[0].OverQuota {
		t.Fatalf("a record under both limits: %+v, %v", got, err)
	}
	if n, err := s.Counter("q2"); err != nil || n != 1 {
		t.Errorf("counter after one record: %d, %v; want 1", n, err)
	}
	got, err = s.Enqueue(ctx, []Outgoing{with(4, "r4", Counter{Name: "q2", Max: 10}, Counter{Name: "q2", Max: 2}), with(5, "r5", Counter{Name: "q2", Max: 10}, Counter{Name: "q2", Max: 2})})
	if err != nil || got[0].OverQuota || !got[1].OverQuota {
		t.Errorf("the second and third records under a stricter limit of 2: %+v, %v; want the third over quota", got, err)
	}
}

// TestEnqueueRefusesABadKeyBeforeWriting: a record whose reference (or
// envelope id, peer, counter name) cannot be a key fails the whole call
// before anything is written: no earlier record of the call is stored or
// counted.
func TestEnqueueRefusesABadKeyBeforeWriting(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	q := Counter{Name: "q", Max: 10}
	good, bad := outgoing(1, "44"), outgoing(2, "44")
	good.Counters, bad.Counters = []Counter{q}, []Counter{q}
	bad.Ref = ""
	_, err := s.Enqueue(ctx, []Outgoing{good, bad})
	if err == nil || !strings.Contains(err.Error(), "record 1") || !strings.Contains(err.Error(), "no reference") {
		t.Fatalf("enqueue with an empty reference: %v; want it refused naming record 1 and the reference", err)
	}
	if _, err := s.Status(good.EnvelopeID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the good record of the refused call: %v; want not stored", err)
	}
	if n, err := s.Counter("q"); err != nil || n != 0 {
		t.Errorf("counter %d, %v; want 0", n, err)
	}
	// Each problem of one record names it once.
	bad.Peer = ""
	_, err = s.Enqueue(ctx, []Outgoing{good, bad})
	if err == nil || strings.Count(err.Error(), "record 1 (") != 2 || strings.Contains(err.Error(), "record 1 1") {
		t.Errorf("enqueue with no reference and no peer: %v; want each problem naming record 1 once", err)
	}
}

// TestInboxPagesLargeItemsByBytes: a page of a thousand items of the
// largest records, held whole to be answered, would take a node far past
// its memory limit; a page ends once its items add up to MaxInboxPage,
// and the next page goes on from its last item, skipping none. (From a
// review of the local API.)
func TestInboxPagesLargeItemsByBytes(t *testing.T) {
	s, _ := openTest(t)
	big := []byte(`"` + strings.Repeat("x", 1<<20) + `"`) // 1 MiB and a bit
	const n = 20
	for i := range n {
		in := Incoming{EnvelopeID: fmt.Sprintf("01A%03d", i), From: "51", Type: "transfer", Envelope: big, Receipt: []byte(`"r"`)}
		if _, err := s.Receive(context.Background(), []Incoming{in}); err != nil {
			t.Fatal(err)
		}
	}
	var pages []int
	seen := 0
	for after := uint64(0); ; {
		items, err := s.Inbox(after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			if want := fmt.Sprintf("01A%03d", seen); it.EnvelopeID != want {
				t.Fatalf("item %d of the pages is %s; want %s", seen, it.EnvelopeID, want)
			}
			seen++
		}
		pages = append(pages, len(items))
		after = items[len(items)-1].Seq
	}
	if seen != n || len(pages) < 3 || pages[0] > MaxInboxPage/(1<<20)+1 {
		t.Errorf("%d items read in pages of %v; want all %d, at most %d a page", seen, pages, n, MaxInboxPage/(1<<20)+1)
	}
}

// TestReceiveRefusesABadKeyBeforeWriting: an envelope whose id (or case
// key, counter name) cannot be a key fails the whole call before anything
// is written, as Enqueue's records do: bbolt refusing the key midway
// through the writes would leave the envelopes before it stored, their
// counters not taken, and the caller told none was.
func TestReceiveRefusesABadKeyBeforeWriting(t *testing.T) {
	q := []Counter{{Name: "q", Max: 10}}
	key := CaseKey("44", "51", "RF-1")
	in := func(id string) Incoming {
		return Incoming{EnvelopeID: id, From: "51", Type: "referral", Envelope: []byte(`{}`), Receipt: []byte(`"r"`), Counters: q,
			Case: &CaseChange{Key: key, Apply: func(*Case) (*Case, error) { return &Case{Key: key, Status: "referred"}, nil }}}
	}
	for _, tc := range []struct {
		name, want string
		bad        func(*Incoming)
	}{
		{"no envelope id", "no envelope id", func(m *Incoming) { m.EnvelopeID = "" }},
		{"envelope id too long", "too long for a key", func(m *Incoming) { m.EnvelopeID = strings.Repeat("X", bolt.MaxKeySize) }},
		{"no case key", "no case key", func(m *Incoming) { m.Case = &CaseChange{Apply: m.Case.Apply} }},
		{"no counter name", "no counter name", func(m *Incoming) { m.Counters = []Counter{{}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTest(t)
			bad := in("01B")
			tc.bad(&bad)
			_, err := s.Receive(context.Background(), []Incoming{in("01A"), bad})
			if err == nil || !strings.Contains(err.Error(), "envelope 1") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("receive: %v; want it refused naming envelope 1 and %q", err, tc.want)
			}
			if items, err := s.Inbox(0, 10); err != nil || len(items) != 0 {
				t.Errorf("inbox holds %d items, %v; want none", len(items), err)
			}
			if stored, _, err := s.Received("51", []string{"01A"}); err != nil || stored[0] {
				t.Errorf("01A known as received: %v, %v; want not", stored, err)
			}
			if _, err := s.Case(key, time.Now()); !errors.Is(err, ErrNotFound) {
				t.Errorf("case: %v; want not found", err)
			}
			if n, err := s.Counter("q"); err != nil || n != 0 {
				t.Errorf("counter %d, %v; want 0", n, err)
			}
		})
	}
}

// TestEnqueueRefusesAnEnvelopeIDTaken: a new reference under an envelope id
// another record has, stored before or earlier in the call, fails the call
// with nothing written: stored, it would overwrite that record's status
// and outbox entry, and count one more envelope queued than there is.
func TestEnqueueRefusesAnEnvelopeIDTaken(t *testing.T) {
	ctx := context.Background()
	first := outgoing(1, "44")
	again := outgoing(1, "45")
	again.Ref, again.Envelope = "51/transfer/other", []byte(`{"other":true}`)
	for _, tc := range []struct {
		name   string
		before []Outgoing // stored first
		call   []Outgoing
	}{
		{"stored before", []Outgoing{first}, []Outgoing{outgoing(2, "45"), again}},
		{"in the call", nil, []Outgoing{first, again}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := openTest(t)
			if _, err := s.Enqueue(ctx, tc.before); err != nil {
				t.Fatal(err)
			}
			_, err := s.Enqueue(ctx, tc.call)
			if err == nil || !strings.Contains(err.Error(), "record 1") || !strings.Contains(err.Error(), first.EnvelopeID) {
				t.Errorf("enqueue: %v; want it refused naming record 1 and its envelope id", err)
			}
			want := map[string]int{}
			for _, m := range tc.before {
				want[m.Peer]++
			}
			if got := s.Depth(); !maps.Equal(got, want) {
				t.Errorf("depth %v; want %v", got, want)
			}
			if _, err := s.Lookup(again.Ref); !errors.Is(err, ErrNotFound) {
				t.Errorf("the reused id's reference: %v; want not found", err)
			}
			if len(tc.before) > 0 {
				if st, err := s.Status(first.EnvelopeID); err != nil || st.Ref != first.Ref || st.Peer != first.Peer {
					t.Errorf("the first record's status %+v, %v; want its own", st, err)
				}
				if q, err := s.Pending(first.Peer, 10, nil); err != nil || len(q) != 1 || !bytes.Equal(q[0].Envelope, first.Envelope) {
					t.Errorf("queued for %s: %+v, %v; want the first record's envelope", first.Peer, q, err)
				}
			}
			s.Close()
			if got := openAt(t, path, Options{}).Depth(); !maps.Equal(got, want) {
				t.Errorf("depth after reopening %v; want %v", got, want)
			}
		})
	}
}

// TestDenyWritesNothingItCannotFinish: a denial under an envelope id
// another record has, or one that cannot be a key, fails before its
// writes alongside (the denial's audit entry) are made: it would
// overwrite that record's status, or leave the entry written and the
// status not, and its caller told nothing was stored.
func TestDenyWritesNothingItCannotFinish(t *testing.T) {
	ctx := context.Background()
	accepted := outgoing(1, "44")
	bucket := []byte("alongside")
	for _, tc := range []struct{ name, id, want string }{
		{"envelope id taken", accepted.EnvelopeID, accepted.EnvelopeID},
		{"no envelope id", "", "no envelope id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTest(t)
			if _, err := s.Enqueue(ctx, []Outgoing{accepted}); err != nil {
				t.Fatal(err)
			}
			also := func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists(bucket)
				if err != nil {
					return err
				}
				return b.Put([]byte("entry"), []byte("denied"))
			}
			err := s.DenyAnd(ctx, Status{EnvelopeID: tc.id, Ref: "51/transfer/denied", Type: "transfer", Peer: "44", Reasons: []string{"r"}}, also)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("deny: %v; want it refused naming %q", err, tc.want)
			}
			if st, err := s.Status(accepted.EnvelopeID); err != nil || st.State != StateAccepted || st.Ref != accepted.Ref {
				t.Errorf("the accepted record's status %+v, %v; want it as accepted", st, err)
			}
			err = s.View(func(tx *bolt.Tx) error {
				if b := tx.Bucket(bucket); b != nil && b.Get([]byte("entry")) != nil {
					return errors.New("the write alongside was made")
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
}

// TestEnqueueRefusesAPeerHoldingASlash: an outbox key is peer "/" envelope
// id, so a record for peer "44/x" is refused: queued, it would be one of
// 44's envelopes (Pending), and counted as 44's once the store reopens.
func TestEnqueueRefusesAPeerHoldingASlash(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	m := outgoing(1, "44/x")
	if _, err := s.Enqueue(ctx, []Outgoing{m}); err == nil || !strings.Contains(err.Error(), "record 0") || !strings.Contains(err.Error(), "'/'") {
		t.Errorf("enqueue for peer %q: %v; want it refused for its '/'", m.Peer, err)
	}
	if q, err := s.Pending("44", 10, nil); err != nil || len(q) != 0 {
		t.Errorf("queued for 44: %d envelopes, %v; want none", len(q), err)
	}
	s.Close()
	if got := openAt(t, path, Options{}).Depth(); len(got) != 0 {
		t.Errorf("depth after reopening %v; want none", got)
	}
}
