package exchange

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
)

// testDigest is a digestFunc under a fixed key, as a store's WorkerDigest
// is under its own.
func testDigest(dst, chars []byte) []byte {
	h := hmac.New(sha256.New, []byte("0123456789abcdef0123456789abcdef"))
	h.Write(chars)
	return h.Sum(dst)
}

// TestCompareIDNumbersOverTheDigest: a confirmation's worker ID number is
// compared with the digest kept of its transfer's, as sent, masked or not,
// over the positions the transfer showed, the check letter X in either
// case; when the confirmation masks some of those, over the positions the
// usual mask keeps (the first 3 and last 4), if the transfer showed more
// and the confirmation shows them. When the transfer showed nothing, or
// the confirmation masks or dropped both, the outcome says nothing was
// compared rather than match.
func TestCompareIDNumbersOverTheDigest(t *testing.T) {
	const id = "51010419900101123X"
	tests := []struct {
		name, sent, got, want string
	}{
		{"same", id, id, WorkerMatchFull},
		{"check letter in lower case", id, "51010419900101123x", WorkerMatchFull},
		{"check letter sent in lower case", "51010419900101123x", id, WorkerMatchFull},
		{"sent masked", "510***********123X", id, WorkerMatchPartial},
		{"both masked alike", "510***********123X", "510***********123x", WorkerMatchPartial},
		{"got masked where the transfer showed", id, "510***********123X", WorkerMatchPartial},
		{"got masked, check letter in lower case", id, "510***********123x", WorkerMatchPartial},
		{"got masked, showing more than the mask", id, "5101**********123X", WorkerMatchPartial},
		{"got masked, showing less than the mask", id, "**************123X", WorkerMatchUnchecked},
		{"got masked, showing other positions", id, "5101041990010*****", WorkerMatchUnchecked},
		{"both masked, sent more", "5101**********123X", "510***********123X", WorkerMatchPartial},
		{"both masked, sent more, got less", "5101**********123X", "5*************123X", WorkerMatchUnchecked},
		{"both masked, got more", "510***********123X", "5101**********123X", WorkerMatchPartial},
		{"sent all masked", "******************", id, WorkerMatchUnchecked},
		{"sent all masked, another length", "******************", "51010419900101123", WorkerMatchUnchecked},
		{"sent dropped", "", id, WorkerMatchUnchecked},
		{"got dropped", id, "", WorkerMatchUnchecked},
		{"another worker", id, "510104199001014321", WorkerMatchMismatch},
		{"another worker, sent masked", "510***********123X", "510104199001014321", WorkerMatchMismatch},
		{"another worker, both masked", "510***********123X", "440***********123X", WorkerMatchMismatch},
		{"another worker, got masked", id, "440***********123X", WorkerMatchMismatch},
		{"another worker, got masked, last characters apart", id, "510***********4321", WorkerMatchMismatch},
		{"another worker, got masked, sent more", "5101**********123X", "440***********123X", WorkerMatchMismatch},
		{"another worker, got masked, another length", id, "510**********123X", WorkerMatchMismatch},
		{"one character apart", id, "51010419900101123Y", WorkerMatchMismatch},
		{"another length", id, "51010419900101123", WorkerMatchMismatch},
		{"another length, sent masked", "510***********123X", "510104199001011234X", WorkerMatchMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w store.SentWorker
			markWorker(&w, tt.sent, testDigest, new(workerRoom))
			if got := compareIDNumbers(&w, tt.got, testDigest); got != tt.want {
				t.Errorf("compare %q with what was kept of %q: %s, want %s", tt.got, tt.sent, got, tt.want)
			}
		})
	}
}

// TestMarkWorkerKeepsPositionsAndADigest: what is kept of a number as sent
// is which positions it showed, its length, and the keyed digest of the
// characters there, X upper-cased; of a number dropped or wholly masked,
// no digest. Of a number that showed the positions the usual mask keeps
// and more, the same again over those; of one that showed no more, or not
// all of them, nothing more.
func TestMarkWorkerKeepsPositionsAndADigest(t *testing.T) {
	const mask = "###***********####"
	tests := []struct {
		sent, shown, chars, maskShown, maskChars string
	}{
		{"51010419900101123x", "##################", "51010419900101123X", mask, "510123X"},
		{"5101**********123X", "####**********####", "5101123X", mask, "510123X"},
		{"510***********123X", mask, "510123X", "", ""},
		{"5101041990010*****", "#############*****", "5101041990010", "", ""},
		{"******************", "******************", "", "", ""},
		{"5101234", "#######", "5101234", "", ""}, // too short for the mask to keep any
		{"", "", "", "", ""},
	}
	digestOf := func(chars string) []byte {
		if chars == "" {
			return nil
		}
		return testDigest(nil, []byte(chars))
	}
	for _, tt := range tests {
		var w store.SentWorker
		markWorker(&w, tt.sent, testDigest, new(workerRoom))
		if w.Shown != tt.shown || !bytes.Equal(w.Digest, digestOf(tt.chars)) {
			t.Errorf("markWorker(%q) kept %q, %x; want %q, the digest of %q", tt.sent, w.Shown, w.Digest, tt.shown, tt.chars)
		}
		if w.MaskShown != tt.maskShown || !bytes.Equal(w.MaskDigest, digestOf(tt.maskChars)) {
			t.Errorf("markWorker(%q) kept over the mask's positions %q, %x; want %q, the digest of %q", tt.sent, w.MaskShown, w.MaskDigest, tt.maskShown, tt.maskChars)
		}
	}
}

// TestTheMaskPositionsArePolicys: the positions kept for a confirmation
// masked the usual way are those policy's mask of ID numbers keeps.
func TestTheMaskPositionsArePolicys(t *testing.T) {
	const id = "51010419900101123X"
	masked, err := policy.Mask(idNumberMask, id)
	if err != nil {
		t.Fatal(err)
	}
	var w store.SentWorker
	markWorker(&w, id, testDigest, new(workerRoom))
	if got := compareIDNumbers(&w, masked, testDigest); got != WorkerMatchPartial {
		t.Errorf("the number masked by policy (%s) against what was kept of it sent in clear: %s, want %s", masked, got, WorkerMatchPartial)
	}
}

// TestCheckWorkerRefusesAnotherWorker: a confirmation of another worker is
// refused worker_mismatch; one of the transfer's worker is taken, with how
// it matched, and flagged when its since is before the contract's first
// day; one whose transfer's worker this node did not keep is taken
// unchecked.
func TestCheckWorkerRefusesAnotherWorker(t *testing.T) {
	day := func(s string) *contracts.Date {
		d, err := contracts.ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	sent := &store.SentWorker{ContractStart: "2026-03-01"}
	markWorker(sent, "510***********123X", testDigest, new(workerRoom))
	tests := []struct {
		name        string
		w           *store.SentWorker
		idNumber    string
		since       *contracts.Date
		wantRefused string
		wantMatch   string
		wantEarly   bool
	}{
		{"the worker", sent, "51010419900101123X", day("2026-03-01"), "", WorkerMatchPartial, false},
		{"the worker, since earlier", sent, "51010419900101123X", day("2026-02-28"), "", WorkerMatchPartial, true},
		{"the worker, no since", sent, "51010419900101123X", nil, "", WorkerMatchPartial, false},
		{"another worker", sent, "510104199001014321", day("2026-03-01"), ReasonWorkerMismatch, WorkerMatchMismatch, false},
		{"nothing kept", nil, "510104199001014321", day("2026-02-01"), "", WorkerMatchUnchecked, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &contracts.Confirmation{WorkerIDNumber: tt.idNumber, Since: tt.since}
			var s Confirmed
			if refused := checkWorker(c, tt.w, testDigest, &s); refused != tt.wantRefused {
				t.Errorf("refused %q, want %q", refused, tt.wantRefused)
			}
			if s.WorkerMatch != tt.wantMatch || s.SinceBeforeContractStart != tt.wantEarly {
				t.Errorf("summary: worker_match %q, since_before_contract_start %v; want %q, %v", s.WorkerMatch, s.SinceBeforeContractStart, tt.wantMatch, tt.wantEarly)
			}
		})
	}
}

// TestTheKeptWorkerHoldsNoIDNumber: what the origin keeps of a transfer's
// worker, sent in clear or masked, puts none of the worker's ID number in
// the store's file: not the number, in clear or base64, nor its last four
// characters, nor any six in a row, nor the characters a mask left shown;
// and yet a confirmation with the number matches it, in clear or masked.
func TestTheKeptWorkerHoldsNoIDNumber(t *testing.T) {
	const id = "44030519850607857X"
	masked := &policy.Decision{Obligations: map[string]policy.Obligation{"worker.id_number": {Action: policy.ActionMask, Pattern: "id_number"}}}
	tests := []struct {
		name             string
		dec              *policy.Decision
		want, wantMasked string
	}{
		{"in clear", &policy.Decision{}, WorkerMatchFull, WorkerMatchPartial},
		{"masked", masked, WorkerMatchPartial, WorkerMatchPartial},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.db")
			s, err := store.Open(path, store.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			w, err := sentWorker(workerTransfer(t, id), tt.dec, s.WorkerDigest)
			if err != nil {
				t.Fatal(err)
			}
			out := store.Outgoing{EnvelopeID: "01ENVELOPE", Ref: "51/transfer/T-1", Type: "transfer", Peer: "44", Envelope: []byte(`{}`), Worker: w}
			if _, err := s.Enqueue(context.Background(), []store.Outgoing{out}); err != nil {
				t.Fatal(err)
			}
			kept, err := s.SentWorker(out.Ref)
			if err != nil {
				t.Fatal(err)
			}
			if got := compareIDNumbers(&kept, id, s.WorkerDigest); got != tt.want {
				t.Errorf("the worker's own number against what was kept: %s, want %s", got, tt.want)
			}
			if got := compareIDNumbers(&kept, "440***********857X", s.WorkerDigest); got != tt.wantMasked {
				t.Errorf("the worker's own number masked against what was kept: %s, want %s", got, tt.wantMasked)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range []string{id, base64.StdEncoding.EncodeToString([]byte(id)), id[len(id)-4:], "440857X" /* the characters the mask shows */} {
				if bytes.Contains(file, []byte(part)) {
					t.Errorf("the store's file holds %q of the worker's ID number", part)
				}
			}
			for i := 0; i+6 <= len(id); i++ {
				if bytes.Contains(file, []byte(id[i:i+6])) {
					t.Errorf("the store's file holds %q, six characters of the worker's ID number", id[i:i+6])
				}
			}
		})
	}
}

// workerTransfer is a transfer of the worker with ID number id, as much of
// one as sentWorker reads.
func workerTransfer(t *testing.T, id string) *contracts.Transfer {
	t.Helper()
	start, err := contracts.ParseDate("2026-03-01")
	if err != nil {
		t.Fatal(err)
	}
	return &contracts.Transfer{Worker: contracts.Worker{IDNumber: id}, Placement: contracts.Placement{ContractStart: start}}
}
