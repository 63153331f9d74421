package audit

import (
	"bytes"
	"context"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestPreparedTogetherMatchGeneric: entries prepared in one call share a
// buffer; appended in another order than they were prepared, each is stored
// as the generic encoding writes it.
func TestPreparedTogetherMatchGeneric(t *testing.T) {
	l, db := newTestLog(t)
	es := validEntries(30)
	ps, err := l.Prepare(es...)
	if err != nil {
		t.Fatal(err)
	}
	order := make([]Prepared, 0, len(ps))
	var want [][]byte
	for _, i := range append(evenOdd(len(ps), 1), evenOdd(len(ps), 0)...) {
		order = append(order, ps[i])
		e := es[i]
		e.Index = int64(len(want))
		b, err := genericMarshal(e)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, b)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return l.AppendPreparedTx(tx, order...) }); err != nil {
		t.Fatal(err)
	}
	storedAs(t, l, want)
}

// evenOdd is the indexes below n of parity p, in order.
func evenOdd(n, p int) []int {
	var out []int
	for i := p; i < n; i += 2 {
		out = append(out, i)
	}
	return out
}

// storedAs checks that l holds exactly the entries want, byte for byte.
func storedAs(t *testing.T, l *Log, want [][]byte) {
	t.Helper()
	raws, err := l.RawEntries(context.Background(), 0, l.Size())
	if err != nil {
		t.Fatal(err)
	}
	if len(raws) != len(want) {
		t.Fatalf("%d entries stored, want %d", len(raws), len(want))
	}
	for i, r := range raws {
		if !bytes.Equal(r.Data, want[i]) {
			t.Fatalf("entry %d stored as\n%s\nwant\n%s", i, r.Data, want[i])
		}
	}
}
