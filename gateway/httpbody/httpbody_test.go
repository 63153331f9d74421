package httpbody

import (
	"bytes"
	"strings"
	"testing"
)

func TestReadAll(t *testing.T) {
	body := strings.Repeat("x", 100_000)
	for _, declared := range []int64{-1, 0, 100_000, 1 << 40} {
		got, err := ReadAll(strings.NewReader(body), declared, 1<<20)
		if err != nil || string(got) != body {
			t.Errorf("declared %d: read %d bytes, %v", declared, len(got), err)
		}
	}
}

// A body read at its declared length is one allocation of about its size.
func TestReadAllSizesItsBuffer(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 100_000)
	var got []byte
	allocs := testing.AllocsPerRun(20, func() {
		got, _ = ReadAll(bytes.NewReader(body), int64(len(body)), 1<<20)
	})
	if allocs > 2 {
		t.Errorf("%.0f allocations reading a body of declared length", allocs)
	}
	if c := cap(got); c > len(body)+1024 {
		t.Errorf("buffer of %d bytes for a %d-byte body", c, len(body))
	}
}

// A declared length is not taken on trust beyond 4 MiB: a client could
// declare 64 MiB and send nothing.
func TestReadAllDoesNotAllocateADeclaredLengthUpFront(t *testing.T) {
	got, err := ReadAll(strings.NewReader("{}"), 64<<20, 64<<20)
	if err != nil || string(got) != "{}" {
		t.Fatalf("read %q, %v", got, err)
	}
	if c := cap(got); c > maxUpfront+bytes.MinRead {
		t.Errorf("a buffer of %d bytes for a 2-byte body declared as 64 MiB", c)
	}
}
