package httpbody

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
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

// TestReadRequestRefusesWhatIsOverItsLimit: a body over the limit is
// refused, whether it says so in its declared length (before it is read)
// or only runs past the limit as it is read; both errors say the limit.
func TestReadRequestRefusesWhatIsOverItsLimit(t *testing.T) {
	const limit = 1000
	for _, c := range []struct {
		name     string
		size     int
		declared int64
		tooLarge bool
	}{
		{"at the limit, declared", limit, limit, false},
		{"at the limit, undeclared", limit, -1, false},
		{"over, declared", limit + 1, limit + 1, true},
		{"over, undeclared", limit + 1, -1, true},
		{"over, declared short", 5 * limit, 10, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.NewReader(strings.Repeat("x", c.size))
			r := httptest.NewRequest(http.MethodPost, "/", src)
			r.ContentLength = c.declared
			body, err := ReadRequest(r, limit)
			if !c.tooLarge {
				if err != nil || len(body) != c.size {
					t.Fatalf("read %d bytes, %v; want all %d", len(body), err, c.size)
				}
				return
			}
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "limit") || !strings.Contains(err.Error(), "1000") {
				t.Fatalf("error %v; want ErrTooLarge saying the limit of 1000", err)
			}
			if c.declared > limit && src.Len() != c.size {
				t.Errorf("%d bytes of a body declared over the limit were read; want none", c.size-src.Len())
			}
		})
	}
}
