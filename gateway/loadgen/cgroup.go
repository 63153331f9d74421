package loadgen

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// CgroupRoot is where Linux mounts its control groups.
const CgroupRoot = "/sys/fs/cgroup"

// A MemoryGroup is a memory control group (cgroup) that caps what the
// processes in it hold, as a container's memory limit does: their own
// memory and the page cache they bring in, a node's database pages among
// it. The kernel reclaims page cache at the limit and kills a process only
// when what it cannot reclaim would exceed it.
type MemoryGroup struct {
	dir string
	v1  bool // cgroup v1: a memory hierarchy of its own
}

// NewMemoryGroup makes a memory cgroup called name under root, limited to
// limit bytes with no swap beyond it: under root/memory where the kernel
// mounts cgroup v1's memory hierarchy there (also on hybrid systems), else
// in root's cgroup v2 hierarchy. It needs root's permission to write there.
func NewMemoryGroup(root, name string, limit int64) (*MemoryGroup, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("memory cgroup %s: the limit must be positive, not %d", name, limit)
	}
	g, err := memoryHierarchy(root, name)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(g.dir, 0o755); err != nil {
		return nil, fmt.Errorf("make memory cgroup: %w", err)
	}
	if err := g.limit(limit); err != nil {
		os.Remove(g.dir) // just made, with no process in it
		return nil, err
	}
	return g, nil
}

// limit caps the group at the given bytes, with no swap beyond them.
func (g *MemoryGroup) limit(bytes int64) error {
	limitFile, swapFile, swapLimit := "memory.max", "memory.swap.max", "0"
	if g.v1 {
		limitFile, swapFile, swapLimit = "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", strconv.FormatInt(bytes, 10)
	}
	if err := g.write(limitFile, strconv.FormatInt(bytes, 10)); err != nil {
		return err
	}
	// Swap accounting is optional in the kernel; without it, there is no
	// swap to limit.
	if _, err := os.Stat(filepath.Join(g.dir, swapFile)); err != nil {
		return nil
	}
	return g.write(swapFile, swapLimit)
}

// memoryHierarchy finds where under root a memory cgroup called name goes.
func memoryHierarchy(root, name string) (*MemoryGroup, error) {
	if _, err := os.Stat(filepath.Join(root, "memory", "memory.limit_in_bytes")); err == nil {
		return &MemoryGroup{dir: filepath.Join(root, "memory", name), v1: true}, nil
	}
	controllers, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("no cgroup v1 memory hierarchy and no cgroup v2 hierarchy under %s: %w", root, err)
	}
	if !slices.Contains(strings.Fields(string(controllers)), "memory") {
		return nil, fmt.Errorf("the cgroup v2 hierarchy at %s has no memory controller (cgroup.controllers: %q)", root, strings.TrimSpace(string(controllers)))
	}
	// A child has the memory controller only if its parent hands it down.
	subtree := filepath.Join(root, "cgroup.subtree_control")
	enabled, err := os.ReadFile(subtree)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", subtree, err)
	}
	if !slices.Contains(strings.Fields(string(enabled)), "memory") {
		if err := os.WriteFile(subtree, []byte("+memory"), 0o644); err != nil {
			return nil, fmt.Errorf("enable the memory controller in %s: %w", subtree, err)
		}
	}
	return &MemoryGroup{dir: filepath.Join(root, name)}, nil
}

// Add moves the process pid into the group. What the process allocated
// before stays charged where it was; a process added as soon as it starts
// brings little.
func (g *MemoryGroup) Add(pid int) error {
	return g.write("cgroup.procs", strconv.Itoa(pid))
}

// Peak is the most memory the kernel has charged to the group at once, in
// bytes.
func (g *MemoryGroup) Peak() (int64, error) {
	name := "memory.peak" // Linux 5.19 and later
	if g.v1 {
		name = "memory.max_usage_in_bytes"
	}
	data, err := os.ReadFile(filepath.Join(g.dir, name))
	if err != nil {
		if !g.v1 && errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("cgroup %s has no memory.peak: the kernel keeps one from Linux 5.19", g.dir)
		}
		return 0, fmt.Errorf("read the peak memory of cgroup %s: %w", g.dir, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s of cgroup %s: %w", name, g.dir, err)
	}
	return n, nil
}

// OOMKills is how many processes of the group the kernel killed for
// exceeding its limit.
func (g *MemoryGroup) OOMKills() (int64, error) {
	name := "memory.events"
	if g.v1 {
		name = "memory.oom_control"
	}
	path := filepath.Join(g.dir, name)
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read the OOM kills of cgroup %s: %w", g.dir, err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "oom_kill "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: oom_kill %q: %w", path, rest, err)
			}
			return n, nil
		}
	}
	if err := s.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return 0, fmt.Errorf("%s has no oom_kill line (Linux 4.13 and later count them)", path)
}

// Remove deletes the group; its processes must have exited. (The kernel
// removes a group's directory with its control files in it.)
func (g *MemoryGroup) Remove() error {
	err := os.Remove(g.dir)
	switch {
	case err == nil || errors.Is(err, os.ErrNotExist):
		return nil
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("remove memory cgroup %s: processes are still in it", g.dir)
	}
	return fmt.Errorf("remove memory cgroup: %w", err)
}

func (g *MemoryGroup) write(name, value string) error {
	if err := os.WriteFile(filepath.Join(g.dir, name), []byte(value), 0o644); err != nil {
		return fmt.Errorf("write %s to cgroup file: %w", value, err)
	}
	return nil
}
