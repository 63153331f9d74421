package store

import (
	"context"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// earlierReleaseStore writes, at path, the cases of 51's referrals to 44
// as a release before MarkDelivered rejected their cases left them, all
// referred with no update: R-1, rejected by 44's node at rejectedAt[0];
// R-2, rejected at rejectedAt[1] and answered as releases before answers
// were kept apart stored it (in its record); R-3, a dead letter (failed);
// R-4, a dead letter discarded; R-5, delivered; and 44's referral R-6,
// received here. It returns the cases' keys by referral id.
func earlierReleaseStore(t *testing.T, path string, rejectedAt [2]time.Time) map[string]string {
	t.Helper()
	clock := rejectedAt[0]
	s, err := Open(path, Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	keys := map[string]string{}
	var outs []Outgoing
	for _, id := range []string{"R-1", "R-2", "R-3", "R-4", "R-5"} {
		env := "E" + id[2:]
		outs = append(outs, Outgoing{EnvelopeID: env, Ref: "51/referral/" + id, Type: "referral", Peer: "44", Envelope: []byte(`{"id":"` + env + `"}`)})
		keys[id] = CaseKey("51", "44", id)
	}
	if _, err := s.Enqueue(ctx, outs); err != nil {
		t.Fatal(err)
	}
	rejected := func(env string) Delivered {
		return Delivered{EnvelopeID: env, Rejected: true, Reasons: []string{"referral_id_taken"}}
	}
	if err := s.MarkDelivered(ctx, "44", []Delivered{rejected("E1"), {EnvelopeID: "E5"}}); err != nil {
		t.Fatal(err)
	}
	clock = rejectedAt[1]
	if err := s.MarkDelivered(ctx, "44", []Delivered{rejected("E2")}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDead(ctx, "44", []DeadLetter{{EnvelopeID: "E3", Status: 400, Reason: "bad request"}, {EnvelopeID: "E4", Status: 400, Reason: "bad request"}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Discard(ctx, "44", DeadPick{EnvelopeID: "E4"}); err != nil || n != 1 {
		t.Fatalf("discard E4: %d, %v", n, err)
	}
	legacy, err := s.Status("E2")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Update(func(tx *bolt.Tx) error {
		if err := putStatus(tx.Bucket(bucketRecords), "E2", &storedStatus{Status: legacy}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDelivered).Delete([]byte("E2")); err != nil {
			return err
		}
		return tx.Bucket(bucketMarks).Delete(markRejectedReferralCases)
	}); err != nil {
		t.Fatal(err)
	}
	keys["R-6"] = CaseKey("44", "51", "R-6")
	for id, key := range keys {
		c := &Case{Key: key, ReferralID: id, EnvelopeID: "E" + id[2:], OpenedBy: "51", OpenedTo: "44", Direction: "sent", Status: "referred", Deadline: "2026-01-01", OpenedAt: rejectedAt[0].Add(-time.Hour)}
		if id == "R-6" {
			c.EnvelopeID, c.OpenedBy, c.OpenedTo, c.Direction = "E6-IN", "44", "51", "received"
		}
		putCase(t, s, c)
	}
	for _, env := range []string{"E1", "E2"} {
		if st, err := s.Status(env); err != nil || st.State != StateRejected {
			t.Fatalf("%s as an earlier release left it: %+v, %v; want rejected", env, st, err)
		}
	}
	return keys
}

// referralIDs are the referral ids of cs, sorted.
func referralIDs(cs []Case) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ReferralID)
	}
	slices.Sort(ids)
	return ids
}

// TestOpenRejectsCasesOfReferralsRejectedBeforeThisRelease: a store an
// earlier release wrote holds cases still referred though 44's node
// rejected their referrals. Opened, it rejects them, as MarkDelivered
// does now, at the time each rejection was recorded (whether the answer
// is kept beside the record or in it), so the referred and rejected
// filters agree with the referrals' states; it logs how many, and leaves
// the cases of dead letters (failed, discarded), of a referral delivered
// and of one received referred. Opened again, it changes nothing.
func TestOpenRejectsCasesOfReferralsRejectedBeforeThisRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	at := [2]time.Time{time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)}
	keys := earlierReleaseStore(t, path, at)

	var logs strings.Builder
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	s := openAt(t, path, Options{Log: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now }})
	for i, id := range []string{"R-1", "R-2"} {
		env := "E" + id[2:]
		want := CaseUpdate{EnvelopeID: env, From: "44", Status: "rejected", At: at[i]}
		c, err := s.Case(keys[id], now)
		if err != nil || c.Status != "rejected" || c.Overdue || !c.UpdatedAt.Equal(at[i]) || len(c.Updates) != 1 || !reflect.DeepEqual(c.Updates[0], want) {
			t.Errorf("%s's case once opened: %+v, %v; want rejected, not overdue, updated at %v, its one update %+v", id, c, err, at[i], want)
		}
	}
	for _, id := range []string{"R-3", "R-4", "R-5", "R-6"} {
		if c, err := s.Case(keys[id], now); err != nil || c.Status != "referred" || len(c.Updates) != 0 {
			t.Errorf("%s's case once opened: %+v, %v; want it referred, unmoved", id, c, err)
		}
	}
	for status, want := range map[string][]string{"referred": {"R-3", "R-4", "R-5", "R-6"}, "rejected": {"R-1", "R-2"}} {
		cs, err := s.Cases(now, status)
		if got := referralIDs(cs); err != nil || !slices.Equal(got, want) {
			t.Errorf("cases %s: %v, %v; want %v", status, got, err, want)
		}
	}
	if l := logs.String(); !strings.Contains(l, "rejected the cases of referrals rejected before this release") || !strings.Contains(l, "cases=2") {
		t.Errorf("logs %q should say 2 cases were rejected", l)
	}
	before, err := s.Cases(now, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	logs.Reset()
	s = openAt(t, path, Options{Log: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now.Add(time.Hour) }})
	if after, err := s.Cases(now, ""); err != nil || !reflect.DeepEqual(after, before) {
		t.Errorf("cases opened again: %+v, %v; want them as the first open left them, %+v", after, err, before)
	}
	if logs.Len() != 0 {
		t.Errorf("opened again, the store logged %q; want nothing", logs.String())
	}
}

// TestOpenMigratesRejectedReferralCasesOnce: the pass over the cases runs
// on the first open of a store alone, which marks it in its commit; a
// store that holds the mark is not read through again.
func TestOpenMigratesRejectedReferralCasesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	at := [2]time.Time{time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)}
	keys := earlierReleaseStore(t, path, at)
	s := openAt(t, path, Options{})
	if m, err := s.Mark(string(markRejectedReferralCases)); err != nil || m == "" {
		t.Fatalf("mark %s once opened: %q, %v; want it set", markRejectedReferralCases, m, err)
	}
	if c, err := s.Case(keys["R-1"], at[1]); err != nil || c.Status != "rejected" {
		t.Fatalf("R-1's case once opened: %+v, %v; want it rejected", c, err)
	}
	// Put back as an earlier release would have left it: with the mark
	// set, the next open does not look.
	putCase(t, s, &Case{Key: keys["R-1"], ReferralID: "R-1", EnvelopeID: "E1", OpenedBy: "51", OpenedTo: "44", Status: "referred"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{})
	if c, err := s.Case(keys["R-1"], at[1]); err != nil || c.Status != "referred" {
		t.Errorf("R-1's case opened again: %+v, %v; want it as it was put, referred: the pass ran once", c, err)
	}
}
