package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
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
	if err := s.c.do(context.Background(), putFill(from, to)); err != nil {
		t.Fatal(err)
	}
}

// settle returns once any release the commits so far call for is done. A
// release follows the first commit that starts past the threshold, after
// that commit's writers are answered: the second of two empty commits
// starts once the first's release, if any, is over.
func settle(t *testing.T, s *Store) {
	t.Helper()
	fill(t, s, 0, 0)
	fill(t, s, 0, 0)
}

// putFill puts values from..to-1 of the fill bucket.
func putFill(from, to int) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
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
	}
}

// touchFill reads values from..to-1 of the fill bucket through the
// mapping, mapping their pages, and checks each is the value written.
func touchFill(tx *bolt.Tx, from, to int) error {
	b := tx.Bucket(bucketFill)
	for i := from; i < to; i++ {
		if v := b.Get(binary.BigEndian.AppendUint32(nil, uint32(i))); !bytes.Equal(v, fillValue(i)) {
			return fmt.Errorf("value %d reads back as %d bytes that differ from those written", i, len(v))
		}
	}
	return nil
}

// readAll reads the first n values of the fill bucket and checks them.
func readAll(t *testing.T, s *Store, n int) {
	t.Helper()
	if err := s.db.View(func(tx *bolt.Tx) error { return touchFill(tx, 0, n) }); err != nil {
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
	const every = 2 << 20
	s := openAt(t, path, Options{NoSync: true, ReleaseEvery: every})
	const n = 1500 // ~6 MiB, releasing on the way
	for i := 0; i < n; i += 100 {
		fill(t, s, i, i+100)
	}
	// 2.3 MiB more: a release, wherever the last one was. The file stays
	// under 32 MiB, so bbolt does not remap (which drops every page too).
	fill(t, s, n, n+600)
	settle(t, s)
	readAll(t, s, n+600)
	before := mappedResident(t, path)
	if before < 6<<20 {
		t.Fatalf("after reading %d values of 4 KiB, %d bytes of the file are resident; want at least 6 MiB", n+600, before)
	}
	fill(t, s, n+600, n+610) // 40 KiB since that release: none
	settle(t, s)
	if got := mappedResident(t, path); got < before {
		t.Fatalf("a commit of 40 KiB released the mapping (resident %d -> %d bytes); releases are %d bytes apart", before, got, every)
	}
	fill(t, s, n+610, n+1210) // 2.3 MiB: a release
	settle(t, s)
	if got := mappedResident(t, path); got > 1<<20 {
		t.Fatalf("after the data grew by 2.3 MiB, %d bytes of the file are resident; want at most 1 MiB", got)
	}
	readAll(t, s, n+1210)
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

// BenchmarkRelease is one release of the mapping of a 128 MiB file, with
// all of it read since the last release or only its last 16 MiB, as a node
// that releases every 16 MiB of growth reads: what a commit that crosses a
// release costs the commit loop.
func BenchmarkRelease(b *testing.B) {
	s := openWith(b, Options{NoSync: true, ReleaseEvery: -1})
	const n = 32 << 10 // values of 4 KiB
	for i := 0; i < n; i += 1000 {
		if err := s.c.do(context.Background(), putFill(i, min(i+1000, n))); err != nil {
			b.Fatal(err)
		}
	}
	for _, read := range []struct {
		name string
		from int
	}{{"all-read", 0}, {"last-16MiB-read", n - 4<<10}} {
		b.Run(read.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				if err := s.db.View(func(tx *bolt.Tx) error { return touchFill(tx, read.from, n) }); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := release(s.db); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
