// Package boltfile checks a bbolt file before bbolt maps it. bbolt trusts
// the file's meta page: when the file is shorter than the meta says (a copy
// or restore cut short, a full disk), bbolt reads mapped memory past its end
// and the process dies of a fault no recover can catch. Check reads the two
// meta pages itself and refuses such a file with an error that says what to
// do.
package boltfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// ErrDamaged is wrapped by every error that refuses a file for what it
// holds, as opposed to one that could not be read at all.
var ErrDamaged = errors.New("is truncated or damaged")

// bbolt's on-disk format (go.etcd.io/bbolt internal/common, format version
// 2): a page header of 16 bytes, then on pages 0 and 1 the meta, whose
// fields are in the machine's byte order.
const (
	magic         = 0xED0CDAED
	version       = 2
	headerSize    = 16 // page id, flags, count, overflow
	metaSize      = 64
	checksumStart = 56 // the checksum is FNV-64a over the meta before it
	noFreelist    = ^uint64(0)
	// firstMetaRead is how much of the file bbolt must be able to read
	// before it trusts the page size of the first meta.
	firstMetaRead = 0x1000
)

// meta is what Check needs of a meta page.
type meta struct {
	pageSize uint32
	root     uint64 // root bucket's page
	freelist uint64 // freelist page, or noFreelist
	pgid     uint64 // high-water mark: pages [0, pgid) are in use
	txid     uint64
}

// Check reports whether the bbolt file at path can be opened without bbolt
// reading past its end. A missing or empty file passes: bbolt creates it.
// It picks the meta page bbolt would (the valid one with the highest
// transaction id, falling back to the other) and refuses the file, with an
// error wrapping ErrDamaged, when neither meta is valid or the chosen one
// claims more pages than the file holds. It reads only the meta pages, so
// damage inside the tree is left to bbolt.
func Check(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check bbolt file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("check bbolt file: %w", err)
	}
	size := info.Size()
	if size == 0 {
		return nil
	}
	damaged := func(format string, args ...any) error {
		return fmt.Errorf("bbolt file %s %w (%s); restore it from a backup", path, ErrDamaged, fmt.Sprintf(format, args...))
	}
	pageSize, err := findPageSize(f, size)
	if err != nil {
		return err
	}
	if pageSize == 0 {
		return damaged("%d bytes, and no valid meta page", size)
	}
	if size < 2*int64(pageSize) {
		return damaged("%d bytes, shorter than its two meta pages of %d bytes", size, pageSize)
	}
	m, err := newestMeta(f, int64(pageSize))
	if err != nil {
		return err
	}
	if m == nil {
		return damaged("%d bytes, and neither meta page is valid", size)
	}
	switch {
	case m.pgid > uint64(size)/uint64(m.pageSize):
		return damaged("%d bytes, but its meta of transaction %d says it holds %d pages of %d bytes, %d bytes", size, m.txid, m.pgid, m.pageSize, m.pgid*uint64(m.pageSize))
	case m.root >= m.pgid:
		return damaged("its meta of transaction %d puts the root at page %d, past its %d pages", m.txid, m.root, m.pgid)
	case m.freelist != noFreelist && m.freelist >= m.pgid:
		return damaged("its meta of transaction %d puts the freelist at page %d, past its %d pages", m.txid, m.freelist, m.pgid)
	}
	return nil
}

// findPageSize finds the page size as bbolt's Open does: from the first
// meta if it is valid, else from the first valid meta at a power of two
// from 1 KiB to 16 MiB. 0 means none is valid.
func findPageSize(f *os.File, size int64) (uint32, error) {
	if size >= firstMetaRead {
		m, err := readMeta(f, 0)
		if err != nil || m != nil {
			return pageSizeOf(m), err
		}
	}
	for i := range 15 {
		pos := int64(1024) << i
		if pos >= size-1024 {
			break
		}
		m, err := readMeta(f, pos)
		if err != nil || m != nil {
			return pageSizeOf(m), err
		}
	}
	return 0, nil
}

func pageSizeOf(m *meta) uint32 {
	if m == nil {
		return 0
	}
	return m.pageSize
}

// newestMeta returns the meta bbolt would use: of pages 0 and 1, the one
// with the higher transaction id if it is valid, else the other if it is.
func newestMeta(f *os.File, pageSize int64) (*meta, error) {
	m0, err := readMeta(f, 0)
	if err != nil {
		return nil, err
	}
	m1, err := readMeta(f, pageSize)
	if err != nil {
		return nil, err
	}
	if m0 == nil || (m1 != nil && m1.txid > m0.txid) {
		return m1, nil
	}
	return m0, nil
}

// readMeta reads the meta of the page at off; nil means it is not a valid
// meta (wrong magic or version, bad checksum, zero page size). Bytes past
// the end of the file read as zeros, as bbolt's buffer does.
func readMeta(f *os.File, off int64) (*meta, error) {
	var buf [headerSize + metaSize]byte
	if _, err := f.ReadAt(buf[:], off); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("check bbolt file: %w", err)
	}
	b := buf[headerSize:]
	h := fnv.New64a()
	h.Write(b[:checksumStart])
	order := binary.NativeEndian
	m := &meta{
		pageSize: order.Uint32(b[8:]),
		root:     order.Uint64(b[16:]),
		freelist: order.Uint64(b[32:]),
		pgid:     order.Uint64(b[40:]),
		txid:     order.Uint64(b[48:]),
	}
	if order.Uint32(b[0:]) != magic || order.Uint32(b[4:]) != version || order.Uint64(b[checksumStart:]) != h.Sum64() || m.pageSize == 0 {
		return nil, nil
	}
	return m, nil
}
