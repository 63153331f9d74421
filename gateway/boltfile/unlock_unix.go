//go:build unix

package boltfile

import (
	"os"
	"syscall"
)

// unlock drops bbolt's flock on f. Closing f alone would not: the mapping
// bbolt leaves behind holds the open file, and the lock with it.
func unlock(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
