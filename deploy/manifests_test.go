package deploy_test

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/devfed"
	"github.com/laborlink/laborlink/gateway/node"
)

// object is the part of a Kubernetes object the checks read.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       spec              `yaml:"spec"`

	file string
}

type spec struct {
	// Service
	ClusterIP                string                  `yaml:"clusterIP"`
	PublishNotReadyAddresses bool                    `yaml:"publishNotReadyAddresses"`
	Selector                 yaml.Node               `yaml:"selector"` // a map (Service) or a label selector
	Ports                    []struct{ Name string } `yaml:"ports"`
	// StatefulSet
	ServiceName string `yaml:"serviceName"`
	Replicas    int    `yaml:"replicas"`
	Template    struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec podSpec `yaml:"spec"`
	} `yaml:"template"`
	VolumeClaimTemplates []claim `yaml:"volumeClaimTemplates"`
	// PodDisruptionBudget
	MaxUnavailable *int `yaml:"maxUnavailable"`
	MinAvailable   *int `yaml:"minAvailable"`
}

type podSpec struct {
	TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		RunAsUser    *int  `yaml:"runAsUser"`
		RunAsGroup   *int  `yaml:"runAsGroup"`
		FSGroup      *int  `yaml:"fsGroup"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []volume    `yaml:"volumes"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
	Secret *struct {
		SecretName  string `yaml:"secretName"`
		DefaultMode *int   `yaml:"defaultMode"`
	} `yaml:"secret"`
}

type claim struct {
	Metadata struct{ Name string } `yaml:"metadata"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	StartupProbe    *probe                                       `yaml:"startupProbe"`
	ReadinessProbe  *probe                                       `yaml:"readinessProbe"`
	LivenessProbe   *probe                                       `yaml:"livenessProbe"`
	Resources       struct{ Requests, Limits map[string]string } `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool                   `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool                   `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct{ Drop []string } `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"` // a number or a port name
	} `yaml:"httpGet"`
	InitialDelaySeconds int `yaml:"initialDelaySeconds"`
	PeriodSeconds       int `yaml:"periodSeconds"`
	FailureThreshold    int `yaml:"failureThreshold"`
}

// window is how long a probe lets the node fail before it acts, with the
// Kubernetes defaults (10s, 3) for what it leaves unset.
func (p probe) window() time.Duration {
	period, failures := cmp.Or(p.PeriodSeconds, 10), cmp.Or(p.FailureThreshold, 3)
	return time.Duration(p.InitialDelaySeconds+period*failures) * time.Second
}

// readManifests decodes every document of every YAML file in deploy/k8s.
func readManifests(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/k8s (%v)", err)
	}
	var objs []object
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if o.Kind == "" || o.APIVersion == "" || o.Metadata.Name == "" {
				t.Fatalf("%s: a document lacks apiVersion, kind or metadata.name", f)
			}
			o.file = f
			objs = append(objs, o)
		}
	}
	return objs
}

func TestKubernetesManifests(t *testing.T) {
	objs := readManifests(t)
	byKind := map[string]map[string]object{}
	for _, o := range objs {
		if byKind[o.Kind] == nil {
			byKind[o.Kind] = map[string]object{}
		}
		if _, dup := byKind[o.Kind][o.Metadata.Name]; dup {
			t.Errorf("%s %s is defined twice", o.Kind, o.Metadata.Name)
		}
		byKind[o.Kind][o.Metadata.Name] = o
		if o.Kind != "Namespace" && o.Metadata.Namespace != "laborlink" {
			t.Errorf("%s %s (%s) is in namespace %q, want laborlink", o.Kind, o.Metadata.Name, o.file, o.Metadata.Namespace)
		}
	}
	for _, kind := range []string{"Namespace", "ConfigMap", "Secret", "Service", "StatefulSet", "PodDisruptionBudget"} {
		if len(byKind[kind]) == 0 {
			t.Errorf("no %s in deploy/k8s", kind)
		}
	}
	sets := byKind["StatefulSet"]
	if got := slices.Sorted(maps.Keys(sets)); !slices.Equal(got, []string{"p33", "p44", "p51"}) {
		t.Errorf("StatefulSets %v, want one per province of the compose federation: p33, p44, p51", got)
	}
	for name, s := range sets {
		t.Run(name, func(t *testing.T) { checkStatefulSet(t, s, byKind) })
	}
	for name, pdb := range byKind["PodDisruptionBudget"] {
		sel := matchLabels(t, pdb.Spec.Selector)
		if len(sel) == 0 {
			t.Errorf("PodDisruptionBudget %s selects nothing", name)
		}
		if pdb.Spec.MaxUnavailable == nil || *pdb.Spec.MaxUnavailable != 1 {
			t.Errorf("PodDisruptionBudget %s: want maxUnavailable 1, so raft keeps two of three voters", name)
		}
		for sname, s := range sets {
			if !selects(sel, s.Spec.Template.Metadata.Labels) {
				t.Errorf("PodDisruptionBudget %s (%v) does not select StatefulSet %s's pods %v", name, sel, sname, s.Spec.Template.Metadata.Labels)
			}
		}
	}
	checkKustomization(t, objs)
}

func checkStatefulSet(t *testing.T, s object, byKind map[string]map[string]object) {
	labels := s.Spec.Template.Metadata.Labels
	if !selects(matchLabels(t, s.Spec.Selector), labels) {
		t.Errorf("selector does not match the pod template's labels %v", labels)
	}
	if s.Spec.Replicas != 1 {
		t.Errorf("replicas %d: a province's node is one raft voter, want 1", s.Spec.Replicas)
	}
	svc, ok := byKind["Service"][s.Spec.ServiceName]
	switch {
	case !ok:
		t.Errorf("serviceName %q names no Service", s.Spec.ServiceName)
	case svc.Spec.ClusterIP != "None":
		t.Errorf("Service %s is not headless (clusterIP %q)", svc.Metadata.Name, svc.Spec.ClusterIP)
	case !svc.Spec.PublishNotReadyAddresses:
		t.Errorf("Service %s must publish not-ready addresses: voters find each other before they are ready", svc.Metadata.Name)
	default:
		var sel map[string]string
		if err := svc.Spec.Selector.Decode(&sel); err != nil || !selects(sel, labels) {
			t.Errorf("Service %s's selector %v does not select the pods %v", svc.Metadata.Name, sel, labels)
		}
	}
	pod := s.Spec.Template.Spec
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser == 0 {
		t.Error("the pod must set runAsNonRoot: true and a non-zero runAsUser")
	}
	if pod.TerminationGracePeriodSeconds < 15 {
		t.Errorf("terminationGracePeriodSeconds %d leaves no time for a graceful drain", pod.TerminationGracePeriodSeconds)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want the node alone", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("the container must have a read-only root file system, no privilege escalation, and drop ALL capabilities")
	}
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
			t.Errorf("resources: %s request and limit must both be set", r)
		}
	}
	cfg := nodeConfig(t, s, c, pod, byKind)
	checkMemory(t, c, cfg)
	if pod.SecurityContext.FSGroup == nil || *pod.SecurityContext.FSGroup == 0 {
		t.Error("no fsGroup: a new volume's root is root's, and the node could not write data_dir")
	}
	_, opsPort, _ := net.SplitHostPort(cfg.OpsListen)
	for _, p := range []struct {
		name string
		pr   *probe
		path string
	}{{"startupProbe", c.StartupProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
		if p.pr == nil || p.pr.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe of %s", p.name, p.path)
			continue
		}
		if p.pr.HTTPGet.Path != p.path {
			t.Errorf("%s probes %s, want %s", p.name, p.pr.HTTPGet.Path, p.path)
		}
		if port := containerPort(c, p.pr.HTTPGet.Port.Value); port != opsPort {
			t.Errorf("%s probes port %s (%q), but node.yaml's ops_listen is %s", p.name, port, p.pr.HTTPGet.Port.Value, cfg.OpsListen)
		}
	}
	// The ops listener answers only once the node has opened its store,
	// audit log, registry and policy, which takes longer as node.db grows
	// and when an upgrade migrates it: the liveness probe must wait for
	// the startup probe, which allows for that, rather than kill the node
	// in the middle of it after a fixed delay.
	if c.StartupProbe != nil && c.StartupProbe.window() < 5*time.Minute {
		t.Errorf("startupProbe allows the node %s to open; want at least 5m", c.StartupProbe.window())
	}
	if c.LivenessProbe != nil && c.LivenessProbe.InitialDelaySeconds != 0 {
		t.Errorf("livenessProbe initialDelaySeconds %d: the startup probe holds it off until the node answers", c.LivenessProbe.InitialDelaySeconds)
	}
	// The node listens on and advertises its own stable pod name.
	host := s.Metadata.Name + "-0." + s.Spec.ServiceName + ".laborlink.svc.cluster.local"
	for key, addr := range map[string]string{"listen": cfg.Listen, "raft.listen": cfg.Raft.Listen} {
		if h, port, _ := net.SplitHostPort(addr); h != host || containerPort(c, port) != port {
			t.Errorf("node.yaml %s %s: want %s on a declared container port", key, addr, host)
		}
	}
	if cfg.Province != labels["laborlink.dev/province"] || "p"+cfg.Province != s.Metadata.Name {
		t.Errorf("node.yaml says province %s; the StatefulSet is %s, labelled %s", cfg.Province, s.Metadata.Name, labels["laborlink.dev/province"])
	}
}

// checkMemory holds the container's memory to the node's model: its Go
// heap is bounded by runtime.memory_limit_mib, and the database pages it
// has mapped come on top (a resident peak of about 160 MB over 100 000
// records), so the operator guide asks for at least 256 MiB.
func checkMemory(t *testing.T, c container, cfg node.Config) {
	t.Helper()
	req, errReq := mebibytes(c.Resources.Requests["memory"])
	limit, errLimit := mebibytes(c.Resources.Limits["memory"])
	switch {
	case errReq != nil || errLimit != nil:
		t.Errorf("memory: %v", errors.Join(errReq, errLimit))
	case req < 256:
		t.Errorf("memory request %dMi: the operator guide asks for at least 256Mi", req)
	case limit < req:
		t.Errorf("memory limit %dMi is below the request %dMi", limit, req)
	case limit < 2*int64(cfg.Runtime.MemoryLimitMiB):
		t.Errorf("memory limit %dMi leaves too little above runtime.memory_limit_mib %d for the mapped database", limit, cfg.Runtime.MemoryLimitMiB)
	}
}

// mebibytes reads a Kubernetes memory quantity in Mi or Gi.
func mebibytes(q string) (int64, error) {
	for suffix, mult := range map[string]int64{"Mi": 1, "Gi": 1024} {
		if n, ok := strings.CutSuffix(q, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v * mult, err
		}
	}
	return 0, fmt.Errorf("%q is not a quantity in Mi or Gi", q)
}

// nodeConfig finds the node.yaml the container is started with, loads it
// as the node would, and checks that every file it names is mounted.
func nodeConfig(t *testing.T, s object, c container, pod podSpec, byKind map[string]map[string]object) node.Config {
	t.Helper()
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 == len(c.Args) || c.Args[0] != "node" {
		t.Fatalf("args %v: want node --config FILE", c.Args)
	}
	configPath := c.Args[i+1]
	// mounted maps a file path in the container to where its content comes
	// from; pinned holds those mounted by subPath, which the kubelet never
	// updates; secretMode the mode of those from a Secret.
	mounted := map[string]string{}
	pinned := map[string]bool{}
	secretMode := map[string]int{}
	var dataDir string
	for _, m := range c.VolumeMounts {
		vi := slices.IndexFunc(pod.Volumes, func(v volume) bool { return v.Name == m.Name })
		var data map[string]string
		mode := -1
		switch {
		case vi >= 0 && pod.Volumes[vi].ConfigMap != nil:
			data = byKind["ConfigMap"][pod.Volumes[vi].ConfigMap.Name].Data
		case vi >= 0 && pod.Volumes[vi].Secret != nil:
			data = byKind["Secret"][pod.Volumes[vi].Secret.SecretName].StringData
			mode = *cmp.Or(pod.Volumes[vi].Secret.DefaultMode, new(0o644)) // the kubelet's default
		case slices.ContainsFunc(s.Spec.VolumeClaimTemplates, func(v claim) bool { return v.Metadata.Name == m.Name }):
			dataDir = m.MountPath
			continue
		default:
			continue
		}
		if data == nil {
			t.Errorf("volume %s mounts a ConfigMap or Secret that deploy/k8s does not define", m.Name)
		}
		for k, v := range data {
			f := path.Join(m.MountPath, k)
			switch {
			case m.SubPath == k:
				f = m.MountPath
				pinned[f] = true
			case m.SubPath != "":
				continue
			}
			mounted[f] = v
			if mode >= 0 {
				secretMode[f] = mode
			}
		}
	}
	yamlText, ok := mounted[configPath]
	if !ok {
		t.Fatalf("--config %s is not mounted from a ConfigMap", configPath)
	}
	file := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(file, []byte(yamlText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := node.LoadConfig(file, nil)
	if err != nil {
		t.Fatalf("node.yaml of %s does not load: %v", s.Metadata.Name, err)
	}
	for key, f := range map[string]string{"tls.cert": cfg.TLS.Cert, "tls.key": cfg.TLS.Key, "tls.root": cfg.TLS.Root, "raft.genesis": cfg.Raft.Genesis} {
		if _, ok := mounted[f]; !ok {
			t.Errorf("node.yaml %s is %s, which no ConfigMap or Secret mount provides", key, f)
		}
	}
	if dataDir == "" || cfg.DataDir != dataDir {
		t.Errorf("data_dir %s is not the StatefulSet's volume (mounted at %q)", cfg.DataDir, dataDir)
	}
	checkTLSMounts(t, cfg, pod, pinned, secretMode)
	return cfg
}

// checkTLSMounts: the node rereads its certificate, key and CRLs when they
// change, so a rotated Secret must reach their files (the kubelet swaps a
// Secret volume's files, never a subPath mount's), and the key is the
// node's alone: readable by its group at most, which is the node's own
// through fsGroup.
func checkTLSMounts(t *testing.T, cfg node.Config, pod podSpec, pinned map[string]bool, secretMode map[string]int) {
	t.Helper()
	files := map[string]string{"tls.cert": cfg.TLS.Cert, "tls.key": cfg.TLS.Key, "tls.root": cfg.TLS.Root}
	for i, f := range cfg.TLS.CRLs {
		files[fmt.Sprintf("tls.crls[%d]", i)] = f
	}
	for key, f := range files {
		if pinned[f] {
			t.Errorf("node.yaml %s %s is mounted by subPath, which the kubelet never updates: a rotation would not reach the node", key, f)
		}
	}
	mode, ok := secretMode[cfg.TLS.Key]
	sc := pod.SecurityContext
	switch {
	case !ok:
		t.Errorf("tls.key %s does not come from a Secret", cfg.TLS.Key)
	case mode&0o137 != 0:
		t.Errorf("tls.key %s has mode %04o: want it readable by its owner and group alone, writable by none", cfg.TLS.Key, mode)
	case mode&0o040 != 0 && (sc.FSGroup == nil || sc.RunAsGroup == nil || *sc.FSGroup != *sc.RunAsGroup):
		t.Errorf("tls.key %s is readable by its group (%04o), which must be the node's: want fsGroup equal to runAsGroup", cfg.TLS.Key, mode)
	}
}

// containerPort resolves a probe's port (a number or a port name) to a number.
func containerPort(c container, port string) string {
	for _, p := range c.Ports {
		if p.Name == port || strconv.Itoa(p.ContainerPort) == port {
			return strconv.Itoa(p.ContainerPort)
		}
	}
	return ""
}

// matchLabels reads a label selector's matchLabels; expressions are not used.
func matchLabels(t *testing.T, n yaml.Node) map[string]string {
	t.Helper()
	var sel struct {
		MatchLabels      map[string]string `yaml:"matchLabels"`
		MatchExpressions []any             `yaml:"matchExpressions"`
	}
	if err := n.Decode(&sel); err != nil {
		t.Fatal(err)
	}
	if len(sel.MatchExpressions) > 0 {
		t.Error("matchExpressions are not checked by this test; use matchLabels")
	}
	return sel.MatchLabels
}

// selects reports whether every label of sel is on labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// checkKustomization: `kubectl apply -k deploy/k8s` applies every file.
func checkKustomization(t *testing.T, objs []object) {
	data, err := os.ReadFile("k8s/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct{ Resources []string }
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !slices.Contains(k.Resources, filepath.Base(o.file)) {
			t.Errorf("kustomization.yaml does not list %s", o.file)
		}
	}
}

// TestSystemdUnit checks the directives an operator relies on: who the
// node runs as, what it may write, how it starts, and that a stop leaves
// time for the graceful drain.
func TestSystemdUnit(t *testing.T) {
	dirs := unitDirectives(t)
	want := map[string]string{
		"Service.User":            "laborlink",
		"Service.ExecStart":       "/usr/local/bin/laborlink node --config /etc/laborlink/node.yaml",
		"Service.Restart":         "on-failure",
		"Service.KillSignal":      "SIGTERM",
		"Service.ProtectSystem":   "strict",
		"Service.ReadWritePaths":  "/var/lib/laborlink",
		"Service.NoNewPrivileges": "yes",
		"Service.PrivateTmp":      "yes",
		"Service.ProtectHome":     "yes",
		"Install.WantedBy":        "multi-user.target",
	}
	for k, v := range want {
		if got := dirs[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%v, want %s", k, got, v)
		}
	}
	// The node gives its requests and delivery batches in flight 10s, then closes raft and the store.
	stop, err := time.ParseDuration(strings.Join(dirs["Service.TimeoutStopSec"], ""))
	if err != nil || stop < 20*time.Second {
		t.Errorf("TimeoutStopSec=%v (%v): want at least 20s for the graceful drain", dirs["Service.TimeoutStopSec"], err)
	}
	if v := dirs["Service.CapabilityBoundingSet"]; len(v) != 1 || v[0] != "" {
		t.Errorf("CapabilityBoundingSet=%v: want empty, the node needs no capability", v)
	}
	for k, v := range map[string]string{"KillMode": "mixed", "StateDirectory": "laborlink", "UMask": "0077"} {
		// mixed: SIGTERM to the node alone, SIGKILL to all only once the
		// stop window is over.
		if got := dirs["Service."+k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%v, want %s", k, got, v)
		}
	}
	if n, err := strconv.Atoi(strings.Join(dirs["Service.LimitNOFILE"], "")); err != nil || n < 8192 {
		t.Errorf("LimitNOFILE=%v: want a number of at least 8192, for the connections of systems and peers", dirs["Service.LimitNOFILE"])
	}
	checkUnitWritesDataDir(t, dirs["Service.ReadWritePaths"])
	// ProcSubset=pid hides /proc/sys and /proc/stat: Go then listens with a
	// backlog of 128 instead of net.core.somaxconn, and /metrics loses
	// process_start_time_seconds, which restarts are told by.
	if v := dirs["Service.ProcSubset"]; slices.Contains(v, "pid") {
		t.Errorf("ProcSubset=%v: the node reads /proc/sys/net/core/somaxconn and /proc/stat", v)
	}
}

// checkUnitWritesDataDir loads the node.yaml of docs/configuration.md, the
// one the systemd install in the operator guide uses: every file the node
// writes (the data directory, and the keys it makes on first start) must
// be under the unit's ReadWritePaths, the rest of the file system being
// read-only to it.
func checkUnitWritesDataDir(t *testing.T, writable []string) {
	t.Helper()
	data, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "```yaml file=node.yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/configuration.md has no ```yaml file=node.yaml block")
	}
	file := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(file, []byte(block), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := node.LoadConfig(file, nil)
	if err != nil {
		t.Fatalf("docs/configuration.md's node.yaml: %v", err)
	}
	for key, f := range map[string]string{"data_dir": cfg.DataDir, "worker_key": cfg.WorkerKey, "audit.key": cfg.Audit.Key} {
		if !slices.ContainsFunc(writable, func(w string) bool { return f == w || strings.HasPrefix(f, w+"/") }) {
			t.Errorf("docs/configuration.md's %s %s is not under the unit's ReadWritePaths %v", key, f, writable)
		}
	}
}

// unitDirectives reads the systemd unit's directives, each under
// "Section.Key", with its values in order.
func unitDirectives(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("systemd/laborlink.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dirs := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("not a directive: %q", line)
			}
			dirs[section+"."+k] = append(dirs[section+"."+k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return dirs
}

// TestKubernetesGenesisMatches prepares a trial federation for the pods'
// names, as docs/operator-guide.md does, and checks that its genesis lists
// each voter at the addresses the manifests' node.yaml listen on.
func TestKubernetesGenesisMatches(t *testing.T) {
	var nodes []devfed.NodeAddr
	for _, p := range []string{"51", "44", "33"} {
		nodes = append(nodes, devfed.NodeAddr{Province: p, Host: "p" + p + "-0.p" + p + ".laborlink.svc.cluster.local"})
	}
	dir := t.TempDir()
	if _, err := devfed.Init(devfed.InitOptions{Dir: dir, Nodes: nodes, OpsListen: "0.0.0.0:9090"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, devfed.GenesisFile))
	if err != nil {
		t.Fatal(err)
	}
	var g registry.Genesis
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	configs := map[string]node.Config{}
	for _, o := range readManifests(t) {
		if o.Kind != "ConfigMap" || o.Data["node.yaml"] == "" {
			continue
		}
		file := filepath.Join(t.TempDir(), "node.yaml")
		if err := os.WriteFile(file, []byte(o.Data["node.yaml"]), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := node.LoadConfig(file, nil)
		if err != nil {
			t.Fatalf("%s: %v", o.Metadata.Name, err)
		}
		configs["p"+cfg.Province+"/node/"+cfg.Name] = cfg
	}
	if len(g.Voters) != len(configs) {
		t.Fatalf("genesis has %d voters, the manifests %d nodes", len(g.Voters), len(configs))
	}
	for _, v := range g.Voters {
		cfg, ok := configs[v.ID]
		if !ok || cfg.Listen != v.APIAddr || cfg.Raft.Listen != v.RaftAddr {
			t.Errorf("voter %s at %s / %s; its manifest listens on %s / %s", v.ID, v.APIAddr, v.RaftAddr, cfg.Listen, cfg.Raft.Listen)
		}
	}
}
