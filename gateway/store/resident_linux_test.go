package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var bucketFill = []byte("fill")

// fillValue is value i of the fill bucket: 4 KiB that say which they are.
func fillValue(i int) []byte {
	v := bytes.Repeat([]byte{byte(i)}, 4<<10)
	binary.BigEndian.PutUint32(v, uint32(i))
	return v
}

// fill commits values from..to-1 of the fill bucket through the store's
// group commit, as a node's writes go.
func fill(t *testing.T, s *Store, from, to int) {
	t.Helper()
	err := s.c.do(context.Background(), func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketFill)
		if err != nil {
			return err
		}
		for i := from; i < to; i++ {
			if err := b.Put(binary.BigEndian.AppendUint32(nil, uint32(i)), fillValue(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readAll reads every value of the fill bucket through the mapping and
// checks it is the value written.
func readAll(t *testing.T, s *Store, n int) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFill)
		for i := range n {
			if v := b.Get(binary.BigEndian.AppendUint32(nil, uint32(i))); !bytes.Equal(v, fillValue(i)) {
				t.Fatalf("value %d reads back as %d bytes that differ from those written", i, len(v))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mappedResident is how many bytes of the file at path the process holds
// resident through its mappings, from /proc/self/smaps.
func mappedResident(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var total int64
	inFile := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-"):
			inFile = fields[len(fields)-1] == path
		case inFile && fields[0] == "Rss:":
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				t.Fatalf("smaps: %q: %v", line, err)
			}
			total += kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

// TestReleaseDropsMappedPagesOnly: pages read through the mapping stay
// resident until released; releasing drops them from the resident set and
// every value reads back as written.
func TestReleaseDropsMappedPagesOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	s := openAt(t, path, Options{NoSync: true, ReleaseEvery: -1})
	const n = 2500 // ~10 MiB: the mapping (16 MiB) holds it without a remap
	for i := 0; i < n; i += 250 {
		fill(t, s, i, i+250)
	}
	readAll(t, s, n)
	if got := mappedResident(t, path); got < 8<<20 {
		t.Fatalf("after reading %d values of 4 KiB, %d bytes of the file are resident; want at least 8 MiB", n, got)
	}
	if err := release(s.db); err != nil {
		t.Fatal(err)
	}
	if got := mappedResident(t, path); got > 1<<20 {
		t.Fatalf("after release, %d bytes of the file are still resident; want at most 1 MiB", got)
	}
	readAll(t, s, n)
}

// TestCommitReleasesAfterGrowth: a commit that takes the data ReleaseEvery
// past the last release releases the mapping's pages; one that does not
// leaves them.
func TestCommitReleasesAfterGrowth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	s := openAt(t, path, Options{NoSync: true, ReleaseEvery: 2 << 20})
	const n = 2000 // ~8 MiB, releasing at least three times on the way
	for i := 0; i < n; i += 100 {
		fill(t, s, i, i+100)
	}
	readAll(t, s, n)
	before := mappedResident(t, path)
	if before < 6<<20 {
		t.Fatalf("after reading %d values of 4 KiB, %d bytes of the file are resident; want at least 6 MiB", n, before)
	}
	fill(t, s, n, n+10) // 40 KiB: no release
	if got := mappedResident(t, path); got < before {
		t.Fatalf("a commit of 40 KiB released the mapping (resident %d -> %d bytes); releases are %d bytes apart", before, got, 2<<20)
	}
	fill(t, s, n+10, n+700) // 2.7 MiB: a release
	if got := mappedResident(t, path); got > 1<<20 {
		t.Fatalf("after the data grew by 2.7 MiB, %d bytes of the file are resident; want at most 1 MiB", got)
	}
	readAll(t, s, n+700)
}

func TestReleaserCountsGrowthFromTheLastRelease(t *testing.T) {
	r := releaser{every: 100}
	for _, step := range []struct {
		size int64
		want bool
	}{{50, false}, {99, false}, {100, true}, {150, false}, {199, false}, {200, true}, {1000, true}, {1099, false}} {
		last := r.last
		if got := r.grown(step.size); got != step.want {
			t.Fatalf("grown(%d) after a release at %d = %v, want %v", step.size, last, got, step.want)
		}
	}
	never := releaser{}
	if never.grown(1 << 40) {
		t.Fatal("a releaser with every 0 released")
	}
}
