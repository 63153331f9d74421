package pki

import (
	"crypto/x509"
	"fmt"
	"path/filepath"
)

// Federation is a whole federation PKI in one directory, for development
// and tests: the root in <dir>/root and each province CA in <dir>/p<code>.
// Production never has all of these on one machine.
type Federation struct {
	// Dir holds the root and province directories.
	Dir string
	// Domain is the federation domain.
	Domain string
	// Root is the federation root CA.
	Root *Root
	// CAs maps a province code to its CA.
	CAs map[string]*CA
}

// FederationOptions configures CreateFederation.
type FederationOptions struct {
	// Root is passed to InitRoot; its Domain is set from the argument.
	Root RootOptions
	// Province is passed to every Root.SignProvince.
	Province SignProvinceOptions
}

// CreateFederation creates a root for domain and a CA for each province,
// going through the same steps as operators do (CSR in the province
// directory, signed by the root), so the result matches a real setup.
func CreateFederation(dir, domain string, provinces []string, opts FederationOptions) (*Federation, error) {
	opts.Root.Domain = domain
	root, err := InitRoot(filepath.Join(dir, "root"), opts.Root)
	if err != nil {
		return nil, err
	}
	f := &Federation{Dir: dir, Domain: domain, Root: root, CAs: make(map[string]*CA, len(provinces))}
	for _, p := range provinces {
		pdir := f.ProvinceDir(p)
		csrFile, err := NewProvinceCSR(pdir, p, CSROptions{Force: opts.Root.Force})
		if err != nil {
			return nil, err
		}
		sp := opts.Province
		sp.Province, sp.OutDir, sp.Force = p, pdir, sp.Force || opts.Root.Force
		if _, err := root.SignProvince(csrFile, sp); err != nil {
			return nil, err
		}
		if f.CAs[p], err = OpenCA(pdir); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// ProvinceDir is the directory of a province's CA in the federation.
func (f *Federation) ProvinceDir(province string) string { return ProvinceCADir(f.Dir, province) }

// ProvinceCADir is the directory of province's CA in the federation
// directory dir, as CreateFederation lays it out.
func ProvinceCADir(dir, province string) string { return filepath.Join(dir, "p"+province) }

// Roots returns a pool holding the federation root.
func (f *Federation) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(f.Root.Cert)
	return pool
}

// CA returns the CA of province, or an error naming the provinces there are.
func (f *Federation) CA(province string) (*CA, error) {
	ca, ok := f.CAs[province]
	if !ok {
		return nil, fmt.Errorf("federation in %s has no province %s", f.Dir, province)
	}
	return ca, nil
}
