package policy

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/laborlink/laborlink/contracts"
)

// BundleFormat names the encoding Pack writes and UnpackBundle reads.
const BundleFormat = "laborlink.policy-bundle/v1"

type packed struct {
	Format string            `json:"format"`
	Files  map[string]string `json:"files"`
}

// Pack encodes a federation bundle as the content of a registry policy
// version: RFC 8785 canonical JSON of {"format", "files"}, so the same files
// always give the same bytes and the same registry digest.
func (l Layer) Pack() ([]byte, error) {
	return contracts.Canonical(packed{Format: BundleFormat, Files: l.Files})
}

// UnpackBundle decodes a registry policy version's content into the layer a
// node's engine applies, with the registry's version number.
func UnpackBundle(content []byte, version uint64) (Layer, error) {
	var p packed
	if err := json.Unmarshal(content, &p); err != nil {
		return Layer{}, fmt.Errorf("policy bundle v%d is not a %s document: %w", version, BundleFormat, err)
	}
	if p.Format != BundleFormat {
		return Layer{}, fmt.Errorf("policy bundle v%d has format %q, want %q", version, p.Format, BundleFormat)
	}
	for name := range p.Files {
		if !strings.HasSuffix(name, ".rego") || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
			return Layer{}, fmt.Errorf("policy bundle v%d: file name %q is not a relative .rego path", version, name)
		}
	}
	return Layer{Files: p.Files, Version: version}, nil
}
