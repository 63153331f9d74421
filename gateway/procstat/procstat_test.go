package procstat

import (
	"os"
	"sync/atomic"
	"testing"
	"time"
)

func TestPeakKeepsTheHighestReading(t *testing.T) {
	// Unbuffered: each send returns once a reading has taken the value.
	readings := make(chan int64)
	var last atomic.Int64
	stop := make(chan struct{})
	peak := Peak(time.Millisecond, stop, func() int64 {
		select {
		case v := <-readings:
			last.Store(v)
		default:
		}
		return last.Load()
	})
	for _, v := range []int64{3, 12, 4, 5} {
		readings <- v
	}
	close(stop)
	if got := peak.Max(); got != 12 {
		t.Errorf("peak %d after readings 3, 12, 4, 5; want 12", got)
	}
}

// Max counts the reading taken when stop is closed: the end of a run is
// often its highest point.
func TestPeakTakesTheLastReading(t *testing.T) {
	var v atomic.Int64
	v.Store(1)
	stop := make(chan struct{})
	peak := Peak(time.Hour, stop, v.Load)
	v.Store(7)
	close(stop)
	if got := peak.Max(); got != 7 {
		t.Errorf("peak %d, want the reading at stop, 7", got)
	}
}

func TestProcessMemoryReadings(t *testing.T) {
	pid := os.Getpid()
	anon, peak := ProcessAnonRSS(pid), ProcessPeakRSS(pid)
	if anon <= 0 || peak < anon {
		t.Errorf("this process: anonymous %d bytes, peak resident %d", anon, peak)
	}
	if got := ProcessAnonRSS(-1); got != 0 {
		t.Errorf("a process that does not exist: %d", got)
	}
}
