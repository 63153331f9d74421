// Package bolttest damages bbolt files for the tests of what opens them.
package bolttest

import (
	"os"
	"testing"
)

// Truncate cuts the file at path to keep(its size) bytes, as a disk that
// filled up or a copy that stopped short leaves it.
func Truncate(t testing.TB, path string, keep func(size int64) int64) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, keep(info.Size())); err != nil {
		t.Fatal(err)
	}
}

// Half is a keep for Truncate: half the file.
func Half(size int64) int64 { return size / 2 }
