package store

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// putCase stores c under its key, whatever is there.
func putCase(t *testing.T, s *Store, c *Case) {
	t.Helper()
	refused, err := s.PutCases(context.Background(), []*CaseChange{{Key: c.Key, Apply: func(*Case) (*Case, error) { return c, nil }}})
	if err != nil || refused != nil {
		t.Fatalf("put case %s: %v, %v", c.Key, refused, err)
	}
}

// TestPutCasesCommitsOnce: changes of several cases are made in one
// commit, each seeing those before it; one refused changes nothing and
// the others are written; changes that change nothing write nothing, and
// with no change to make nothing is committed.
func TestPutCasesCommitsOnce(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	a, b := CaseKey("51", "44", "RF-1"), CaseKey("51", "44", "RF-2")
	put := func(key, status string) *CaseChange {
		return &CaseChange{Key: key, Apply: func(*Case) (*Case, error) { return &Case{Key: key, Status: status}, nil }}
	}
	move := func(key, from, to string) *CaseChange {
		return &CaseChange{Key: key, Apply: func(c *Case) (*Case, error) {
			switch {
			case c == nil || c.Status != from && c.Status != to:
				return nil, errors.New("cannot move")
			case c.Status == to:
				return nil, nil // made already
			}
			c.Status = to
			return c, nil
		}}
	}
	writes := func() int64 { st := s.db.Stats(); return st.TxStats.GetWrite() }
	before := writes()
	refused, err := s.PutCases(ctx, []*CaseChange{put(a, "referred"), move(a, "referred", "accepted"), move(b, "referred", "accepted"), put(b, "referred")})
	if err != nil || len(refused) != 4 || refused[0] != nil || refused[1] != nil || refused[2] == nil || refused[3] != nil {
		t.Fatalf("PutCases: %v, %v; want the third change refused alone", refused, err)
	}
	if n := writes() - before; n == 0 {
		t.Fatal("PutCases wrote nothing")
	}
	for key, want := range map[string]string{a: "accepted", b: "referred"} {
		if c, err := s.Case(key, time.Now()); err != nil || c.Status != want {
			t.Errorf("case %s: %+v, %v; want %s", key, c, err, want)
		}
	}
	if refused, err := s.PutCases(ctx, []*CaseChange{move(a, "referred", "accepted"), move(a, "referred", "accepted")}); err != nil || refused != nil {
		t.Fatalf("PutCases of changes made already: %v, %v", refused, err)
	}
	if c, err := s.Case(a, time.Now()); err != nil || c.Status != "accepted" {
		t.Errorf("case %s after changes made already: %+v, %v", a, c, err)
	}
	before = writes()
	if refused, err := s.PutCases(ctx, nil); err != nil || refused != nil {
		t.Fatalf("PutCases of nothing: %v, %v", refused, err)
	}
	if n := writes() - before; n != 0 {
		t.Errorf("PutCases of nothing wrote %d times", n)
	}
}

// TestPutCasesRefusesAKeyItCannotWrite: a change under a key bbolt
// refuses is refused alone, and the others are written; the put failed
// the whole commit after writing some of them.
func TestPutCasesRefusesAKeyItCannotWrite(t *testing.T) {
	s, _ := openTest(t)
	good := CaseKey("51", "44", "RF-1")
	put := func(key string) *CaseChange {
		return &CaseChange{Key: key, Apply: func(*Case) (*Case, error) { return &Case{Key: key, Status: "referred"}, nil }}
	}
	refused, err := s.PutCases(context.Background(), []*CaseChange{put(good), put(""), put(strings.Repeat("k", bolt.MaxKeySize+1))})
	if err != nil || len(refused) != 3 || refused[0] != nil || refused[1] == nil || refused[2] == nil {
		t.Fatalf("PutCases: %v, %v; want the last two refused alone", refused, err)
	}
	if c, err := s.Case(good, time.Now()); err != nil || c == nil || c.Status != "referred" {
		t.Errorf("case %s: %+v, %v; want it written", good, c, err)
	}
}

// TestCasesByKey: the cases of keys come back in the keys' order, nil for
// a key with no case, also before any case was stored; each as Case
// returns it, overdue computed.
func TestCasesByKey(t *testing.T) {
	s, _ := openTest(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	a, b := CaseKey("51", "44", "RF-1"), CaseKey("44", "51", "RF-2")
	got, unreadable, err := s.CasesByKey([]string{a, b}, now)
	if err != nil || unreadable != nil || len(got) != 2 || got[0] != nil || got[1] != nil {
		t.Fatalf("before any case: %v, %v, %v; want two nils", got, unreadable, err)
	}
	put := func(key, status, deadline string) {
		t.Helper()
		putCase(t, s, &Case{Key: key, Status: status, Deadline: deadline})
	}
	put(a, "accepted", "2026-02-01")
	put(b, "referred", "2026-04-01")
	missing := CaseKey("51", "44", "RF-3")
	got, unreadable, err = s.CasesByKey([]string{b, missing, a}, now)
	if err != nil || unreadable != nil || len(got) != 3 {
		t.Fatalf("CasesByKey: %v, %v, %v", got, unreadable, err)
	}
	for i, want := range []string{b, "", a} {
		if want == "" {
			if got[i] != nil {
				t.Errorf("key %d: %+v, want nil", i, got[i])
			}
			continue
		}
		one, err := s.Case(want, now)
		if err != nil || got[i] == nil || got[i].Key != want || got[i].Status != one.Status || got[i].Overdue != one.Overdue {
			t.Errorf("key %d: %+v, want %+v as Case reads it (%v)", i, got[i], one, err)
		}
	}
	if !got[2].Overdue || got[0].Overdue {
		t.Errorf("overdue: %s %v, %s %v; want the past deadline overdue only", got[2].Key, got[2].Overdue, got[0].Key, got[0].Overdue)
	}
}

// TestCasesByKeyReportsACaseThatDoesNotDecodeAlone: a stored case that
// does not decode is corruption, reported under its key with its key and
// bucket named, not taken for a case that is not there; the cases read
// with it come back as if it were not among them.
func TestCasesByKeyReportsACaseThatDoesNotDecodeAlone(t *testing.T) {
	s, _ := openTest(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	good, bad, missing := CaseKey("51", "44", "RF-1"), CaseKey("51", "44", "RF-2"), CaseKey("51", "44", "RF-3")
	putCase(t, s, &Case{Key: good, Status: "referred"})
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCases).Put([]byte(bad), []byte(`{"key":`))
	}); err != nil {
		t.Fatal(err)
	}
	got, unreadable, err := s.CasesByKey([]string{bad, good, missing, bad}, now)
	if err != nil {
		t.Fatalf("CasesByKey: %v; want one case unreadable, not the read", err)
	}
	if len(got) != 4 || got[0] != nil || got[1] == nil || got[1].Key != good || got[2] != nil || got[3] != nil {
		t.Fatalf("cases %v; want only %s, second", got, good)
	}
	if len(unreadable) != 1 || unreadable[bad] == nil {
		t.Fatalf("unreadable %v; want only %s", unreadable, bad)
	}
	for _, want := range []string{bad, string(bucketCases)} {
		if !strings.Contains(unreadable[bad].Error(), want) {
			t.Errorf("error %q does not name %q", unreadable[bad], want)
		}
	}
}

// TestEnqueueMakesCaseChangesInItsCommit: the case a queued record opens
// is written in the commit that queues it, and a later record of the same
// commit sees it; one whose change refuses it is neither queued nor
// counted, and its change is not written.
func TestEnqueueMakesCaseChangesInItsCommit(t *testing.T) {
	s, _ := openTest(t)
	key := CaseKey("51", "44", "RF-1")
	open := &CaseChange{Key: key, Apply: func(c *Case) (*Case, error) {
		if c != nil {
			return c, nil
		}
		return &Case{Key: key, Status: "referred"}, nil
	}}
	move := func(from, to string) *CaseChange {
		return &CaseChange{Key: key, Apply: func(c *Case) (*Case, error) {
			if c == nil || c.Status != from {
				return nil, errors.New("cannot move")
			}
			c.Status = to
			return c, nil
		}}
	}
	msg := func(id string, ch *CaseChange) Outgoing {
		return Outgoing{EnvelopeID: id, Ref: "51/x/" + id, Type: "referral", Peer: "44", Envelope: []byte(`{}`), Case: ch,
			Counters: []Counter{{Name: "quota/c"}}}
	}
	enq, err := s.Enqueue(context.Background(), []Outgoing{msg("E1", open), msg("E2", move("referred", "accepted")), msg("E3", move("referred", "rejected"))})
	if err != nil {
		t.Fatal(err)
	}
	if enq[0].Refused != nil || enq[1].Refused != nil || enq[2].Refused == nil {
		t.Fatalf("enqueued %+v; want the third refused alone", enq)
	}
	if _, err := s.Lookup("51/x/E3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused record was queued: %v", err)
	}
	if n, err := s.Counter("quota/c"); err != nil || n != 2 {
		t.Errorf("counter %d, %v; want 2", n, err)
	}
	c, err := s.Case(key, time.Now())
	if err != nil || c.Status != "accepted" {
		t.Errorf("case %+v, %v; want it accepted", c, err)
	}
}

// TestStatesAreTheDestinationsAnswers: States reads, for several outgoing
// records at once, their state as Status does: queued, delivered,
// rejected, and "" for one never queued here.
func TestStatesAreTheDestinationsAnswers(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	var msgs []Outgoing
	for _, id := range []string{"E1", "E2", "E3"} {
		msgs = append(msgs, Outgoing{EnvelopeID: id, Ref: "51/referral/" + id, Type: "referral", Peer: "44", Envelope: []byte(`{}`)})
	}
	if _, err := s.Enqueue(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, "44", []Delivered{{EnvelopeID: "E1", Receipt: []byte(`{}`)}, {EnvelopeID: "E2", Rejected: true, Reasons: []string{"referral_id_taken"}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.States([]string{"E1", "E2", "E3", "E4"})
	if want := []State{StateDelivered, StateRejected, StateAccepted, ""}; err != nil || !slices.Equal(got, want) {
		t.Errorf("States: %v, %v; want %v", got, err, want)
	}
}

// TestOverQuotaUpdateLeavesItsCase: an update over quota is not queued,
// and the case it would move, opened earlier in the same commit, stays as
// that referral opened it. (From a reviewer's finding: the update's change
// was made on the case kept for the commit, then written anyway.)
func TestOverQuotaUpdateLeavesItsCase(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	quota := []Counter{{Name: "q", Max: 1}}
	if _, err := s.Enqueue(ctx, []Outgoing{{EnvelopeID: "E0", Ref: "51/x/E0", Type: "t", Peer: "44", Envelope: []byte(`{}`), Counters: quota}}); err != nil {
		t.Fatal(err)
	}
	key := CaseKey("51", "44", "RF-1")
	open := &CaseChange{Key: key, Apply: func(c *Case) (*Case, error) {
		if c != nil {
			return c, nil
		}
		return &Case{Key: key, EnvelopeID: "E1", Status: "referred"}, nil
	}}
	move := &CaseChange{Key: key, Apply: func(c *Case) (*Case, error) {
		c.Status = "accepted"
		c.Updates = append(c.Updates, CaseUpdate{EnvelopeID: "E2", Status: "accepted"})
		return c, nil
	}}
	enq, err := s.Enqueue(ctx, []Outgoing{
		{EnvelopeID: "E1", Ref: "51/referral/RF-1", Type: "referral", Peer: "44", Envelope: []byte(`{}`), Case: open},
		{EnvelopeID: "E2", Ref: "51/referral-update/U-1", Type: "referral-update", Peer: "44", Envelope: []byte(`{}`), Case: move, Counters: quota},
	})
	if err != nil {
		t.Fatal(err)
	}
	if enq[0].OverQuota || !enq[1].OverQuota {
		t.Fatalf("enqueued: %+v; want the referral queued and the update over quota", enq)
	}
	c, err := s.Case(key, time.Now())
	if err != nil || c.Status != "referred" || len(c.Updates) != 0 {
		t.Errorf("the case: %+v, %v; want it referred, the update over quota never applied", c, err)
	}
}

// TestMarkDeliveredRejectsTheCaseOfARejectedReferral: a referral the
// destination rejected rejects, in the commit that records the answer,
// the case it opened here, with the rejection as the case's last update;
// recorded again, the answer changes nothing more. A referral delivered,
// a rejected record of another type, and a case another referral holds
// are left as they are; a case that does not decode is logged, by its
// key, and holds up none of the batch's answers.
func TestMarkDeliveredRejectsTheCaseOfARejectedReferral(t *testing.T) {
	var logs strings.Builder
	at := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	s := openWith(t, Options{Log: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return at }})
	ctx := context.Background()
	referral := func(env, id string) Outgoing {
		return Outgoing{EnvelopeID: env, Ref: "51/referral/" + id, Type: "referral", Peer: "44", Envelope: []byte(`{"id":"` + env + `"}`)}
	}
	transfer := outgoing(1, "44")
	if _, err := s.Enqueue(ctx, []Outgoing{referral("E1", "R/1"), referral("E2", "R-2"), referral("E3", "R-3"), referral("E4", "R-4"), transfer}); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for env, id := range map[string]string{"E1": "R/1", "E2": "R-2", "E3": "R-3", "E4": "R-4"} {
		keys[env] = CaseKey("51", "44", id)
		held := env
		if env == "E2" {
			held = "E2-OTHER" // the case under R-2 is another referral's
		}
		putCase(t, s, &Case{Key: keys[env], ReferralID: id, EnvelopeID: held, OpenedBy: "51", OpenedTo: "44", Status: "referred"})
	}
	if err := s.DB().Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCases).Put([]byte(keys["E4"]), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	rejected := func(env string) Delivered {
		return Delivered{EnvelopeID: env, Rejected: true, Reasons: []string{"referral_id_taken"}}
	}
	batch := []Delivered{rejected("E1"), rejected("E2"), {EnvelopeID: "E3"}, rejected("E4"), rejected(transfer.EnvelopeID)}
	if err := s.MarkDelivered(ctx, "44", batch); err != nil {
		t.Fatalf("mark the batch delivered: %v", err)
	}
	if err := s.MarkDelivered(ctx, "44", []Delivered{rejected("E1")}); err != nil {
		t.Fatalf("mark E1 delivered again: %v", err)
	}
	c, err := s.Case(keys["E1"], at)
	want := CaseUpdate{EnvelopeID: "E1", From: "44", Status: "rejected", At: at}
	if err != nil || c.Status != "rejected" || !c.UpdatedAt.Equal(at) || len(c.Updates) != 1 || c.Updates[0] != want {
		t.Errorf("E1's case: %+v, %v; want rejected at %v, its one update %+v", c, err, at, want)
	}
	for _, env := range []string{"E2", "E3"} {
		if c, err := s.Case(keys[env], at); err != nil || c.Status != "referred" || len(c.Updates) != 0 {
			t.Errorf("%s's case: %+v, %v; want it referred, unmoved", env, c, err)
		}
	}
	for _, d := range batch {
		if st, err := s.Status(d.EnvelopeID); err != nil || st.State == StateAccepted {
			t.Errorf("%s: %+v, %v; want its answer recorded", d.EnvelopeID, st, err)
		}
	}
	if l := logs.String(); !strings.Contains(l, "reject the case of a referral its destination rejected") || !strings.Contains(l, keys["E4"]) {
		t.Errorf("logs %q should name the case %s that does not decode", l, keys["E4"])
	}
}
