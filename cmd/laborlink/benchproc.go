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
)

// nodeProcesses are the development federation's nodes run as processes of
// this binary (`laborlink node`), as they are deployed: each with its own
// runtime, so that the bench can report each node's memory and CPU.
type nodeProcesses struct {
	cmds map[string]*exec.Cmd // by province
	done map[string]*exited
}

// exited is closed when a node process has exited; err is then its result.
type exited struct {
	ch  chan struct{}
	err error
}

// startNodeProcesses starts a node process per province of f, whose own
// nodes must be closed, and waits until each is ready. The nodes' logs go
// to D/pP/node.log.
func startNodeProcesses(ctx context.Context, f *devfed.Federation) (*nodeProcesses, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	np := &nodeProcesses{cmds: map[string]*exec.Cmd{}, done: map[string]*exited{}}
	for _, p := range f.Provinces {
		log, err := os.Create(filepath.Join(f.Dir, "p"+p, "node.log"))
		if err != nil {
			np.stop()
			return nil, err
		}
		cmd := exec.Command(exe, "node", "--config", filepath.Join(f.Dir, "p"+p, "node.yaml"))
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			log.Close()
			np.stop()
			return nil, fmt.Errorf("start the node of %s: %w", p, err)
		}
		done := &exited{ch: make(chan struct{})}
		go func() { done.err = cmd.Wait(); log.Close(); close(done.ch) }()
		np.cmds[p], np.done[p] = cmd, done
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
		sum += loadgen.ProcessCPUTime(cmd.Process.Pid)
	}
	return sum
}

// peaks reports each node's peak resident memory so far, in MB.
func (np *nodeProcesses) peaks() map[string]float64 {
	out := map[string]float64{}
	for p, cmd := range np.cmds {
		out[p] = float64(loadgen.ProcessPeakRSS(cmd.Process.Pid)) / (1 << 20)
	}
	return out
}

// stop interrupts every node and waits for it to drain and exit.
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
	return errors.Join(errs...)
}

// formatPeaks writes "p51 137 MB, p44 100 MB" in the federation's order.
func formatPeaks(provinces []string, peaks map[string]float64) string {
	parts := make([]string, 0, len(provinces))
	for _, p := range provinces {
		parts = append(parts, fmt.Sprintf("p%s %.0f MB", p, peaks[p]))
	}
	return strings.Join(parts, ", ")
}
