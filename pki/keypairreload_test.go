package pki

import (
	"crypto/tls"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestKeyPairServesWhileAReloadReads: while one handshake's check reads
// the files (held up here, as a slow disk would), the others are served
// the pair in use at once, and the check then puts in the rotated pair.
func TestKeyPairServesWhileAReloadReads(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	certFile, keyFile := copyPair(t, a)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	kp, err := LoadKeyPair(certFile, keyFile, WithReloadInterval(time.Minute), WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	b := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true})
	putPair(t, b, certFile, keyFile)
	reading, release := make(chan struct{}), make(chan struct{})
	var held atomic.Bool
	kp.readFile = func(name string) ([]byte, error) {
		if name == keyFile && held.CompareAndSwap(false, true) {
			close(reading)
			<-release
		}
		return os.ReadFile(name)
	}

	clock.advance(time.Minute) // a check is due
	reloaded := make(chan *tls.Certificate)
	go func() {
		c, _ := kp.GetCertificate(nil)
		reloaded <- c
	}()
	<-reading
	// With the lock held, the calls below would wait for the read this
	// test holds up, for ever: fail instead.
	if !kp.mu.TryLock() {
		close(release)
		<-reloaded
		t.Fatal("the key pair's lock is held while its files are read: every handshake waits for the disk")
	}
	kp.mu.Unlock()
	for name, get := range map[string]func() (*tls.Certificate, error){
		"GetCertificate":       func() (*tls.Certificate, error) { return kp.GetCertificate(nil) },
		"GetClientCertificate": func() (*tls.Certificate, error) { return kp.GetClientCertificate(nil) },
		"Certificate":          kp.Certificate,
	} {
		if c, err := get(); err != nil || !c.Leaf.Equal(a.Cert) {
			t.Errorf("%s during the reload: %v, %v; want the pair in use", name, c.Leaf.Subject, err)
		}
	}
	if g := kp.Generation(); g != 0 {
		t.Errorf("generation %d during the reload, want 0", g)
	}

	close(release)
	if c := <-reloaded; !c.Leaf.Equal(b.Cert) {
		t.Errorf("the reload returned serial %s, want the rotated %s", serialString(c.Leaf.SerialNumber), serialString(b.Cert.SerialNumber))
	}
	if c, _ := kp.Certificate(); !c.Leaf.Equal(b.Cert) || kp.Generation() != 1 {
		t.Errorf("after the reload: serial %s at generation %d; want the rotated %s at 1", serialString(c.Leaf.SerialNumber), kp.Generation(), serialString(b.Cert.SerialNumber))
	}
}

// TestKeyPairChecksOneAtATime: a check reads the files without the lock,
// so two checks could overlap, and one that read the files before a
// rotation settle after one that read them after it, putting the old pair
// back. Checks go one at a time: while one reads, other callers are served
// the pair in use without reading, and the files changed meanwhile are
// read by the next check.
func TestKeyPairChecksOneAtATime(t *testing.T) {
	for _, c := range []struct {
		name string
		// first puts what the first check reads in place of the pair
		// in use.
		first func(t *testing.T, f *Federation, certFile, keyFile string)
		// firstGen is the generation once the first check settles.
		firstGen uint64
	}{
		{"a rotated pair, rotated again since", func(t *testing.T, f *Federation, certFile, keyFile string) {
			b := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true})
			putPair(t, b, certFile, keyFile)
		}, 1},
		{"a half rotation, completed since", func(t *testing.T, f *Federation, certFile, keyFile string) {
			b := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true})
			putFile(t, b.CertFile, certFile)
		}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFederation(t, "51")
			a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
			kp, certFile, keyFile := loadCopy(t, a)
			c.first(t, f, certFile, keyFile)
			read, release := make(chan struct{}), make(chan struct{})
			var held atomic.Bool
			var reads atomic.Int32
			kp.readFile = func(name string) ([]byte, error) {
				reads.Add(1)
				data, err := os.ReadFile(name)
				if name == keyFile && held.CompareAndSwap(false, true) {
					// The first check, having read both files.
					close(read)
					<-release
				}
				return data, err
			}
			first := make(chan *tls.Certificate)
			go func() {
				c, _ := kp.Certificate()
				first <- c
			}()
			<-read

			last := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true})
			putPair(t, last, certFile, keyFile)
			if got, _ := kp.Certificate(); !got.Leaf.Equal(a.Cert) || reads.Load() != 2 {
				t.Fatalf("a call while the first check reads: serial %s after %d file reads; want the pair in use (%s), the files left to the check under way",
					serialString(got.Leaf.SerialNumber), reads.Load(), serialString(a.Cert.SerialNumber))
			}
			close(release)
			<-first
			if g := kp.Generation(); g != c.firstGen {
				t.Errorf("generation %d once the first check settled, want %d", g, c.firstGen)
			}
			if got, _ := kp.Certificate(); !got.Leaf.Equal(last.Cert) {
				t.Errorf("the next check serves serial %s; want the last rotated in, %s", serialString(got.Leaf.SerialNumber), serialString(last.Cert.SerialNumber))
			}
			if g := kp.Generation(); g != c.firstGen+1 {
				t.Errorf("generation %d after the next check, want %d", g, c.firstGen+1)
			}
			if err := kp.LastError(); err != nil {
				t.Errorf("LastError = %v after the next check; the files are good", err)
			}
		})
	}
}

// TestKeyPairConcurrentReloads: handshakes check the files (every time,
// interval 0) while they are rotated under them, pair after pair, each
// file replaced on its own. Every certificate served is one of the pairs
// (a half rotation is never served), Generation never goes back, and
// once the rotations stop the last pair is served, without error. Run
// with -race.
func TestKeyPairConcurrentReloads(t *testing.T) {
	f := newFederation(t, "51")
	a := issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1"})
	kp, certFile, keyFile := loadCopy(t, a)
	leaves := []*Leaf{a}
	for range 4 {
		leaves = append(leaves, issue(t, f, "51", IssueRequest{Kind: KindNode, Name: "gw-1", Force: true}))
	}
	issued := func(c *tls.Certificate) bool {
		for _, l := range leaves {
			if c.Leaf.Equal(l.Cert) {
				return true
			}
		}
		return false
	}

	stop := make(chan struct{})
	var handshakes sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		handshakes.Go(func() {
			var gen uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := kp.GetCertificate(nil)
				if err != nil || !issued(c) {
					errs <- "served a certificate not among the pairs"
					return
				}
				g := kp.Generation()
				if g < gen {
					errs <- "generation went back"
					return
				}
				gen = g
				_ = kp.LastError()
			}
		})
	}
	for round := range 3 {
		for _, l := range leaves[1:] {
			if round%2 == 0 {
				putFile(t, l.CertFile, certFile)
				putFile(t, l.KeyFile, keyFile)
			} else {
				putFile(t, l.KeyFile, keyFile)
				putFile(t, l.CertFile, certFile)
			}
		}
	}
	close(stop)
	handshakes.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	last := leaves[len(leaves)-1]
	if c, _ := kp.Certificate(); !c.Leaf.Equal(last.Cert) {
		t.Errorf("after the rotations: serial %s, want the last %s", serialString(c.Leaf.SerialNumber), serialString(last.Cert.SerialNumber))
	}
	if err := kp.LastError(); err != nil {
		t.Errorf("LastError = %v with the last pair in the files", err)
	}
	if kp.Generation() == 0 {
		t.Error("generation 0 after the rotations")
	}
}

// putPair puts a leaf's certificate and key in place of the files, by
// renaming, the certificate first.
func putPair(t *testing.T, l *Leaf, certFile, keyFile string) {
	t.Helper()
	putFile(t, l.CertFile, certFile)
	putFile(t, l.KeyFile, keyFile)
}

// putFile puts a copy of from in place of to, by renaming.
func putFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
