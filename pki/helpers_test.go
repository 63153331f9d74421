package pki

import (
	"crypto/tls"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

const testDomain = "laborlink.example"

// newFederation builds a federation PKI in a temporary directory. The root
// and province CAs are backdated so that tests can issue leaves that are
// already expired.
func newFederation(t *testing.T, provinces ...string) *Federation {
	t.Helper()
	f, err := CreateFederation(t.TempDir(), testDomain, provinces, FederationOptions{
		Root:     RootOptions{Backdate: 90 * 24 * time.Hour},
		Province: SignProvinceOptions{NotBefore: time.Now().Add(-60 * 24 * time.Hour)},
	})
	if err != nil {
		t.Fatalf("create federation: %v", err)
	}
	return f
}

// issue issues a leaf from the federation's CA for province.
func issue(t *testing.T, f *Federation, province string, req IssueRequest) *Leaf {
	t.Helper()
	ca, err := f.CA(province)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(req)
	if err != nil {
		t.Fatalf("issue %s/%s in p%s: %v", req.Kind, req.Name, province, err)
	}
	return leaf
}

// tlsFor builds a TLS for a leaf that checks its files on every handshake.
func tlsFor(t *testing.T, leaf *Leaf, v *Verifier) *TLS {
	t.Helper()
	kp, err := LoadKeyPair(leaf.CertFile, leaf.KeyFile, WithReloadInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	return &TLS{KeyPair: kp, Verifier: v}
}

func serverConfig(t *testing.T, tl *TLS, p PeerPolicy) *tls.Config {
	t.Helper()
	c, err := tl.ServerConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func clientConfig(t *testing.T, tl *TLS, p PeerPolicy) *tls.Config {
	t.Helper()
	c, err := tl.ClientConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// side is what one end of a handshake saw.
type side struct {
	err    error
	peer   Identity
	serial *big.Int
}

// handshake runs a real TLS handshake over loopback TCP and then one
// round trip of application data, so that a client certificate the server
// refuses also shows up on the client. Deadlines only guard against a hang.
func handshake(t *testing.T, server, client *tls.Config) (srv, cli side) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan side, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- side{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		done <- finish(tls.Server(c, server), func(tc *tls.Conn) error {
			_, err := tc.Write([]byte("ok"))
			return err
		})
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	cli = finish(tls.Client(c, client), func(tc *tls.Conn) error {
		_, err := io.ReadFull(tc, make([]byte, 2))
		return err
	})
	c.Close()
	return <-done, cli
}

func finish(tc *tls.Conn, exchange func(*tls.Conn) error) side {
	if err := tc.Handshake(); err != nil {
		return side{err: err}
	}
	cs := tc.ConnectionState()
	var s side
	s.peer, s.err = PeerIdentity(cs)
	s.serial = cs.PeerCertificates[0].SerialNumber
	if err := exchange(tc); err != nil && s.err == nil {
		s.err = err
	}
	return s
}

// snapshot returns every file under dir with its contents, to prove that a
// refused operation wrote nothing.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[path] = string(data)
		return nil
	})
	return files
}

func sameFiles(t *testing.T, before, after map[string]string) {
	t.Helper()
	var diff []string
	for p, d := range after {
		if b, ok := before[p]; !ok || b != d {
			diff = append(diff, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			diff = append(diff, p+" (removed)")
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Errorf("refused operation changed files: %v", diff)
	}
}
