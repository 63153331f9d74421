package registry

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/laborlink/laborlink/pki"
)

// applyInit installs the genesis state. Only the first OpInit in the log
// applies; later ones are refused, so bootstrap voters racing to initialize
// cannot overwrite each other.
func (s *Store) applyInit(env *Envelope) *Result {
	if s.st.initialized() {
		return &Result{Err: Errorf(EConflict, "the registry is already initialized for federation %q", s.st.Domain)}
	}
	var g Genesis
	if err := decodeBody(env, &g); err != nil {
		return &Result{Err: err}
	}
	st := newState()
	st.Domain = g.Domain
	st.Roots = g.Roots
	st.MaxSkew = g.MaxSkew
	if st.MaxSkew <= 0 {
		st.MaxSkew = Duration(DefaultMaxSkew)
	}
	for _, m := range g.Members {
		st.Members[m.Province] = &Member{Province: m.Province, Name: m.Name, CACerts: m.CACerts, AddedAt: env.At}
	}
	for _, v := range g.Voters {
		id, err := parseNodeID(v.ID)
		if err != nil {
			return &Result{Err: err}
		}
		st.Nodes[v.ID] = &Node{NodeSpec: v, Province: id.Province, Voter: true, JoinedAt: env.At}
	}
	st.Stewards = slices.Clone(g.Stewards)
	if len(st.Stewards) == 0 {
		for _, n := range st.Nodes {
			st.Stewards = append(st.Stewards, n.Province)
		}
	}
	slices.Sort(st.Stewards)
	st.Stewards = slices.Compact(st.Stewards)
	if err := st.rebuildDerived(); err != nil {
		return &Result{Err: Errorf(EInvalid, "genesis: %v", err)}
	}
	s.st = st
	s.publish()
	return &Result{}
}

// parseNodeID parses a node ID of the form "p51/node/gw-1".
func parseNodeID(id string) (pki.Identity, *Error) {
	prov, rest, ok := strings.Cut(id, "/")
	name, isNode := strings.CutPrefix(rest, "node/")
	if !ok || !isNode || len(prov) != 3 || prov[0] != 'p' || !pki.ValidProvince(prov[1:]) || name == "" || strings.Contains(name, "/") {
		return pki.Identity{}, Errorf(EInvalid, "node id %q is not of the form p<province>/node/<name>", id)
	}
	return pki.Identity{Province: prov[1:], Kind: pki.KindNode, Name: name}, nil
}

func (s *Store) applyMemberAdd(env *Envelope, who signer) *Result {
	var m MemberSpec
	if err := decodeBody(env, &m); err != nil {
		return &Result{Err: err}
	}
	if err := s.requireSteward(env, who); err != nil {
		return &Result{Err: err}
	}
	if !pki.ValidProvince(m.Province) {
		return &Result{Err: Errorf(EInvalid, "member.add: unknown province code %q", m.Province)}
	}
	cas, err := pki.ParseCertificates("member "+m.Province+" CA certificates", m.CACerts)
	if err != nil {
		return &Result{Err: Errorf(EInvalid, "%v", err)}
	}
	if env.Op == OpMemberAdd {
		// Not for member.add of an older release (OpMemberAddV1): the
		// replicas that applied it listed whatever it gave.
		if err := s.st.checkCAs(m.Province, cas); err != nil {
			return &Result{Err: err}
		}
	}
	if err := s.st.refuseRetired(m.Province, cas); err != nil {
		return &Result{Err: err}
	}
	// Admitting a member again replaces its name and CA certificates, as a
	// province rotating its CA needs (old and new together for the
	// overlap); it keeps the day it was admitted. A province removed and
	// admitted again starts a new membership.
	added := env.At
	if prev := s.st.Members[m.Province]; prev != nil {
		added = prev.AddedAt
	}
	mem := &Member{Province: m.Province, Name: m.Name, CACerts: m.CACerts, AddedAt: added, cas: cas}
	s.st.Members[m.Province] = mem
	s.publishTrust()
	return &Result{}
}

// checkCAs refuses CA certificates that cannot vouch for province: a leaf,
// a CA constrained to another province (a wrong --ca-cert file), or one no
// root of the federation signed. Listed, another province's CA would sign
// nothing of this one, and expelling this province would retire it, cutting
// the other province off every node. It reads only the certificates and the
// roots, so it gives every replica the same verdict.
func (st *state) checkCAs(province string, cas []*x509.Certificate) *Error {
	for _, ca := range cas {
		what := fmt.Sprintf("certificate %q (serial %s)", ca.Subject.CommonName, serialKey(ca.SerialNumber.Bytes()))
		if !ca.IsCA {
			return Errorf(EInvalid, "member.add: the %s is not a CA certificate; give province %s's CA certificate (ca.pem in its CA directory)", what, province)
		}
		switch p := pki.CertProvince(ca); p {
		case province:
		case "":
			return Errorf(EInvalid, "member.add: the CA %s is not constrained to a province, as a province CA is; give province %s's CA certificate, made by laborlink pki sign-province", what, province)
		default:
			return Errorf(EInvalid, "member.add: the CA %s is constrained to province %s, not %s: it can vouch for no identity of province %s; give province %s's own CA certificate", what, p, province, province, province)
		}
		if !slices.ContainsFunc(st.roots, func(r *x509.Certificate) bool { return ca.CheckSignatureFrom(r) == nil }) {
			return Errorf(EInvalid, "member.add: the CA %s was not signed by a root of the federation; have the federation root sign province %s's CA (laborlink pki sign-province)", what, province)
		}
	}
	return nil
}

// refuseRetired refuses to register a CA certificate whose key a removed
// membership used (RetiredCA): the certificates it signed before the
// removal would be trusted again.
func (st *state) refuseRetired(province string, cas []*x509.Certificate) *Error {
	for _, ca := range cas {
		if r := st.Retired[caKey(ca)]; r != nil {
			return Errorf(EConflict, "member.add: the CA certificate %q (serial %s) has the key of a CA retired when province %s was removed at %s: "+
				"the certificates it signed must never be trusted again. Make province %s a new CA with a new key (laborlink pki csr, then laborlink pki sign-province) and admit it with that one",
				ca.Subject.CommonName, serialKey(ca.SerialNumber.Bytes()), r.Province, r.At.Format(time.RFC3339), province)
		}
	}
	return nil
}

// applyMemberRemove removes a member province that has left in order: its
// nodes removed and every agreement it is a party to terminated first, so
// that nothing the registry holds still relies on the province. Its
// revocations and issuances stay, as history. Without the member its CA
// certificates are gone from the registry, so its certificates sign no
// command and its nodes cannot join or speak raft; admitting it again later
// starts a new membership. OpMemberExpel also retires the keys of those CA
// certificates, so that the new membership cannot bring back what they
// signed; OpMemberRemove, of an older release, did not.
func (s *Store) applyMemberRemove(env *Envelope, who signer) *Result {
	var ref MemberRef
	if err := decodeBody(env, &ref); err != nil {
		return &Result{Err: err}
	}
	if err := s.requireSteward(env, who); err != nil {
		return &Result{Err: err}
	}
	p := ref.Province
	if !pki.ValidProvince(p) {
		return &Result{Err: Errorf(EInvalid, "%s: unknown province code %q", env.Op, p)}
	}
	m := s.st.Members[p]
	if m == nil {
		return &Result{Err: Errorf(ENotFound, "%s: province %s is not a member of the federation", env.Op, p)}
	}
	if s.st.isSteward(p) {
		return &Result{Err: Errorf(EForbidden, "%s: province %s is a steward province (stewards: %v); a steward cannot be removed", env.Op, p, s.st.Stewards)}
	}
	if err := s.st.leftInOrder(env.Op, p, env.At); err != nil {
		return &Result{Err: err}
	}
	delete(s.st.Members, p)
	if env.Op == OpMemberExpel {
		s.st.retire(m, env.At, who)
	}
	s.publishTrust()
	return &Result{}
}

// retire records the keys of a removed member's CA certificates.
func (st *state) retire(m *Member, at time.Time, who signer) {
	for _, ca := range m.cas {
		if k := caKey(ca); st.Retired[k] == nil {
			st.Retired[k] = &RetiredCA{Key: k, Province: m.Province, Serial: serialKey(ca.SerialNumber.Bytes()),
				Subject: ca.Subject.CommonName, At: at, By: who.URI()}
		}
	}
}

// leftInOrder refuses the removal of a province that still has nodes in the
// registry or is a party to an agreement that has not ended, naming them
// all so the admins see the whole of what is left to do. Names are sorted,
// and statuses read as the releases that proposed member.remove and
// member.expel read them (appliedVersion): the message is kept with the
// command's nonce, in every replica's state.
func (st *state) leftInOrder(op Op, p string, at time.Time) *Error {
	var nodes, agreements []string
	for id, n := range st.Nodes {
		if n.Province == p {
			nodes = append(nodes, id)
		}
	}
	for id, r := range st.Agreements {
		if r.Latest().Agreement.IsParty(p) && (r.Current() != nil || r.Pending() != nil) {
			agreements = append(agreements, fmt.Sprintf("%s (%s)", id, r.appliedVersion().StatusAt(at)))
		}
	}
	slices.Sort(nodes)
	slices.Sort(agreements)
	var problems []string
	if len(nodes) > 0 {
		problems = append(problems, fmt.Sprintf("province %s still has nodes in the registry: %s; remove them first (laborlink registry remove NODE-ID)", p, strings.Join(nodes, ", ")))
	}
	if len(agreements) > 0 {
		subject := "province " + p
		if len(problems) > 0 {
			subject = "It"
		}
		problems = append(problems, fmt.Sprintf("%s is a party to agreements that are not terminated: %s; terminate them first (laborlink agreement terminate ID)", subject, strings.Join(agreements, ", ")))
	}
	if len(problems) == 0 {
		return nil
	}
	return Errorf(EConflict, "%s: %s", op, strings.Join(problems, ". "))
}

func (s *Store) requireSteward(env *Envelope, who signer) *Error {
	if err := requireKind(who, env, pki.KindAdmin); err != nil {
		return err
	}
	if !s.st.isSteward(who.Province) {
		return Errorf(EForbidden, "%s cannot %s: only admins of the steward provinces %v may", who, env.Op, s.st.Stewards)
	}
	return nil
}

// applyNodeJoin records a node. It is signed by the node itself, which
// proves the node holds the key of a certificate of a member province.
func (s *Store) applyNodeJoin(env *Envelope, who signer) *Result {
	var n NodeSpec
	if err := decodeBody(env, &n); err != nil {
		return &Result{Err: err}
	}
	if err := requireKind(who, env, pki.KindNode); err != nil {
		return &Result{Err: err}
	}
	if n.ID != who.String() {
		return &Result{Err: Errorf(EForbidden, "node %s cannot join as %q: the node id must be its own identity", who, n.ID)}
	}
	if n.RaftAddr == "" {
		return &Result{Err: Errorf(EInvalid, "node.join: raft_addr is required")}
	}
	node := &Node{NodeSpec: n, Province: who.Province, JoinedAt: env.At}
	if old := s.st.Nodes[n.ID]; old != nil {
		node.Voter, node.JoinedAt = old.Voter, old.JoinedAt
	}
	s.st.Nodes[n.ID] = node
	return &Result{Node: node}
}

// applyNodeRole records a promotion, demotion or removal. Promotion is a
// steward decision; a province's own admin may also demote or remove its
// node.
func (s *Store) applyNodeRole(env *Envelope, who signer) *Result {
	var ref NodeRef
	if err := decodeBody(env, &ref); err != nil {
		return &Result{Err: err}
	}
	if err := requireKind(who, env, pki.KindAdmin); err != nil {
		return &Result{Err: err}
	}
	n := s.st.Nodes[ref.ID]
	if n == nil {
		return &Result{Err: Errorf(ENotFound, "unknown node %q", ref.ID)}
	}
	if !s.st.isSteward(who.Province) && (env.Op == OpNodePromote || n.Province != who.Province) {
		return &Result{Err: Errorf(EForbidden, "%s cannot %s %s: it takes a steward admin (%v) or, to demote or remove, an admin of province %s", who, env.Op, n.ID, s.st.Stewards, n.Province)}
	}
	c := *n
	switch env.Op {
	case OpNodePromote:
		c.Voter = true
	case OpNodeDemote:
		c.Voter = false
	case OpNodeRemove:
		delete(s.st.Nodes, n.ID)
		return &Result{Node: &c}
	}
	s.st.Nodes[n.ID] = &c
	return &Result{Node: &c}
}

func (s *Store) applyPolicy(index uint64, env *Envelope, who signer) *Result {
	var p PolicyBody
	if err := decodeBody(env, &p); err != nil {
		return &Result{Err: err}
	}
	if err := s.requireSteward(env, who); err != nil {
		return &Result{Err: err}
	}
	if len(p.Content) == 0 {
		return &Result{Err: Errorf(EInvalid, "policy.publish: the bundle content is empty")}
	}
	v := &PolicyVersion{Version: len(s.st.Policies) + 1, Digest: digestHex(p.Content), Content: p.Content, Note: p.Note, PublishedAt: env.At, PublishedBy: who.URI(), Index: index}
	s.st.Policies = append(s.st.Policies, v)
	return &Result{Policy: v}
}

func (s *Store) applyRevoke(index uint64, env *Envelope, who signer) *Result {
	var r RevokeBody
	if err := decodeBody(env, &r); err != nil {
		return &Result{Err: err}
	}
	if err := s.st.mayRevoke(who, env, r.Province); err != nil {
		return &Result{Err: err}
	}
	key, ok := parseSerial(r.Serial)
	if !ok {
		return &Result{Err: Errorf(EInvalid, "cert.revoke: serial %q is not a positive hex number", r.Serial)}
	}
	r.Serial = key
	s.st.Revoked[provinceSerial(r.Province, key)] = &Revocation{RevokeBody: r, At: env.At, By: who.URI(), Index: index}
	s.publishTrust()
	return &Result{}
}

// mayRevoke refuses who revoking the certificates of province unless it
// is an admin of that province or of a steward.
func (s *state) mayRevoke(who signer, env *Envelope, province string) *Error {
	if err := requireKind(who, env, pki.KindAdmin); err != nil {
		return err
	}
	if province != who.Province && !s.isSteward(who.Province) {
		return Errorf(EForbidden, "%s cannot revoke certificates of province %s", who, province)
	}
	return nil
}

// applyIssued records a certificate issued by a member's CA. The certificate
// must be signed by one of the CA certificates the registry holds for its
// province: an issuance record cannot be made up for a certificate that
// province never issued. Recording the same certificate again changes
// nothing.
func (s *Store) applyIssued(index uint64, env *Envelope, who signer) *Result {
	var b IssuedBody
	if err := decodeBody(env, &b); err != nil {
		return &Result{Err: err}
	}
	if err := requireKind(who, env, pki.KindAdmin); err != nil {
		return &Result{Err: err}
	}
	certs, err := pki.ParseCertificates("cert.issued: certificate", b.Certificate)
	if err != nil {
		return &Result{Err: Errorf(EInvalid, "%v", err)}
	}
	cert := certs[0]
	id, err := pki.IdentityFromCert(cert)
	if err != nil {
		return &Result{Err: Errorf(EInvalid, "cert.issued: certificate: %v", err)}
	}
	if id.Province != who.Province && !s.st.isSteward(who.Province) {
		return &Result{Err: Errorf(EForbidden, "%s cannot record certificates of province %s", who, id.Province)}
	}
	m := s.st.Members[id.Province]
	if m == nil {
		return &Result{Err: Errorf(EInvalid, "cert.issued: province %s of %s is not a member", id.Province, id)}
	}
	if !m.issued(cert) {
		return &Result{Err: Errorf(EInvalid, "cert.issued: %s (serial %s) was not signed by a CA certificate the registry holds for province %s", id, cert.SerialNumber.Text(16), id.Province)}
	}
	serial := serialKey(cert.SerialNumber.Bytes())
	if key := provinceSerial(id.Province, serial); s.st.Issued[key] == nil {
		s.st.Issued[key] = &Issuance{Serial: serial, Province: id.Province, Kind: id.Kind,
			Identity: id.URI(), NotAfter: cert.NotAfter.UTC(), Index: index, At: env.At, By: who.URI()}
	}
	return &Result{}
}

// rebuildDerived recomputes what is not stored: parsed certificates and pools.
func (st *state) rebuildDerived() error {
	roots, err := pki.ParseCertificates("federation roots", st.Roots)
	if err != nil {
		return err
	}
	st.roots = roots
	st.rootPool = x509.NewCertPool()
	for _, r := range roots {
		st.rootPool.AddCert(r)
	}
	for p, m := range st.Members {
		if m.cas, err = pki.ParseCertificates("member "+p+" CA certificates", m.CACerts); err != nil {
			return err
		}
	}
	return nil
}
