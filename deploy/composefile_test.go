package deploy_test

import (
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// composeService is the part of a compose service the checks read.
type composeService struct {
	Image           string   `yaml:"image"`
	User            string   `yaml:"user"`
	ReadOnly        bool     `yaml:"read_only"`
	CapDrop         []string `yaml:"cap_drop"`
	SecurityOpt     []string `yaml:"security_opt"`
	Command         []string `yaml:"command"`
	StopSignal      string   `yaml:"stop_signal"`
	StopGracePeriod string   `yaml:"stop_grace_period"`
	Restart         string   `yaml:"restart"`
	Volumes         []string `yaml:"volumes"`
	Ports           []string `yaml:"ports"`
}

// readCompose decodes compose.yaml's services, with the x-node anchor
// merged in as compose merges it.
func readCompose(t *testing.T) map[string]composeService {
	t.Helper()
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(f.Services) == 0 {
		t.Fatal("compose.yaml has no services")
	}
	return f.Services
}

// withDefaults puts each ${VAR:-default} of v as its default.
func withDefaults(v string) string {
	return regexp.MustCompile(`\$\{\w+:-([^}]*)\}`).ReplaceAllString(v, "$1")
}

// TestComposeManifestFile reads compose.yaml without Docker (the compose
// test runs it): every container, the one-shot init included, runs as a
// non-root user on a read-only root file system without capabilities or a
// way to gain privileges; each node stops on SIGTERM with time for its
// drain, comes back after a failure, publishes on loopback only, and
// mounts its own province's directory alone.
func TestComposeManifestFile(t *testing.T) {
	nodes := 0
	for name, s := range readCompose(t) {
		t.Run(name, func(t *testing.T) {
			if uid, _, _ := strings.Cut(withDefaults(s.User), ":"); uid == "" || uid == "0" || uid == "root" {
				t.Errorf("user %q: want a non-root uid:gid by default", s.User)
			}
			if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
				t.Errorf("read_only %v, cap_drop %v, security_opt %v: want read_only: true, cap_drop: [ALL] and no-new-privileges:true",
					s.ReadOnly, s.CapDrop, s.SecurityOpt)
			}
			if len(s.Command) == 0 || s.Command[0] != "node" {
				return
			}
			nodes++
			checkComposeNode(t, name, s)
		})
	}
	if nodes != 3 {
		t.Errorf("%d node services, want the three provinces", nodes)
	}
}

func checkComposeNode(t *testing.T, name string, s composeService) {
	if s.StopSignal != "" && s.StopSignal != "SIGTERM" {
		t.Errorf("stop_signal %s: the node drains on SIGTERM", s.StopSignal)
	}
	if d, err := time.ParseDuration(s.StopGracePeriod); err != nil || d < 20*time.Second {
		t.Errorf("stop_grace_period %q: want at least 20s for the graceful drain (10s) and closing raft and the store", s.StopGracePeriod)
	}
	if s.Restart != "unless-stopped" && s.Restart != "always" && !strings.HasPrefix(s.Restart, "on-failure") {
		t.Errorf("restart %q: a node that exits must come back", s.Restart)
	}
	for _, p := range s.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("port %q is published beyond the host's loopback", p)
		}
	}
	i := slices.Index(s.Command, "--config")
	if i < 0 || i+1 == len(s.Command) {
		t.Fatalf("command %v: want node --config FILE", s.Command)
	}
	var mounted []string
	for _, v := range s.Volumes {
		parts := strings.Split(withDefaults(v), ":")
		// Each node sees its own province's directory: its keys, not
		// the federation's CA keys.
		if len(parts) < 2 || path.Base(parts[0]) != name {
			t.Errorf("volume %q: want only the federation directory's %s/", v, name)
			continue
		}
		mounted = append(mounted, parts[1])
	}
	if !slices.ContainsFunc(mounted, func(m string) bool { return strings.HasPrefix(s.Command[i+1], m+"/") }) {
		t.Errorf("--config %s is on none of the node's volumes %v", s.Command[i+1], mounted)
	}
}
