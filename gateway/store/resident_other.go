//go:build !linux

package store

// dropResident does nothing where madvise is not at hand: the kernel still
// reclaims mapped pages when it runs short.
func dropResident(uintptr, int64) error { return nil }
