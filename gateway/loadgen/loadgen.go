// Package loadgen measures a node pair's throughput over the real record
// path: synthetic transfers submitted to the origin's local API, from many
// concurrent clients one record at a time or in batches, until the
// destination has stored every one. It measures a bare mutual-TLS echo
// server with the same payloads in the same pattern, so a report shows the
// gateway's throughput as a fraction of what the transport alone allows.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/laborlink/laborlink/contracts/synth"
)

// Options shape one run.
type Options struct {
	// Records is how many records to push.
	Records int
	// Batch is records per request: 1 (single-record mode) or more.
	Batch int
	// Concurrency is how many clients submit at once.
	Concurrency int
	// Origin and Destination are the corridor's provinces.
	Origin, Destination string
	// Seed makes the records reproducible; runs need distinct seeds or the
	// origin answers duplicates.
	Seed uint64
	// Progress, if set, gets a line every second.
	Progress io.Writer
}

func (o Options) validate() error {
	switch {
	case o.Records < 1:
		return errors.New("records must be positive")
	case o.Batch < 1 || o.Batch > 1000:
		return fmt.Errorf("batch must be 1 to 1000, got %d", o.Batch)
	case o.Concurrency < 1:
		return errors.New("concurrency must be positive")
	}
	return nil
}

// Submitter sends one request's worth of records and reports how many were
// accepted. The gateway's local API client and the echo client are two.
type Submitter interface {
	Submit(ctx context.Context, docs []json.RawMessage) (accepted int, err error)
}

// Result is one run's figures.
type Result struct {
	Mode       string        `json:"mode"`
	Records    int           `json:"records"`
	Accepted   int           `json:"accepted"`
	Elapsed    time.Duration `json:"elapsed"`
	PerSecond  float64       `json:"records_per_second"`
	P50        time.Duration `json:"p50"`
	P90        time.Duration `json:"p90"`
	P99        time.Duration `json:"p99"`
	Max        time.Duration `json:"max"`
	Errors     int           `json:"errors"`
	FirstError string        `json:"first_error,omitempty"`
}

// Generate makes the records of a run, before any timing starts.
func Generate(o Options) ([][]json.RawMessage, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	g, err := synth.New(synth.Config{Origin: o.Origin, Destination: o.Destination, Seed: o.Seed})
	if err != nil {
		return nil, err
	}
	var reqs [][]json.RawMessage
	for sent := 0; sent < o.Records; {
		n := min(o.Batch, o.Records-sent)
		req := make([]json.RawMessage, n)
		for i := range req {
			t := g.Transfer()
			// Generated ids repeat across seeds; a run's must be its own.
			// The seed (a clock reading, for the bench) follows a letter:
			// an id may not have a run of 11 or more digits between
			// separators, the shape of a phone or ID number.
			t.ID = fmt.Sprintf("LOAD-S%d-%07d", o.Seed, sent+i)
			if req[i], err = json.Marshal(t); err != nil {
				return nil, err
			}
		}
		reqs = append(reqs, req)
		sent += n
	}
	return reqs, nil
}

// Push sends the requests from o.Concurrency clients and times each request
// (submit latency: until the records are durably accepted). Client w sends
// through conns[w % len(conns)]: a business system with several workers
// holds several connections, and one HTTP/2 connection shared by dozens of
// clients measures its own locks more than the server.
func Push(ctx context.Context, conns []Submitter, reqs [][]json.RawMessage, o Options) Result {
	mode := "single"
	if o.Batch > 1 {
		mode = fmt.Sprintf("batch-%d", o.Batch)
	}
	var next, accepted, done atomic.Int64
	lat := make([][]time.Duration, o.Concurrency)
	var errMu sync.Mutex
	var errs int
	var first string
	start := time.Now()
	stop := make(chan struct{})
	if o.Progress != nil {
		go progress(o.Progress, mode, &done, o.Records, start, stop)
	}
	var wg sync.WaitGroup
	for w := range o.Concurrency {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if int(i) >= len(reqs) || ctx.Err() != nil {
					return
				}
				t := time.Now()
				n, err := conns[w%len(conns)].Submit(ctx, reqs[i])
				lat[w] = append(lat[w], time.Since(t))
				accepted.Add(int64(n))
				done.Add(int64(len(reqs[i])))
				if err != nil {
					errMu.Lock()
					if errs == 0 {
						first = err.Error()
					}
					errs++
					errMu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := Result{Mode: mode, Records: o.Records, Accepted: int(accepted.Load()), Elapsed: elapsed, Errors: errs, FirstError: first}
	r.PerSecond = float64(r.Accepted) / elapsed.Seconds()
	if len(all) > 0 {
		r.P50, r.P90, r.P99, r.Max = pct(all, 50), pct(all, 90), pct(all, 99), all[len(all)-1]
	}
	return r
}

func pct(sorted []time.Duration, p int) time.Duration {
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func progress(w io.Writer, mode string, done *atomic.Int64, total int, start time.Time, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			n := done.Load()
			fmt.Fprintf(w, "  %s: %d/%d records, %.0f/s\n", mode, n, total, float64(n)/time.Since(start).Seconds())
		}
	}
}

// Drain waits until the origin's outbox is empty, that is until the
// destination has stored and receipted every record, and says how long it took.
func Drain(ctx context.Context, origin StatusReader) (time.Duration, error) {
	start := time.Now()
	for {
		var st struct {
			Queues map[string]int `json:"queues"`
		}
		if err := origin.Get(ctx, "/api/v1/status", &st); err != nil {
			return 0, err
		}
		total := 0
		for _, n := range st.Queues {
			total += n
		}
		if total == 0 {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%d records still queued: %w", total, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StatusReader reads a node API path; *api.Client is one.
type StatusReader interface {
	Get(ctx context.Context, path string, out any) error
}
