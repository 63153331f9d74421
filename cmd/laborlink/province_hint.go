package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/laborlink/laborlink/gateway/api"
	"github.com/laborlink/laborlink/pki"
)

// nodeProvinceHint makes a local-API client's refusal of a node of another
// province than it expects say what to do about it. The refusal, pki's
// "peer ... belongs to province 44, expected province 51", names both
// provinces but no flag; pki's text stays as it is, since other code
// matches it, and the hint is added here. given says whether
// --node-province named the province expected, rather than the caller's
// certificate.
//
// Only an auditor reading another province's audit log has a use for that
// province's node: the others' requests, a system's records among them,
// are for their own province's node, which is what the hint points them
// to first.
func nodeProvinceHint(v *pki.Verifier, given bool) api.ClientOption {
	return func(tr *http.Transport) {
		cfg := tr.TLSClientConfig.Clone()
		check := cfg.VerifyConnection
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			err := check(cs)
			if !errors.Is(err, pki.ErrWrongPeer) {
				return err
			}
			// The node's chain verified and the province check refused
			// it: verified again, the chain names the node's province.
			// A chain that does not (another federation's) was refused
			// for that, and gets no hint.
			id, verr := v.Verify(cs.PeerCertificates, x509.ExtKeyUsageServerAuth)
			if verr != nil {
				return err
			}
			return fmt.Errorf("%w (%s)", err, provinceHint(id.Province, given))
		}
		tr.TLSClientConfig = cfg
	}
}

// provinceHint is nodeProvinceHint's advice for a node of province p.
func provinceHint(p string, given bool) string {
	if given {
		return fmt.Sprintf("--node is a node of province %s: give a node of the province --node-province names, or, to read this one, pass --node-province %s", p, p)
	}
	return fmt.Sprintf("--node is a node of province %s, not of your certificate's: give your province's node, or, as an auditor reading province %s's audit log, pass --node-province %s", p, p, p)
}
