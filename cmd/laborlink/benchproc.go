package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/gateway/devfed"
	"github.com/laborlink/laborlink/gateway/loadgen"
	"github.com/laborlink/laborlink/gateway/procstat"
)

// nodeProcesses are the development federation's nodes run as processes of
// this binary (`laborlink node`), as they are deployed: each with its own
// runtime, so that the bench can report each node's memory and CPU.
type nodeProcesses struct {
	cmds   map[string]*exec.Cmd // by province
	done   map[string]*exited
	groups map[string]*loadgen.MemoryGroup // by province, with a memory limit
}

// exited is closed when a node process has exited; err is then its result.
type exited struct {
	ch  chan struct{}
	err error
}

// startNodeProcesses starts a node process per province of f, whose own
// nodes must be closed, and waits until each is ready. The nodes' logs go
// to D/pP/node.log. With a memory limit (bytes; 0 for none) each node runs
// in a memory cgroup of its own capped at it, as a container would. Each
// node writes the profiles prof asks for to files of its own (see forNode).
func startNodeProcesses(ctx context.Context, f *devfed.Federation, memLimit int64, prof profiles) (*nodeProcesses, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	np := &nodeProcesses{cmds: map[string]*exec.Cmd{}, done: map[string]*exited{}, groups: map[string]*loadgen.MemoryGroup{}}
	for _, p := range f.Provinces {
		var group *loadgen.MemoryGroup
		if memLimit > 0 {
			name := fmt.Sprintf("laborlink-bench-%d-p%s", os.Getpid(), p)
			if group, err = loadgen.NewMemoryGroup(loadgen.CgroupRoot, name, memLimit); err != nil {
				np.stop()
				return nil, fmt.Errorf("--memory-limit: %w", err)
			}
			np.groups[p] = group
		}
		log, err := os.Create(filepath.Join(f.Dir, "p"+p, "node.log"))
		if err != nil {
			np.stop()
			return nil, err
		}
		cmd := exec.Command(exe, append([]string{"node", "--config", filepath.Join(f.Dir, "p"+p, "node.yaml")}, prof.forNode(p)...)...)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			log.Close()
			np.stop()
			return nil, fmt.Errorf("start the node of %s: %w", p, err)
		}
		done := &exited{ch: make(chan struct{})}
		go func() { done.err = cmd.Wait(); log.Close(); close(done.ch) }()
		np.cmds[p], np.done[p] = cmd, done
		if group != nil {
			// The node is still starting its runtime: nearly all it will
			// hold is charged to the group.
			if err := group.Add(cmd.Process.Pid); err != nil {
				np.stop()
				return nil, fmt.Errorf("--memory-limit: the node of %s: %w", p, err)
			}
		}
	}
	for _, p := range f.Provinces {
		cl, err := f.APIClient(p, f.Certs[p].Operator)
		if err != nil {
			np.stop()
			return nil, err
		}
		if err := waitNodeReady(ctx, cl, np.done[p]); err != nil {
			np.stop()
			return nil, fmt.Errorf("the node of %s (log %s): %w", p, filepath.Join(f.Dir, "p"+p, "node.log"), err)
		}
	}
	return np, nil
}

func waitNodeReady(ctx context.Context, cl *api.Client, done *exited) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		var st struct{ Ready string }
		err := cl.Get(ctx, "/api/v1/status", &st)
		if err == nil && st.Ready == "ready" {
			return nil
		}
		select {
		case <-done.ch:
			return fmt.Errorf("exited: %v", done.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready after 30s: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cpu is the CPU time the node processes have used so far.
func (np *nodeProcesses) cpu() time.Duration {
	var sum time.Duration
	for _, cmd := range np.cmds {
		sum += procstat.ProcessCPUTime(cmd.Process.Pid)
	}
	return sum
}

// peaks reports each node's peak resident memory so far, in MB.
func (np *nodeProcesses) peaks() map[string]float64 {
	out := map[string]float64{}
	for p, cmd := range np.cmds {
		out[p] = float64(procstat.ProcessPeakRSS(cmd.Process.Pid)) / (1 << 20)
	}
	return out
}

// sampleAnon samples each node's anonymous resident memory every interval
// until stop is closed, and returns each one's highest reading by province.
func (np *nodeProcesses) sampleAnon(interval time.Duration, stop <-chan struct{}) map[string]*procstat.PeakReading {
	out := map[string]*procstat.PeakReading{}
	for p, cmd := range np.cmds {
		pid := cmd.Process.Pid
		out[p] = procstat.Peak(interval, stop, func() int64 { return procstat.ProcessAnonRSS(pid) })
	}
	return out
}

// cgroupPeaks reports, with a memory limit, the most memory each node's
// cgroup was charged at once (MB) and how many of its processes the kernel
// killed at the limit.
func (np *nodeProcesses) cgroupPeaks() (peaks map[string]float64, oomKills map[string]int64, err error) {
	peaks, oomKills = map[string]float64{}, map[string]int64{}
	for p, g := range np.groups {
		peak, err := g.Peak()
		if err != nil {
			return nil, nil, err
		}
		if oomKills[p], err = g.OOMKills(); err != nil {
			return nil, nil, err
		}
		peaks[p] = float64(peak) / (1 << 20)
	}
	return peaks, oomKills, nil
}

// stop interrupts every node, waits for it to drain and exit, and removes
// its memory cgroup.
func (np *nodeProcesses) stop() error {
	var errs []error
	for p, cmd := range np.cmds {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-np.done[p].ch:
			if err := np.done[p].err; err != nil {
				errs = append(errs, fmt.Errorf("the node of %s: %w", p, err))
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			errs = append(errs, fmt.Errorf("the node of %s did not stop within 20s", p))
		}
	}
	np.cmds = nil
	for _, g := range np.groups {
		if err := g.Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	np.groups = nil
	return errors.Join(errs...)
}

// formatPeaks writes "p51 137 MB, p44 100 MB" in the federation's order,
// or with anonymous peaks "p51 137 MB (anonymous 70 MB), ...".
func formatPeaks(provinces []string, peaks, anon map[string]float64) string {
	parts := make([]string, 0, len(provinces))
	for _, p := range provinces {
		part := fmt.Sprintf("p%s %.0f MB", p, peaks[p])
		if a, ok := anon[p]; ok {
			part += fmt.Sprintf(" (anonymous %.0f MB)", a)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

// formatKills writes "none", or "p51 1" for each node the kernel killed.
func formatKills(provinces []string, kills map[string]int64) string {
	var parts []string
	for _, p := range provinces {
		if kills[p] > 0 {
			parts = append(parts, fmt.Sprintf("p%s %d", p, kills[p]))
		}
	}
	if parts == nil {
		return "none"
	}
	return strings.Join(parts, ", ")
}
