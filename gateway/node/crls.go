package node

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/laborlink/laborlink/gateway/httpbody"
	"github.com/laborlink/laborlink/pki"
)

// crlCheckInterval is how often the node looks for changed tls.crls files
// (a variable for tests).
var crlCheckInterval = 5 * time.Second

// crlFiles are the node's tls.crls files, read at start and again whenever
// one changes, so that a new CRL needs no restart. Their serials are added
// to what was loaded before, never swapped for it: a revocation does not
// lapse because a later file leaves it out or cannot be read.
type crlFiles struct {
	paths []string
	list  *pki.RevocationList
	seen  map[string][sha256.Size]byte
}

func newCRLFiles(paths []string, list *pki.RevocationList) *crlFiles {
	return &crlFiles{paths: paths, list: list, seen: map[string][sha256.Size]byte{}}
}

// load reads every file and adds the serials of each whose content changed
// since it was last added, checking that one of issuers (the node's
// province CA) signed it. Content, not mtime and size, tells a changed
// file: a CRL rewritten within the file system's timestamp granularity
// with one serial replaced by another of the same length keeps both, and
// its revocation would not be honoured; CRLs are small and read once per
// crlCheckInterval. It returns the files it added and the first error; a
// file that fails is read again at the next call.
func (c *crlFiles) load(issuers []*x509.Certificate) (read []string, err error) {
	for _, path := range c.paths {
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			err = firstErr(err, fmt.Errorf("tls.crls: %w", rerr))
			continue
		}
		sum := sha256.Sum256(data)
		if c.seen[path] == sum {
			continue
		}
		if aerr := c.add(path, data, issuers); aerr != nil {
			err = firstErr(err, aerr)
			continue
		}
		c.seen[path] = sum
		read = append(read, path)
	}
	return read, err
}

// add adds the CRL read from path. Its error says why the file was not
// taken: one that is no CRL (truncated, or some other file) needs another
// fix than a CRL of another CA.
func (c *crlFiles) add(path string, data []byte, issuers []*x509.Certificate) error {
	err := c.list.AddCRLFrom(data, issuers)
	switch {
	case errors.Is(err, pki.ErrCRLSigner):
		return fmt.Errorf("tls.crls: %s is not a CRL signed by this node's province CA: %w", path, err)
	case err != nil:
		return fmt.Errorf("tls.crls: %s: %w", path, err)
	}
	return nil
}

func firstErr(have, next error) error {
	if have != nil {
		return have
	}
	return next
}

// watchCRLs rereads changed tls.crls files until ctx ends, with the issuers
// of the certificate the node presents now (a rotation may bring a new
// province CA).
func (n *Node) watchCRLs(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		read, err := n.crls.load(n.issuers())
		if err != nil {
			n.log.Error(crlRereadFailed, "err", err)
		}
		for _, path := range read {
			n.log.Info("reread CRL file", "file", path, "revoked_serials", n.crls.list.Len())
		}
	}
}

// issuers are the CA certificates that come with the node's certificate.
func (n *Node) issuers() []*x509.Certificate {
	cert, err := n.tls.KeyPair.Certificate()
	if err != nil {
		return nil
	}
	return pki.ChainCAs(cert)
}

// refuseLapsed answers 403 to a request whose client certificate no longer
// passes what its connection's handshake checked (check, the node's
// Verifier again: Node.recheckClient): it or its CA has been revoked or
// has expired since, its province is no longer a member of the federation
// (member.expel), or the province CA that issued it is no longer one the
// registry lists (a CA rotation). Connections are long-lived, and each
// takes effect on the next request, not the next connection. The verifier
// remembers the chains it built by the certificates presented, so this
// costs the lookups, not path building. A request without TLS, which
// the listener never passes on, presents no certificate and is refused
// 401: nothing behind this handler may take it for one that passed.
func refuseLapsed(check func(chain []*x509.Certificate) error, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			refuse(w, http.StatusUnauthorized, "unauthenticated", "the request came without TLS, so without a client certificate")
			return
		}
		if err := check(r.TLS.PeerCertificates); err != nil {
			refuse(w, http.StatusForbidden, "forbidden", err.Error())
			return
		}
		h.ServeHTTP(w, r)
	})
}

// recheckClient verifies a client's chain again as its handshake did.
func (n *Node) recheckClient(chain []*x509.Certificate) error {
	_, err := n.tls.Verifier.Verify(chain, x509.ExtKeyUsageClientAuth)
	return err
}

// refuse answers a request the listener turns away before any API sees
// it (a lapsed certificate, a body not sent as JSON). Every API shares
// the listener, so the body speaks both error shapes: the local and peer
// APIs' (error, code) and the registry API's (code, message), whose
// clients otherwise showed an empty reason.
func refuse(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg, "message": msg, "code": code})
}

// jsonBodies refuses, with 415, a POST (or any method but GET and HEAD)
// to the local or registry API whose body is not sent as JSON
// (httpbody.CheckJSON): an operator's or administrator's certificate held
// in a browser must not let a web page requeue dead letters, submit
// records or sign registry commands through a cross-site form or
// text/plain POST, which browsers send without asking. Every route of
// those APIs that takes a body takes JSON; GET routes read none and
// change nothing.
func jsonBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		if err := httpbody.CheckJSON(r); err != nil {
			refuse(w, http.StatusUnsupportedMediaType, "unsupported_media_type", err.Error())
			return
		}
		h.ServeHTTP(w, r)
	})
}

// crlRereadFailed is what watchCRLs logs when a CRL file cannot be read
// (a test waits for it).
const crlRereadFailed = "reread CRL files; the serials loaded before stay refused"
