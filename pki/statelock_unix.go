//go:build unix

package pki

import (
	"fmt"
	"os"
	"syscall"
)

// lockState takes the lock on a CA directory's records, held by every
// command that reads the state and writes it back (issue, sign-province,
// revoke, crl), until the returned unlock. Without it two runs at once
// each read the state, and the second to write dropped the first's
// certificate from it (issued, yet not listed: revoking it needed
// --force), or both passed the check that a leaf's files are not there.
// The lock is flock(2) on the directory itself: it needs no file of its
// own, and a run that dies holding it releases it.
func lockState(dir string) (unlock func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	for {
		err = syscall.Flock(int(d.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { d.Close() }, nil // closing releases the lock
}
