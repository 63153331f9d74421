package store

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestReceiveListsTheAnswerInItsCommit: an incoming record with an answer
// link is listed on the transfer it answers in the commit that stores it,
// the link made from the worker kept with the transfer, and its inbox item
// carries the worker match the link made (what the caller set is not
// taken): a reader of the inbox, or of the reopened file, never finds one
// without the other. A receive that fails writes neither. Two answers to
// one transfer in one commit are both listed; a copy of one in the same
// commit is not listed twice. An answer to a record not known, or from
// another province than the one it went to, is stored, unlisted, its item
// without a worker match, and says why.
func TestReceiveListsTheAnswerInItsCommit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	s := openAt(t, path, Options{NoSync: true})
	w := SentWorker{Shown: "###***********####", Digest: s.WorkerDigest(nil, []byte("510123X")), ContractStart: "2026-03-01"}
	if _, err := s.Enqueue(ctx, []Outgoing{{EnvelopeID: "01ENV1", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`), Worker: &w}}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	var seen []*SentWorker
	confirmation := func(id, ref, from, match string) Incoming {
		return Incoming{
			EnvelopeID: id, From: from, Type: "confirmation", ReceivedAt: at, Envelope: json.RawMessage(`{}`), Record: json.RawMessage(`{}`), Receipt: json.RawMessage(`{}`),
			WorkerMatch: "full", // the caller's, which the link's replaces
			Answer: &AnswerLink{Ref: ref, Make: func(w *SentWorker) (Answer, string) {
				seen = append(seen, w)
				a := Answer{EnvelopeID: id, Type: "confirmation", ReceivedAt: at, Summary: json.RawMessage(`{"worker_match":"` + match + `"}`)}
				if match == "mismatch" {
					a.Refused = "worker_mismatch"
				}
				return a, match
			}},
		}
	}
	listed := func(when string, want ...string) {
		t.Helper()
		st, err := s.Status("01ENV1")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range st.Answers {
			got = append(got, a.EnvelopeID+" "+a.Refused)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the transfer lists %q, want %q", when, got, want)
		}
	}

	refuse := errors.New("refused")
	if _, err := s.ReceiveAnd(ctx, []Incoming{confirmation("01C1", "51/transfer/T-1", "44", "mismatch")}, func(*bolt.Tx, []Received) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("ReceiveAnd: %v, want %v", err, refuse)
	}
	if _, err := s.InboxItem("01C1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a failed receive stored its confirmation: %v", err)
	}
	listed("after a failed receive")

	seen = nil
	got, err := s.Receive(ctx, []Incoming{
		confirmation("01C1", "51/transfer/T-1", "44", "mismatch"),
		confirmation("01C2", "51/transfer/T-1", "44", "partial"),
		confirmation("01C1", "51/transfer/T-1", "44", "mismatch"),
		confirmation("01C3", "51/transfer/T-9", "44", "full"),
		confirmation("01C4", "51/transfer/T-1", "33", "full"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		answer string
		err    error
	}{{"01C1", nil}, {"01C2", nil}, {"", nil}, {"", ErrNotFound}, {"", ErrNotAnswerable}} {
		var answer string
		if a := got[i].Answer; a != nil {
			answer = a.EnvelopeID
		}
		if answer != want.answer || !errors.Is(got[i].AnswerErr, want.err) || (want.err == nil) != (got[i].AnswerErr == nil) {
			t.Errorf("envelope %d: answer %q, error %v; want %q, %v", i, answer, got[i].AnswerErr, want.answer, want.err)
		}
	}
	for i, sw := range seen {
		if sw == nil || !reflect.DeepEqual(*sw, w) {
			t.Errorf("link %d was made from worker %+v, want %+v", i, sw, w)
		}
	}
	if len(seen) != 2 {
		t.Errorf("%d links made from a worker, want 2: one for each confirmation of the transfer from its destination", len(seen))
	}

	check := func(when string) {
		t.Helper()
		listed(when, "01C1 worker_mismatch", "01C2 ")
		for id, want := range map[string]string{"01C1": "mismatch", "01C2": "partial", "01C3": "", "01C4": ""} {
			it, err := s.InboxItem(id)
			if err != nil {
				t.Fatalf("%s: %s: %v", when, id, err)
			}
			if it.WorkerMatch != want {
				t.Errorf("%s: inbox item %s has worker_match %q, want %q", when, id, it.WorkerMatch, want)
			}
		}
		if page, err := s.Inbox(0, 10); err != nil || len(page) != 4 || page[0].WorkerMatch != "mismatch" {
			t.Errorf("%s: inbox page %+v, %v; want 4 items, the first marked mismatch", when, page, err)
		}
	}
	check("received")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, Options{NoSync: true})
	check("reopened")

	// A redelivery is a duplicate: nothing is listed again.
	seen = nil
	again, err := s.Receive(ctx, []Incoming{confirmation("01C1", "51/transfer/T-1", "44", "full")})
	if err != nil || !again[0].Duplicate || again[0].Answer != nil || len(seen) != 0 {
		t.Fatalf("redelivery: %+v, %v, %d links made; want a duplicate, no link", again, err, len(seen))
	}
	check("redelivered")
}

// TestLinkAnswerMakesTheAnswerFromTheKeptWorker: LinkAnswer gives the
// link the worker kept with the transfer, in the transaction that lists
// the answer, and returns what the transfer lists: the answer made, or,
// linked again, the one it held.
func TestLinkAnswerMakesTheAnswerFromTheKeptWorker(t *testing.T) {
	ctx := context.Background()
	s := openWith(t, Options{NoSync: true})
	w := SentWorker{Shown: "##", Digest: []byte{1}, ContractStart: "2026-03-01"}
	if _, err := s.Enqueue(ctx, []Outgoing{{EnvelopeID: "01ENV1", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`), Worker: &w}}); err != nil {
		t.Fatal(err)
	}
	link := func(refused string) *AnswerLink {
		return &AnswerLink{Ref: "51/transfer/T-1", Make: func(got *SentWorker) (Answer, string) {
			if got == nil || !reflect.DeepEqual(*got, w) {
				t.Errorf("the link was made from worker %+v, want %+v", got, w)
			}
			return Answer{EnvelopeID: "01C1", Type: "confirmation", Refused: refused}, ""
		}}
	}
	for _, refused := range []string{"worker_mismatch", ""} {
		a, err := s.LinkAnswer(ctx, "44", link(refused))
		if err != nil || a.EnvelopeID != "01C1" || a.Refused != "worker_mismatch" {
			t.Errorf("LinkAnswer: %+v, %v; want the answer first listed, refused worker_mismatch", a, err)
		}
	}
	if _, err := s.LinkAnswer(ctx, "33", link("")); !errors.Is(err, ErrNotAnswerable) {
		t.Errorf("LinkAnswer from another province: %v, want ErrNotAnswerable", err)
	}
	if st, err := s.Status("01ENV1"); err != nil || len(st.Answers) != 1 {
		t.Errorf("the transfer's status: %+v, %v; want one answer", st, err)
	}
}

// TestLinkingAgainWhatIsListedCommitsNothing: a confirmation sent again,
// listed already on its transfer as it would be listed again, is answered
// from a read, as is a link refused: no write commit, which syncs the file
// and which every writer waits for. The caller sees what a commit would
// have told it. Another answer to the transfer is still listed.
func TestLinkingAgainWhatIsListedCommitsNothing(t *testing.T) {
	ctx := context.Background()
	s := openWith(t, Options{NoSync: true})
	w := SentWorker{Shown: "##", Digest: []byte{1}, ContractStart: "2026-03-01"}
	if _, err := s.Enqueue(ctx, []Outgoing{{EnvelopeID: "01ENV1", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`), Worker: &w}}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	link := func(ref, id, refused string) *AnswerLink {
		return &AnswerLink{Ref: ref, Make: func(*SentWorker) (Answer, string) {
			return Answer{EnvelopeID: id, Type: "confirmation", ReceivedAt: at, Refused: refused}, ""
		}}
	}
	writes := func() int64 { st := s.db.Stats(); return st.TxStats.GetWrite() }
	first, err := s.LinkAnswer(ctx, "44", link("51/transfer/T-1", "01C1", "worker_mismatch"))
	if err != nil {
		t.Fatal(err)
	}

	before := writes()
	for _, refused := range []string{"worker_mismatch", ""} {
		a, err := s.LinkAnswer(ctx, "44", link("51/transfer/T-1", "01C1", refused))
		if err != nil || !reflect.DeepEqual(a, first) {
			t.Errorf("linked again: %+v, %v; want the answer listed, %+v", a, err, first)
		}
	}
	if _, err := s.LinkAnswer(ctx, "33", link("51/transfer/T-1", "01C2", "")); !errors.Is(err, ErrNotAnswerable) {
		t.Errorf("LinkAnswer from another province: %v, want ErrNotAnswerable", err)
	}
	if _, err := s.LinkAnswer(ctx, "44", link("51/transfer/T-9", "01C2", "")); !errors.Is(err, ErrNotFound) {
		t.Errorf("LinkAnswer to a record not known: %v, want ErrNotFound", err)
	}
	if n := writes() - before; n != 0 {
		t.Errorf("links of an answer listed already, or refused, made %d page writes; want no commit", n)
	}

	if a, err := s.LinkAnswer(ctx, "44", link("51/transfer/T-1", "01C2", "")); err != nil || a.EnvelopeID != "01C2" {
		t.Fatalf("another answer: %+v, %v; want it listed", a, err)
	}
	if n := writes() - before; n == 0 {
		t.Error("another answer was listed without a commit")
	}
	if st, err := s.Status("01ENV1"); err != nil || len(st.Answers) != 2 {
		t.Errorf("the transfer's status: %+v, %v; want two answers", st, err)
	}
}

// TestPruningKeepsTheWorkerMatch: retention drops a confirmation's
// envelope and record, not the worker match its item carries.
func TestPruningKeepsTheWorkerMatch(t *testing.T) {
	ctx := context.Background()
	s := openWith(t, Options{NoSync: true})
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	in := Incoming{EnvelopeID: "01C1", From: "44", Type: "confirmation", ReceivedAt: at, Envelope: json.RawMessage(`{"payload":{}}`), Record: json.RawMessage(`{}`), Receipt: json.RawMessage(`{}`), WorkerMatch: "mismatch"}
	if _, err := s.Receive(ctx, []Incoming{in}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneInbox(ctx, at.Add(time.Hour), 1<<63); err != nil || n != 1 {
		t.Fatalf("PruneInbox = %d, %v; want the item pruned", n, err)
	}
	it, err := s.InboxItem("01C1")
	if err != nil || it.PrunedAt.IsZero() || it.WorkerMatch != "mismatch" {
		t.Errorf("pruned item %+v, %v; want it pruned, worker_match mismatch", it, err)
	}
}
