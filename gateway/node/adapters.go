package node

import (
	"context"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/pki"
)

// The registry's local replica feeds the data path through these adapters;
// none of them waits on raft.

// agreements answers the policy layer's lookups from the registry.
type agreements struct {
	store *registry.Store
	now   func() time.Time
}

var _ policy.AgreementSource = agreements{}

// Agreements returns the version in force (else the newest) of the named
// agreement, with its status on the day, if both provinces are parties.
// Every record names its agreement, so an empty id finds nothing: default deny.
func (a agreements) Agreements(_ context.Context, p, q, id string) ([]contracts.Agreement, error) {
	if id == "" {
		return nil, nil
	}
	rec, err := a.store.Agreement(id)
	if err != nil {
		if registry.ErrorCode(err) == registry.ENotFound {
			return nil, nil
		}
		return nil, err
	}
	ag := rec.AgreementAt(a.now())
	if !ag.IsParty(p) || !ag.IsParty(q) {
		return nil, nil
	}
	return []contracts.Agreement{ag}, nil
}

// directory finds peer nodes in the registry's node list.
type directory struct{ store *registry.Store }

// PeerURL returns the API address of the node of the province that takes
// its deliveries (registry.DeliveryNode): with several, the one whose name
// sorts first, so that every sender picks the same one. There is no
// failover to the province's other nodes: each keeps a store of its own,
// and one that took the deliveries of a node down would store envelopes
// that node may already hold, in an inbox the province's systems do not
// read; deliveries wait for the node instead, queued at the origin.
func (d directory) PeerURL(province string) (string, error) {
	n, ok := registry.DeliveryNode(d.store.Nodes(), province)
	if !ok {
		return "", fmt.Errorf("the registry knows no node of province %s", province)
	}
	return "https://" + n.APIAddr, nil
}

// bundles serves the federation bundle in force from the registry, falling
// back to the bundle shipped in the binary until one is published.
type bundles struct{ store *registry.Store }

func (b bundles) FederationBundle(context.Context) (policy.Layer, error) {
	v := b.store.Policy()
	if v == nil {
		return policy.FederationBundle(), nil
	}
	l, err := policy.UnpackBundle(v.Content, uint64(v.Version))
	if err != nil {
		return policy.Layer{}, fmt.Errorf("federation bundle v%d: %w", v.Version, err)
	}
	return l, nil
}

// revocations refuses serials revoked in the registry or in CRL files. The
// registry starts after the TLS configuration it uses, so it is set late.
type revocations struct {
	crls *pki.RevocationList
	reg  atomic.Pointer[registry.Registry]
}

// initialized is the registry's store once the replica holds the
// federation, and nil before (a node starting or joining): it then knows no
// members, and the checks that ask it let everything through, leaving the
// other checks to decide.
func (r *revocations) initialized() *registry.Store {
	reg := r.reg.Load()
	if reg == nil || !reg.Store().Initialized() {
		return nil
	}
	return reg.Store()
}

// isMember says whether the registry lists province as a member; see
// initialized for a node whose registry does not hold the federation yet.
func (r *revocations) isMember(province string) bool {
	s := r.initialized()
	return s == nil || s.IsMember(province)
}

// listsCA says whether the registry lists ca among province's CA
// certificates (registry.Store.ListsCA): a CA the province rotated away
// from no longer vouches for what it issued. Like isMember, it lets
// everything through until the replica holds the federation.
func (r *revocations) listsCA(province string, ca *x509.Certificate) bool {
	s := r.initialized()
	return s == nil || s.ListsCA(province, ca)
}

func (r *revocations) Revoked(cert *x509.Certificate) bool {
	if r.crls.Revoked(cert) {
		return true
	}
	if reg := r.reg.Load(); reg != nil {
		return reg.IsRevoked(cert)
	}
	return false
}
