// Package e2e holds the end-to-end tests of the exchange: a development
// federation of real nodes on loopback (devfed), each with its mutual TLS,
// raft registry replica, OPA policy and bbolt store, driven through the
// local and peer APIs the way provinces drive them, with every node's log
// scanned for personal data at the end of each test.
package e2e
