//go:build !unix

package pki

// lockState is a no-op where flock(2) is not available: two commands on
// one CA directory at once must be avoided by hand there.
func lockState(string) (unlock func(), err error) { return func() {}, nil }
