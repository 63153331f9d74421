package exchange

import (
	"testing"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/store"
)

// TestCompareIDNumbersLeavesMaskedPositionsOut: a confirmation's worker ID
// number is compared with its transfer's position by position, either of
// them masked; a position masked on either side is not compared, the
// check letter X in either case, and when nothing is left to compare the
// outcome says so rather than match.
func TestCompareIDNumbersLeavesMaskedPositionsOut(t *testing.T) {
	const id = "51010419900101123X"
	tests := []struct {
		name, sent, got, want string
	}{
		{"same", id, id, WorkerMatchFull},
		{"check letter in lower case", id, "51010419900101123x", WorkerMatchFull},
		{"sent masked", "510***********123X", id, WorkerMatchPartial},
		{"got masked", id, "510***********123X", WorkerMatchPartial},
		{"both masked, differently", "5101**********123X", "510***********123x", WorkerMatchPartial},
		{"masks that leave nothing in common", "510***************", "**************123X", WorkerMatchUnchecked},
		{"sent all masked", "******************", id, WorkerMatchUnchecked},
		{"sent dropped", "", id, WorkerMatchUnchecked},
		{"got dropped", id, "", WorkerMatchUnchecked},
		{"another worker", id, "510104199001014321", WorkerMatchMismatch},
		{"another worker, sent masked", "510***********123X", "510104199001014321", WorkerMatchMismatch},
		{"another worker, both masked", "510***********123X", "440***********123X", WorkerMatchMismatch},
		{"one character apart", id, "51010419900101123Y", WorkerMatchMismatch},
		{"another length", id, "51010419900101123", WorkerMatchMismatch},
		{"another length, masked", "******************", "*****************", WorkerMatchMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := compareIDNumbers(tt.sent, tt.got); got != tt.want {
				t.Errorf("compare %q with %q: %s, want %s", tt.sent, tt.got, got, tt.want)
			}
			if got := compareIDNumbers(tt.got, tt.sent); got != tt.want {
				t.Errorf("compare %q with %q: %s, want %s (either way round)", tt.got, tt.sent, got, tt.want)
			}
		})
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
	sent := &store.SentWorker{IDNumber: "510***********123X", ContractStart: "2026-03-01"}
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
			if refused := checkWorker(c, tt.w, &s); refused != tt.wantRefused {
				t.Errorf("refused %q, want %q", refused, tt.wantRefused)
			}
			if s.WorkerMatch != tt.wantMatch || s.SinceBeforeContractStart != tt.wantEarly {
				t.Errorf("summary: worker_match %q, since_before_contract_start %v; want %q, %v", s.WorkerMatch, s.SinceBeforeContractStart, tt.wantMatch, tt.wantEarly)
			}
		})
	}
}
