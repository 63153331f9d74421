package store

import "syscall"

// dropResident unmaps the pages of the size bytes mapped at addr from the
// process's page tables; the mapping stays, and its pages come back from
// the page cache when read.
func dropResident(addr uintptr, size int64) error {
	if size <= 0 {
		return nil
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, uintptr(size), syscall.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
