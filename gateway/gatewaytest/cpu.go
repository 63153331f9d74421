package gatewaytest

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time (user and system) this process has used so far;
// zero where the platform does not say. Benchmarks report it per record:
// on a shared machine it varies less than the rate does.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
