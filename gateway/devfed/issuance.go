package devfed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/pki"
)

// RecordIssuance records in the registry every certificate Init issued
// (each province's node certificate and its client certificates), as
// its province's admin, the step `laborlink registry issued` is for. Every
// node then audits each issuance, so a newcomer's audit log shows what a
// real federation's does from its first day.
func (f *Federation) RecordIssuance(ctx context.Context) error {
	nodeCert, _ := pki.LeafFiles(pki.KindNode, NodeName)
	for _, p := range f.Provinces {
		cl, err := f.RegistryClient(p)
		if err != nil {
			return err
		}
		c := f.Certs[p]
		files := []string{filepath.Join(f.nodeTLSDir(p), nodeCert)}
		for _, leaf := range clientLeaves {
			files = append(files, leaf.dst(&c).CertFile)
		}
		for _, file := range files {
			pem, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			if _, err := cl.Submit(ctx, registry.OpCertIssued, registry.IssuedBody{Certificate: pem}); err != nil {
				return fmt.Errorf("record the issuance of %s: %w", file, err)
			}
		}
	}
	return nil
}
