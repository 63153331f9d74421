package loadgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The kernel's cgroup files are stood in for by plain files laid out as
// each hierarchy lays them out: what is tested is which files the group
// writes and how it reads the kernel's answers.

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// checkReadings writes the kernel's answers into g's files and checks what
// Peak and OOMKills read from them.
func checkReadings(t *testing.T, g *MemoryGroup, files map[string]string, peak, oomKills int64) {
	t.Helper()
	for name, content := range files {
		writeFile(t, filepath.Join(g.dir, name), content)
	}
	if got, err := g.Peak(); err != nil || got != peak {
		t.Errorf("Peak = %d, %v; want %d", got, err, peak)
	}
	if n, err := g.OOMKills(); err != nil || n != oomKills {
		t.Errorf("OOMKills = %d, %v; want %d", n, err, oomKills)
	}
}

func TestMemoryGroupV1(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "memory", "memory.limit_in_bytes"), "9223372036854771712\n")
	dir := filepath.Join(root, "memory", "node-p51")
	writeFile(t, filepath.Join(dir, "stale"), "")

	if _, err := NewMemoryGroup(root, "node-p51", 200<<20); err == nil {
		t.Fatal("made a group whose directory exists already")
	}
	os.RemoveAll(dir)
	g, err := NewMemoryGroup(root, "node-p51", 200<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "memory.limit_in_bytes")); got != "209715200" {
		t.Errorf("limit written %q", got)
	}
	if err := g.Add(4242); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "cgroup.procs")); got != "4242" {
		t.Errorf("cgroup.procs %q", got)
	}
	checkReadings(t, g, map[string]string{
		"memory.max_usage_in_bytes": "180355072\n",
		"memory.oom_control":        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
	}, 180355072, 2)
	// The kernel's control files go with the group; plain files do not.
	for _, name := range []string{"memory.limit_in_bytes", "cgroup.procs", "memory.max_usage_in_bytes", "memory.oom_control"} {
		os.Remove(filepath.Join(dir, name))
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("group directory left after Remove: %v", err)
	}
}

// The kernel makes a group's swap limit file only where it accounts swap.
func TestMemoryGroupLimitsSwapWhereAccounted(t *testing.T) {
	for _, c := range []struct {
		v1                  bool
		limitFile, swapFile string
		swap                string
	}{
		{true, "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "67108864"},
		{false, "memory.max", "memory.swap.max", "0"},
	} {
		g := &MemoryGroup{dir: t.TempDir(), v1: c.v1}
		if err := g.limit(64 << 20); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(g.dir, c.swapFile)); !os.IsNotExist(err) {
			t.Errorf("%s written where the kernel accounts no swap: %v", c.swapFile, err)
		}
		writeFile(t, filepath.Join(g.dir, c.swapFile), "max\n")
		if err := g.limit(64 << 20); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, filepath.Join(g.dir, c.limitFile)); got != "67108864" {
			t.Errorf("%s %q", c.limitFile, got)
		}
		if got := readFile(t, filepath.Join(g.dir, c.swapFile)); got != c.swap {
			t.Errorf("%s %q, want %q", c.swapFile, got, c.swap)
		}
	}
}

func TestMemoryGroupV2(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "cgroup.controllers"), "cpuset cpu io memory pids\n")
	writeFile(t, filepath.Join(root, "cgroup.subtree_control"), "cpu\n")

	g, err := NewMemoryGroup(root, "node-p44", 128<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(root, "cgroup.subtree_control")); got != "+memory" {
		t.Errorf("the memory controller was not handed down: cgroup.subtree_control %q", got)
	}
	dir := filepath.Join(root, "node-p44")
	if got := readFile(t, filepath.Join(dir, "memory.max")); got != "134217728" {
		t.Errorf("memory.max %q", got)
	}
	checkReadings(t, g, map[string]string{
		"memory.peak":   "99999744\n",
		"memory.events": "low 0\nhigh 0\nmax 1841\noom 0\noom_kill 0\noom_group_kill 0\n",
	}, 99999744, 0)
}

func TestMemoryGroupErrorsNameTheProblem(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		limit int64
		want  string
	}{
		{"no hierarchy", nil, 1 << 20, "no cgroup v1 memory hierarchy and no cgroup v2 hierarchy"},
		{"v2 without memory", map[string]string{"cgroup.controllers": "cpu io\n"}, 1 << 20, "has no memory controller"},
		{"no limit", map[string]string{"cgroup.controllers": "memory\n"}, 0, "the limit must be positive"},
	}
	for _, c := range cases {
		root := t.TempDir()
		for name, content := range c.files {
			writeFile(t, filepath.Join(root, name), content)
		}
		_, err := NewMemoryGroup(root, "g", c.limit)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", c.name, err, c.want)
		}
	}

	g := &MemoryGroup{dir: t.TempDir()}
	writeFile(t, filepath.Join(g.dir, "memory.events"), "low 0\noom 0\n")
	if _, err := g.OOMKills(); err == nil || !strings.Contains(err.Error(), "no oom_kill line") {
		t.Errorf("OOMKills without the line: %v", err)
	}
	if _, err := g.Peak(); err == nil || !strings.Contains(err.Error(), "memory.peak") {
		t.Errorf("Peak without memory.peak: %v", err)
	}
}
