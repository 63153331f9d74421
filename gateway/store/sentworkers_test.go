package store

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSentWorkerIsKeptWithItsTransfer: the worker Enqueue is given with a
// transfer is read back by the transfer's reference, kept as AddAnswer
// rewrites the status, and encoded as json.Marshal would; a record
// enqueued without one, or a reference not known, has none.
func TestSentWorkerIsKeptWithItsTransfer(t *testing.T) {
	s := openWith(t, Options{NoSync: true})
	ctx := context.Background()
	w := SentWorker{
		Shown: "##################", Digest: s.WorkerDigest(nil, []byte("51010419900101123X")),
		MaskShown: "###***********####", MaskDigest: s.WorkerDigest(nil, []byte("510123X")),
		ContractStart: "2026-03-01",
	}
	msgs := []Outgoing{
		{EnvelopeID: "01ENV1", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`), Worker: &w},
		{EnvelopeID: "01ENV2", Ref: "51/referral/R-1", Type: "referral", Peer: "44", Envelope: []byte(`{}`)},
	}
	if _, err := s.Enqueue(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	kept := func(when string) {
		t.Helper()
		if got, err := s.SentWorker("51/transfer/T-1"); err != nil || !reflect.DeepEqual(got, w) {
			t.Errorf("%s: SentWorker of the transfer: %+v, %v; want %+v", when, got, err, w)
		}
	}
	kept("accepted")
	a := Answer{EnvelopeID: "01ANS1", Type: "confirmation", ReceivedAt: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Summary: json.RawMessage(`{}`)}
	if err := s.AddAnswer(ctx, "51/transfer/T-1", "44", a); err != nil {
		t.Fatal(err)
	}
	kept("answered")
	if st, err := s.Status("01ENV1"); err != nil || len(st.Answers) != 1 {
		t.Errorf("status of the answered transfer: %+v, %v; want its answer", st, err)
	}
	for _, ref := range []string{"51/referral/R-1", "51/transfer/T-2"} {
		if _, err := s.SentWorker(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("SentWorker(%q): %v; want ErrNotFound", ref, err)
		}
	}
	st := Status{EnvelopeID: "01ENV1", Ref: "\"<\\>&\u2028\xff", State: StateAccepted, AcceptedAt: a.ReceivedAt}
	clear := SentWorker{Shown: "####", Digest: []byte{1, 2}, MaskShown: "#**#", MaskDigest: []byte{3}, ContractStart: "2026-03-01"}
	for _, w := range []*SentWorker{nil, {}, &w, &clear, {Shown: "******", ContractStart: "\n"}, {Shown: "\"<\\>&\u2028\xff", Digest: []byte{0xff, 0}, MaskShown: "\x00\u2029", MaskDigest: []byte{0xfe}}} {
		r := storedStatus{st, w}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.appendJSON(nil)
		if err != nil || string(got) != string(want) {
			t.Errorf("appendJSON %s, %v; json.Marshal %s", got, err, want)
		}
	}
}

// TestWorkerDigestIsKeyedByTheStore: WorkerDigest is HMAC-SHA256 under a
// key of 32 bytes the store made for itself, in its key file, and keeps
// across a reopen; another store makes another. A key of another size is
// refused, not replaced: every digest kept would stop matching.
func TestWorkerDigestIsKeyedByTheStore(t *testing.T) {
	dir := t.TempDir()
	path, keyFile := filepath.Join(dir, "node.db"), filepath.Join(dir, WorkerKeyFile)
	chars := []byte("510123X")
	s := openAt(t, path, Options{NoSync: true})
	first := s.WorkerDigest(nil, chars)
	key := readKeyFile(t, keyFile)
	mac := hmac.New(sha256.New, key)
	mac.Write(chars)
	if len(key) != 32 || !bytes.Equal(first, mac.Sum(nil)) {
		t.Errorf("digest %x under a key of %d bytes; want HMAC-SHA256 under a key of 32", first, len(key))
	}
	if again := s.WorkerDigest([]byte("x"), chars); !bytes.Equal(again, append([]byte("x"), first...)) {
		t.Errorf("digest appended to x: %x; want x then %x", again, first)
	}
	s.Close()
	s = openAt(t, path, Options{NoSync: true})
	if got := s.WorkerDigest(nil, chars); !bytes.Equal(got, first) {
		t.Errorf("digest after a reopen %x, before %x", got, first)
	}
	s.Close()
	other := openAt(t, filepath.Join(dir, "other.db"), Options{NoSync: true, WorkerKeyFile: filepath.Join(dir, "other.key")})
	if got := other.WorkerDigest(nil, chars); bytes.Equal(got, first) {
		t.Error("two stores digest alike: the key is not the store's own")
	}
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key[:16])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(path, Options{NoSync: true}); err == nil || !strings.Contains(err.Error(), keyFile) {
		if s != nil {
			s.Close()
		}
		t.Errorf("open with a key of 16 bytes: %v; want an error naming the key file", err)
	}
}
