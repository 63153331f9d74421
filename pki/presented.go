package pki

// Presented is which of a KeyPair's certificates the connections of a
// client (an HTTP client, a transport) present: the pair's Generation,
// taken (KeyPair.Presenting) before the client was made. A rotation
// serves the new certificate from the next handshake on, while the
// connections already open go on presenting the one before; once that one
// is revoked, as the runbook after a key compromise has it, a server that
// checks the client's certificate with every request, as a node does,
// refuses each request on them, and a client that retries on the same
// connection is refused for ever. So a client that keeps connections open
// is made again once what it presents is Behind, and the old one's
// connections are closed.
//
// The zero Presented is that of a certificate that is never reloaded.
type Presented struct{ gen uint64 }

// Presenting returns what a client made from now on presents: the
// certificate in use or a later one. Take it before the client is made,
// not after: a reload during the client's first handshake then costs one
// handshake more, never a connection with the old certificate kept. It is
// an atomic load.
func (k *KeyPair) Presenting() Presented { return Presented{k.Generation()} }

// Behind reports whether the connections of a client made at p may
// present a certificate the key pair has replaced since, as of now (taken
// with Presenting): the client is to be made again.
func (p Presented) Behind(now Presented) bool { return p.gen < now.gen }
