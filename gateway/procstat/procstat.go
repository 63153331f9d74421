// Package procstat reads what the kernel tells of a process: its CPU time,
// its resident memory now and at its highest. The load tool and the
// benchmarks report their figures from it; on a system without /proc every
// reading is 0.
package procstat

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// PeakRSS samples this process's resident memory until stop is closed (from
// /proc; 0 where there is none).
func PeakRSS(interval time.Duration, stop <-chan struct{}) *PeakReading {
	return Peak(interval, stop, residentBytes)
}

// A PeakReading is the highest of a series of readings.
type PeakReading struct {
	peak atomic.Int64
	done chan struct{}
}

// Max waits for the last reading, taken when stop is closed, and returns
// the highest. stop must be closed first.
func (p *PeakReading) Max() int64 {
	<-p.done
	return p.peak.Load()
}

// Peak calls read every interval until stop is closed, and once more then,
// and keeps the highest reading.
func Peak(interval time.Duration, stop <-chan struct{}, read func() int64) *PeakReading {
	p := &PeakReading{done: make(chan struct{})}
	sample := func() {
		if v := read(); v > p.peak.Load() {
			p.peak.Store(v)
		}
	}
	sample()
	go func() {
		defer close(p.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				sample()
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return p
}

func residentBytes() int64 { return statusKB("/proc/self/status", "VmRSS:") << 10 }

// statusKB reads a "Name:   123 kB" line of a /proc status file.
func statusKB(path, name string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), name); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

// CPUTime is the CPU time (user and system) this process has used so far;
// zero where the platform does not say.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ProcessPeakRSS is another process's peak resident memory in bytes, as the
// kernel counts it (VmHWM: the highest it has been, not a sample); 0 where
// /proc does not say.
func ProcessPeakRSS(pid int) int64 {
	return statusKB("/proc/"+strconv.Itoa(pid)+"/status", "VmHWM:") << 10
}

// ProcessAnonRSS is another process's resident anonymous memory now, in
// bytes: its heap and stacks, without the pages of files it maps, such as a
// database's (RssAnon; the kernel keeps no peak of it). 0 where /proc does
// not say.
func ProcessAnonRSS(pid int) int64 {
	return statusKB("/proc/"+strconv.Itoa(pid)+"/status", "RssAnon:") << 10
}

// ProcessCPUTime is the CPU time (user and system) another process has used
// so far; zero where /proc does not say.
func ProcessCPUTime(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it are numbers.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // fields 14 and 15 of stat(5)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ, fixed for /proc on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}
