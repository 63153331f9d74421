package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestReceiveTakesCountersAsItStores: an incoming record's counters are
// taken in the commit that stores it, up to their Max: the record past
// it is refused with ErrOverQuota and nothing of it is written (neither
// the inbox entry nor its case change), a duplicate counts nothing, and
// the room a refused record did not take is there for a later one.
func TestReceiveTakesCountersAsItStores(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	counters := []Counter{{Name: "received/quota/AG-1/referral/2026", Max: 2}}
	in := func(id string) Incoming {
		key := CaseKey("51", "44", "RF-"+id)
		return Incoming{EnvelopeID: id, From: "51", Type: "referral", Envelope: []byte(`{}`), Receipt: []byte(`"r"`), Counters: counters,
			Case: &CaseChange{Key: key, Apply: func(*Case) (*Case, error) { return &Case{Key: key, Status: "referred"}, nil }}}
	}
	got, err := s.Receive(ctx, []Incoming{in("01A"), in("01A"), in("01B"), in("01C")})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Refused != nil || !got[1].Duplicate || got[2].Refused != nil || !errors.Is(got[3].Refused, ErrOverQuota) {
		t.Fatalf("received %+v; want the first two stored, a copy a duplicate, the third over quota", got)
	}
	if _, err := s.Case(CaseKey("51", "44", "RF-01C"), time.Now()); !errors.Is(err, ErrNotFound) {
		t.Errorf("the case of a record over quota: %v, want not found", err)
	}
	if items, err := s.Inbox(0, 10); err != nil || len(items) != 2 {
		t.Errorf("inbox holds %d items, %v; want 2", len(items), err)
	}
	// Sent again, the stored ones count nothing.
	if got, err = s.Receive(ctx, []Incoming{in("01A"), in("01B")}); err != nil || !got[0].Duplicate || !got[1].Duplicate {
		t.Fatalf("redelivery: %+v, %v", got, err)
	}
	if n, err := s.Counter(counters[0].Name); err != nil || n != 2 {
		t.Errorf("counter = %d, %v; want 2", n, err)
	}
	// A higher limit (an amended quota) makes room for the refused one.
	counters[0].Max = 3
	if got, err = s.Receive(ctx, []Incoming{in("01C")}); err != nil || got[0].Refused != nil || got[0].Duplicate {
		t.Fatalf("under a raised limit: %+v, %v", got, err)
	}
	if n, err := s.Counter(counters[0].Name); err != nil || n != 3 {
		t.Errorf("counter = %d, %v; want 3", n, err)
	}
}
