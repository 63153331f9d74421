package deploy_test

import (
	"bufio"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestImageManifestBuildContext checks what deploy/build.sh hands Docker:
// the image copies the binary and the empty data directory alone, and the
// build context (deploy/) sends nothing else to the daemon. The compose
// federation directory, deploy/federation by default, holds every
// province's CA key and node keys, and a builder that sends the whole
// context (the classic builder, a remote daemon) would copy them out; git
// must not take them either.
func TestImageManifestBuildContext(t *testing.T) {
	sources := dockerfileCopies(t)
	if len(sources) == 0 {
		t.Fatal("the Dockerfile copies nothing")
	}
	for _, src := range sources {
		if !strings.HasPrefix(src, "build/") {
			t.Errorf("the Dockerfile copies %s: want only what build.sh puts in build/, so that no key is baked into the image", src)
		}
	}
	rules := ignoreRules(t, ".dockerignore")
	for _, src := range sources {
		if ignored(rules, src) {
			t.Errorf(".dockerignore leaves out %s, which the Dockerfile copies", src)
		}
	}
	for _, p := range secretPaths(t) {
		if !ignored(rules, p) {
			t.Errorf(".dockerignore sends %s to the Docker daemon with the build context", p)
		}
	}
	// Nor may a `git add` take them, or build.sh's binary.
	git := ignoreRules(t, ".gitignore")
	for _, p := range append(secretPaths(t), sources...) {
		if !ignored(git, p) {
			t.Errorf(".gitignore lets git track %s", p)
		}
	}
}

// secretPaths are files that must stay out of the build context: keys of
// the federation directory compose.yaml defaults to, and a province's
// node directory.
func secretPaths(t *testing.T) []string {
	t.Helper()
	dir := composeFederationDir(t)
	return []string{
		path.Join(dir, "pki/root/root-key.pem"),
		path.Join(dir, "pki/p51/ca-key.pem"),
		path.Join(dir, "p51/tls/node-gw-1-key.pem"),
		path.Join(dir, "p51/data/worker.key"),
	}
}

// composeFederationDir is the default of LABORLINK_DIR in compose.yaml,
// relative to deploy/.
func composeFederationDir(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\$\{LABORLINK_DIR:-([^}]+)\}`).FindSubmatch(data)
	if m == nil {
		t.Fatal("compose.yaml has no ${LABORLINK_DIR:-default}")
	}
	return path.Clean(string(m[1]))
}

// dockerfileCopies returns the sources of the Dockerfile's COPY and ADD
// instructions.
func dockerfileCopies(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var srcs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || (!strings.EqualFold(fields[0], "COPY") && !strings.EqualFold(fields[0], "ADD")) {
			continue
		}
		args := slices.DeleteFunc(fields[1:], func(a string) bool { return strings.HasPrefix(a, "--") })
		if len(args) < 2 {
			t.Fatalf("Dockerfile: %q copies nothing", sc.Text())
		}
		srcs = append(srcs, args[:len(args)-1]...)
	}
	return srcs
}

// ignoreRule is one line of an ignore file: a pattern, negated by "!".
type ignoreRule struct {
	pattern string
	keep    bool
}

// ignoreRules reads an ignore file of deploy/ (.dockerignore or
// .gitignore): patterns relative to deploy/, blank lines and comments
// skipped.
func ignoreRules(t *testing.T, file string) []ignoreRule {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var rules []ignoreRule
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{pattern: line}
		if p, ok := strings.CutPrefix(line, "!"); ok {
			r = ignoreRule{pattern: p, keep: true}
		}
		r.pattern = strings.Trim(path.Clean("/"+r.pattern), "/")
		rules = append(rules, r)
	}
	return rules
}

// ignored applies the rules as Docker and git do for the patterns these
// files use: the last rule that matches the file or one of its parent
// directories decides. (A directory left out stays out in git whatever
// comes after; the files here re-include none under one.)
func ignored(rules []ignoreRule, file string) bool {
	out := false
	for _, r := range rules {
		for p := file; p != "." && p != "/"; p = path.Dir(p) {
			if ok, _ := path.Match(r.pattern, p); ok {
				out = !r.keep
				break
			}
		}
	}
	return out
}

// TestComposeManifestFederationDirIgnored checks the federation directory
// the guide and compose.yaml's header export, from the repository's root
// as their other commands run: it holds every province's CA key, so it
// must be one deploy/.gitignore keeps out of git.
func TestComposeManifestFederationDirIgnored(t *testing.T) {
	rules := ignoreRules(t, ".gitignore")
	export := regexp.MustCompile(`export LABORLINK_DIR=\$PWD/(\S+)`)
	for _, file := range []string{"compose.yaml", "../docs/operator-guide.md"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		ms := export.FindAllSubmatch(data, -1)
		if len(ms) == 0 {
			t.Errorf("%s exports no LABORLINK_DIR=$PWD/...", file)
		}
		for _, m := range ms {
			dir, ok := strings.CutPrefix(path.Clean(string(m[1])), "deploy/")
			if !ok || !ignored(rules, path.Join(dir, "pki/root/root-key.pem")) {
				t.Errorf("%s exports LABORLINK_DIR=$PWD/%s, which git would track: use deploy/federation, which deploy/.gitignore leaves out", file, m[1])
			}
		}
	}
}
