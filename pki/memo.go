package pki

import (
	"crypto/x509"
	"sync"
)

// CertMemo remembers a value derived from a certificate's bytes alone (its
// identity, province, serial in some form, key hash) per parsed
// certificate, so that what a node asks about the same certificate at
// every request is derived once. Certificates are found by pointer: every
// request on a connection presents the same parsed certificates, and
// verified chains are remembered with the certificates they were built
// from (Verifier). A remembered certificate is held, so its address is not
// reused for another; certificates are not changed once parsed. What
// depends on anything else, such as whether a serial is revoked now, must
// not be remembered here.
//
// The zero value is ready; a CertMemo is safe for concurrent use and must
// not be copied after first use.
type CertMemo[T any] struct {
	mu sync.RWMutex
	m  map[*x509.Certificate]T
}

// maxRemembered bounds a CertMemo. A node's verifier asks about the
// certificates of the chains it remembers, a few per chain; the memo starts
// over when full rather than keep certificates no longer presented alive.
const maxRemembered = 1024

// Get returns derive(cert), calling derive only for a certificate it does
// not remember. derive must depend on nothing but the certificate.
func (c *CertMemo[T]) Get(cert *x509.Certificate, derive func(*x509.Certificate) T) T {
	c.mu.RLock()
	v, ok := c.m[cert]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = derive(cert)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxRemembered || c.m == nil {
		c.m = make(map[*x509.Certificate]T)
	}
	c.m[cert] = v
	return v
}
