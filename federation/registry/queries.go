package registry

import (
	"bytes"
	"cmp"
	"crypto/x509"
	"slices"
	"strings"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// Filter selects agreements for List. Zero fields match everything.
type Filter struct {
	// Party is a province code ("51") that must be a party.
	Party string `json:"party,omitempty"`
	// Pair is an ordered origin, destination province pair ("51", "44").
	Origin      string `json:"origin,omitempty"`
	Destination string `json:"destination,omitempty"`
	// Status is the derived status at the query time.
	Status     contracts.AgreementStatus `json:"status,omitempty"`
	RecordType contracts.RecordType      `json:"record_type,omitempty"`
	Purpose    contracts.Purpose         `json:"purpose,omitempty"`
}

// checkQuery refuses a query of the API's that no agreement could match
// because a value is not a code or name at all (status=bogus, origin=zz):
// answered with an empty list, a typo would read as "no such agreement".
// places are (parameter, value) pairs, each a 2-digit province code, or
// with divisions a 6-digit division code as well; errors name the
// parameter.
func checkQuery(divisions bool, places [][2]string, status contracts.AgreementStatus, rt contracts.RecordType, purpose contracts.Purpose) error {
	for _, p := range places {
		name, code := p[0], p[1]
		switch {
		case code == "" || contracts.IsProvince(code):
		case !divisions:
			return Errorf(EInvalid, "%s=%q is not a 2-digit province code, such as 44", name, code)
		case contracts.CheckDivision(code) != nil:
			return Errorf(EInvalid, "%s=%q is neither a 2-digit province code nor a division code: %v", name, code, contracts.CheckDivision(code))
		}
	}
	if status != "" && !slices.Contains(contracts.AgreementStatuses(), status) {
		return Errorf(EInvalid, "status=%q is not an agreement status; want one of proposed, approved, active, suspended, terminated, expired", status)
	}
	if rt != "" && contracts.SchemaFor(rt) == "" {
		return Errorf(EInvalid, "record_type=%q is not a record type; want one of %v", rt, contracts.RecordTypes())
	}
	if purpose != "" && !slices.Contains(contracts.RecordPurposes(), purpose) {
		return Errorf(EInvalid, "purpose=%q is not a purpose records cross for", purpose)
	}
	return nil
}

// checkEveryGiven refuses a query that leaves out one of params, (name,
// value) pairs: covers asks about one record, and a parameter left out
// matches no agreement, so an empty answer would read as "no agreement
// covers it".
func checkEveryGiven(params [][2]string) error {
	for _, p := range params {
		if p[1] == "" {
			return Errorf(EInvalid, "%s= is missing: covers answers for one record, and needs its origin, destination, record type and purpose", p[0])
		}
	}
	return nil
}

// Summary is one line of List: an agreement's effective version and its
// status at the query time.
type Summary struct {
	ID          string                    `json:"id"`
	Version     int                       `json:"version"`
	Title       string                    `json:"title"`
	Origin      contracts.Party           `json:"origin"`
	Destination contracts.Party           `json:"destination"`
	ValidFrom   contracts.Date            `json:"valid_from"`
	ValidUntil  contracts.Date            `json:"valid_until"`
	Status      contracts.AgreementStatus `json:"status"`
	// Pending is the version awaiting approval, if an amendment is pending.
	Pending int `json:"pending,omitempty"`
}

func (f Filter) match(r *AgreementRecord, t time.Time) bool {
	a := &r.Effective().Agreement
	switch {
	case f.Party != "" && !a.IsParty(f.Party):
		return false
	case f.Origin != "" && a.Origin.Province() != f.Origin:
		return false
	case f.Destination != "" && a.Destination.Province() != f.Destination:
		return false
	case f.Status != "" && r.StatusAt(t) != f.Status:
		return false
	}
	if f.RecordType == "" && f.Purpose == "" {
		return true
	}
	for _, rule := range a.Scope {
		if (f.RecordType == "" || rule.RecordType == f.RecordType) && (f.Purpose == "" || slices.Contains(rule.Purposes, f.Purpose)) {
			return true
		}
	}
	return false
}

// List returns the agreements matching f at time t, in ID order. It scans
// every agreement: it is for administrators, not the data path (see Covers).
func (s *Store) List(f Filter, t time.Time) []Summary {
	s.mu.RLock()
	defer s.mu.RUnlock()
	// Empty, not nil, when none matches: GET /v1/registry/agreements
	// answers the list, and a client iterating it fails on null.
	out := []Summary{}
	for _, r := range s.st.Agreements {
		if !f.match(r, t) {
			continue
		}
		v := r.Effective()
		sum := Summary{ID: r.ID, Version: v.Agreement.Version, Title: v.Agreement.Title, Origin: v.Agreement.Origin, Destination: v.Agreement.Destination,
			ValidFrom: v.Agreement.ValidFrom, ValidUntil: v.Agreement.ValidUntil, Status: v.StatusAt(t)}
		if p := r.Pending(); p != nil && p != v {
			sum.Pending = p.Agreement.Version
		}
		out = append(out, sum)
	}
	slices.SortFunc(out, func(a, b Summary) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Agreement returns an agreement with its versions and history. The record
// is immutable and safe to keep.
func (s *Store) Agreement(id string) (*AgreementRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.st.Agreements[id]
	if r == nil {
		return nil, Errorf(ENotFound, "unknown agreement %q", id)
	}
	return r, nil
}

// Members returns the member provinces in code order.
func (s *Store) Members() []Member {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedCopies(s.st.Members, func(a, b Member) int { return strings.Compare(a.Province, b.Province) })
}

// sortedCopies returns copies of a state map's records, sorted by cmp, so
// that callers hold them without the store's lock.
func sortedCopies[V any](m map[string]*V, cmp func(a, b V) int) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, *v)
	}
	slices.SortFunc(out, cmp)
	return out
}

// IsMember reports whether the province is a member.
func (s *Store) IsMember(province string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.Members[province] != nil
}

// ListsCA reports whether ca is among the CA certificates the registry
// holds for province, the ones a rotation (member.add) left it: only these
// vouch for the province's identities at nodes' handshakes. Certificates
// are compared by public key, as retired CAs are: a certificate the root
// signed again for a listed key (a renewal) vouches for the same leaves,
// and a leaf cannot tell which of the two issued it.
func (s *Store) ListsCA(province string, ca *x509.Certificate) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.st.Members[province]
	return m != nil && slices.ContainsFunc(m.cas, func(c *x509.Certificate) bool { return sameKey(c, ca) })
}

// listsIssuerOf reports whether one of the CA certificates the registry
// lists for province now signed leaf: ListsCA for a leaf whose issuing
// certificate is not at hand, as for a raft peer checked again long after
// its handshake.
func (s *Store) listsIssuerOf(province string, leaf *x509.Certificate) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.st.Members[province]
	return m != nil && m.issued(leaf)
}

// checkCAs is state.checkCAs of the registry as it is now, for the
// leader's checks before the log.
func (s *Store) checkCAs(province string, cas []*x509.Certificate) *Error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.checkCAs(province, cas)
}

// delisted returns the CA certificates the registry lists for province now
// whose keys are not among cas: the CAs a member.add listing cas would stop
// trusting. A province that is no member yet has none.
func (s *Store) delisted(province string, cas []*x509.Certificate) []*x509.Certificate {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.st.Members[province]
	if m == nil {
		return nil
	}
	var gone []*x509.Certificate
	for _, c := range m.cas {
		if !slices.ContainsFunc(cas, func(k *x509.Certificate) bool { return sameKey(c, k) }) {
			gone = append(gone, c)
		}
	}
	return gone
}

// sameKey reports whether two CA certificates are for the same key, which
// is how the registry compares CAs (see ListsCA).
func sameKey(a, b *x509.Certificate) bool {
	return bytes.Equal(a.RawSubjectPublicKeyInfo, b.RawSubjectPublicKeyInfo)
}

// Initialized reports whether the genesis command has been applied.
func (s *Store) Initialized() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.initialized()
}

// seenNonce reports whether the registry holds the outcome of a command
// with this nonce: submitting it again answers that outcome.
func (s *Store) seenNonce(nonce string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return nonce != "" && s.st.Nonces[nonce] != nil
}

// Nodes returns the registered nodes in ID order.
func (s *Store) Nodes() []Node {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Node, 0, len(s.st.Nodes))
	for _, n := range s.st.Nodes {
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// DeliveryNode returns, of nodes, the node of province that other
// provinces deliver records to: of the province's nodes with an API
// address, the one whose id (so whose name) sorts first, such as gw-1
// before gw-2. Each node keeps its inbox, its records and its dedup of
// envelope ids in a store of its own, so a province takes its deliveries
// at one node: deliveries spread over several, or failed over from one to
// another, would store an envelope twice and split the inbox, and a
// confirmation would not find, on the node it reaches, the transfer it
// confirms. The choice rests on the names alone, which the province
// chooses, so that every sender picks the same node, and a node joining
// (a registry voter, say) or rejoining does not take the deliveries over
// unless its name sorts first.
func DeliveryNode(nodes []Node, province string) (Node, bool) {
	var best Node
	found := false
	for _, n := range nodes {
		if n.Province != province || n.APIAddr == "" {
			continue
		}
		if !found || n.ID < best.ID {
			best, found = n, true
		}
	}
	return best, found
}

// Node returns one registered node.
func (s *Store) Node(id string) (Node, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := s.st.Nodes[id]
	if n == nil {
		return Node{}, false
	}
	return *n, true
}

// Policy returns the latest federation policy bundle, or nil if none was
// published.
func (s *Store) Policy() *PolicyVersion {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.st.Policies) == 0 {
		return nil
	}
	return s.st.Policies[len(s.st.Policies)-1]
}

// Policies returns every published policy version, oldest first.
func (s *Store) Policies() []*PolicyVersion {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.st.Policies)
}

// Revocations returns the revoked serials in serial order, by number
// (ff before 0a01), and those of one serial (issued by two province CAs)
// by province.
func (s *Store) Revocations() []Revocation {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedCopies(s.st.Revoked, func(a, b Revocation) int {
		return cmp.Or(compareSerials(a.Serial, b.Serial), strings.Compare(a.Province, b.Province))
	})
}

// revocation returns the revocation the registry holds for the serial
// (serialKey) of province.
func (s *Store) revocation(province, serial string) (Revocation, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.st.Revoked[provinceSerial(province, serial)]
	if r == nil {
		return Revocation{}, false
	}
	return *r, true
}

// revokeAllowed reports whether env's signer, verified as apply would
// verify it were env applied at at, may revoke the certificates of
// province: a signer that may not hears that, not whether the serial is
// revoked already.
func (s *Store) revokeAllowed(env *Envelope, province string, at time.Time) bool {
	stamped := *env
	stamped.At = at
	msg, msgErr := stamped.SigningBytes()
	s.mu.RLock()
	defer s.mu.RUnlock()
	who, err := s.st.authenticate(&stamped, msg, msgErr)
	return err == nil && s.st.mayRevoke(who, &stamped, province) == nil
}

// compareSerials compares two serials in lower-case hex, as apply stores
// them, by number. As text, "ff" would sort after "0a01": serials vary in
// length and serialKey keeps a leading zero nibble. Without leading zeros,
// the longer is the greater and those of one length compare as text. It
// allocates nothing: the nodes' audit lists revocations every second.
func compareSerials(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
}

// Issuances returns the recorded certificate issuances, oldest first: in
// the order the registry applied them, by log index. Their times are the
// clocks of the leaders that applied them, which differ, so they order
// only those a restored backup brought, which share the restore's index.
func (s *Store) Issuances() []Issuance {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedCopies(s.st.Issued, func(a, b Issuance) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), a.At.Compare(b.At),
			strings.Compare(a.Province, b.Province), strings.Compare(a.Serial, b.Serial))
	})
}

// Domain is the federation domain the registry was initialized with.
func (s *Store) Domain() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.Domain
}

func (s *Store) count() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.st.Agreements)
}

// IsSteward reports whether admins of the province may change
// federation-wide state.
func (s *Store) IsSteward(province string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.isSteward(province)
}
