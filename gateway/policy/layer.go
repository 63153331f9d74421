package policy

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Package paths the two layers must live under. Keeping them apart means a
// province policy cannot redefine a rule of the federation bundle, since both
// are compiled together.
const (
	FederationPackage = "laborlink.federation"
	ProvincePackage   = "laborlink.province"
)

//go:embed bundle/*.rego
var shippedBundle embed.FS

// Layer is one layer of policy: the Rego files of the federation bundle or of
// a province policy directory. A Layer is a value: once built it is not
// modified, so engines can share it.
type Layer struct {
	// Files maps a file name, relative to the layer's root and with forward
	// slashes, to its Rego source. Files ending in _test.rego hold tests; they
	// are run by RunTests and never compiled into the serving query.
	Files map[string]string
	// Version is the registry's version number of a federation bundle; 0 for
	// the shipped bundle and for province layers.
	Version uint64
}

// FederationBundle returns the federation bundle that ships in the binary. A
// node uses it until the registry holds a newer version.
func FederationBundle() Layer {
	l, err := readFS(shippedBundle, "bundle")
	if err != nil {
		panic(fmt.Sprintf("policy: the embedded bundle cannot be read: %v", err))
	}
	return l
}

// ReadDir reads every .rego file under dir (recursively) into a layer. A
// directory without Rego files gives an empty layer, which allows everything
// as a province layer and nothing as a federation bundle; a file is refused,
// which would read as such a directory.
func ReadDir(dir string) (Layer, error) {
	if err := CheckDir(dir); err != nil {
		return Layer{}, fmt.Errorf("read policy directory: %w", err)
	}
	return readFS(os.DirFS(dir), ".")
}

// CheckDir refuses a policy directory ReadDir would refuse for not being
// one: a path that cannot be stat'ed, or a file, which would otherwise read
// as a directory without Rego files, no policy at all. Callers that read
// the directory later check it with this first, to fail early.
func CheckDir(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is a file; want a directory of .rego files", dir)
	}
	return nil
}

func readFS(fsys fs.FS, root string) (Layer, error) {
	l := Layer{Files: map[string]string{}}
	err := fs.WalkDir(fsys, root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".rego") {
			return nil
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(filepath.ToSlash(path), root+"/")
		l.Files[rel] = string(b)
		return nil
	})
	if err != nil {
		return Layer{}, fmt.Errorf("read policy files: %w", err)
	}
	return l, nil
}

// Revision identifies the layer's content: "sha256:" and the first 12 hex
// digits of the SHA-256 over the sorted file names and contents. Two nodes
// holding the same files report the same revision, whatever their mtimes.
func (l Layer) Revision() string {
	h := sha256.New()
	for _, name := range l.names() {
		fmt.Fprintf(h, "%d:%s\x00%d:", len(name), name, len(l.Files[name]))
		h.Write([]byte(l.Files[name]))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:12]
}

func (l Layer) names() []string {
	names := make([]string, 0, len(l.Files))
	for name := range l.Files {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func isTestFile(name string) bool { return strings.HasSuffix(name, "_test.rego") }

// parse parses the layer's files. With tests false, test files are left out.
// Every non-test module must declare a package under pkg, so that one layer
// cannot define rules inside the other; the error names the offending file.
func (l Layer) parse(pkg string, tests bool) (map[string]*ast.Module, error) {
	mods := make(map[string]*ast.Module, len(l.Files))
	opts := ast.ParserOptions{RegoVersion: ast.RegoV1}
	for _, name := range l.names() {
		test := isTestFile(name)
		if test && !tests {
			continue
		}
		m, err := ast.ParseModuleWithOpts(name, l.Files[name], opts)
		if err != nil {
			return nil, err
		}
		if !test && pkg != "" && !underPackage(m, pkg) {
			return nil, fmt.Errorf("%s: package %s is outside %s; every module of this layer must be package %s or below it",
				name, strings.TrimPrefix(m.Package.Path.String(), "data."), pkg, pkg)
		}
		mods[name] = m
	}
	return mods, nil
}

func underPackage(m *ast.Module, pkg string) bool {
	p := strings.TrimPrefix(m.Package.Path.String(), "data.")
	return p == pkg || strings.HasPrefix(p, pkg+".")
}
