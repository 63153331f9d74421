package registry

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/pki"
)

// EnvelopeVersion is the version of the command envelope this code writes and
// applies. Apply rejects other versions, so an old node never half-applies a
// command it does not understand.
const EnvelopeVersion = 1

// Op names a registry command.
type Op string

// The registry commands.
const (
	// OpInit is the genesis command: root certificates, first members and
	// voters. It is unsigned and only applies to an empty registry, so only
	// a bootstrap node proposes it, from its configured genesis: Submit and
	// the API refuse it from anyone.
	OpInit Op = "federation.init"
	// OpMemberAdd admits a province, or lists a member's CA certificates
	// anew (steward admin). It lists only CA certificates that can vouch
	// for the province: CAs constrained to it, signed by a federation root.
	OpMemberAdd Op = "member.add.v2"
	// OpMemberAddV1 is OpMemberAdd of an older release, which listed any
	// certificate it could parse, another province's CA included. Apply
	// goes on applying it so, the log holding it; the leader no longer
	// proposes it (replacedOps).
	OpMemberAddV1 Op = "member.add"
	// OpMemberExpel removes a member province that has left: no nodes, no
	// agreement that has not ended (steward admin). It also retires the keys
	// of the province's CA certificates, so that admitting the province
	// again cannot bring back the certificates they signed.
	OpMemberExpel Op = "member.expel"
	// OpMemberRemove is OpMemberExpel without retiring the CA keys, as
	// command level 3 made it. Apply keeps applying it so, because logs hold
	// it; the leader no longer proposes it (replacedOps).
	OpMemberRemove Op = "member.remove"
	// OpNodeJoin records a node; signed by the node's own key.
	OpNodeJoin Op = "node.join"
	// OpNodePromote, OpNodeDemote and OpNodeRemove change a node's role.
	OpNodePromote Op = "node.promote"
	OpNodeDemote  Op = "node.demote"
	OpNodeRemove  Op = "node.remove"
	// OpPolicyPublish adds a federation policy bundle version (steward admin).
	OpPolicyPublish Op = "policy.publish"
	// OpCertRevoke revokes a certificate serial (admin of its province or steward).
	OpCertRevoke Op = "cert.revoke"
	// OpCertIssued records a certificate its province's CA issued, so that
	// every node's audit log shows the issuance (admin of its province or
	// steward). The CA itself stays offline; this is its public trace.
	OpCertIssued Op = "cert.issued"

	OpPropose Op = "agreement.propose"
	// OpApprove approves the version of an agreement awaiting the signer
	// province's approval; the last approval brings it into force, holding
	// the suspensions of the version it supersedes.
	OpApprove Op = "agreement.approve.v2"
	// OpApproveV1 is OpApprove of an older release, whose last approval
	// lifted the suspensions of the version it superseded. Apply goes on
	// applying it as it did, the log holding it; it is no longer proposed.
	OpApproveV1 Op = "agreement.approve"
	OpSuspend   Op = "agreement.suspend"
	OpResume    Op = "agreement.resume"
	OpTerminate Op = "agreement.terminate"
	// OpAmend proposes the next version of an agreement that has not
	// ended; a terminated agreement is refused, though its newest version
	// is an amendment withdrawn before the termination.
	OpAmend Op = "agreement.amend.v2"
	// OpAmendV1 is OpAmend of an older release, which looked at the newest
	// version: after a withdrawn amendment it amended an agreement
	// terminated since, and two approvals brought it back into force.
	// Apply goes on applying it so, the log holding it; the leader no
	// longer proposes it (replacedOps).
	OpAmendV1 Op = "agreement.amend"
)

// Envelope is one registry command as it travels and as it is stored in the
// raft log. The signer signs everything but At, which the leader stamps when
// it accepts the write; apply verifies the signer's chain as of At, so every
// replica reaches the same verdict whatever its clock says.
type Envelope struct {
	V  int `json:"v"`
	Op Op  `json:"op"`
	// At is the leader-assigned time of the command, the only "now" apply knows.
	At time.Time `json:"at"`
	// By is the signer's identity URI.
	By string `json:"by,omitempty"`
	// Chain is the signer's certificate in PEM. Further certificates are
	// ignored: apply verifies against the CA certificates held in the registry.
	Chain []byte `json:"chain,omitempty"`
	// SignedAt is the signer's clock when signing; apply rejects commands whose
	// SignedAt is too far from At, which bounds replays.
	SignedAt time.Time `json:"signed_at"`
	// Nonce makes each signed command unique; a command resubmitted with the
	// same nonce is applied once and answers the first outcome again. A
	// different command (other signing bytes) reusing the nonce is refused.
	Nonce string          `json:"nonce,omitempty"`
	Sig   []byte          `json:"sig,omitempty"`
	Body  json.RawMessage `json:"body"`
}

// signedPart is what a signature covers.
type signedPart struct {
	V        int             `json:"v"`
	Op       Op              `json:"op"`
	By       string          `json:"by"`
	SignedAt time.Time       `json:"signed_at"`
	Nonce    string          `json:"nonce"`
	Body     json.RawMessage `json:"body"`
}

const signingContext = "laborlink/registry-command/v1\n"

// SigningBytes returns the bytes a signer signs: a context string and the RFC
// 8785 canonical form of the envelope without At, Chain and Sig.
func (e *Envelope) SigningBytes() ([]byte, error) {
	body := e.Body
	if len(body) == 0 {
		body = json.RawMessage("null")
	}
	c, err := contracts.Canonical(signedPart{e.V, e.Op, e.By, e.SignedAt.UTC(), e.Nonce, body})
	if err != nil {
		return nil, fmt.Errorf("canonicalize command: %w", err)
	}
	return append([]byte(signingContext), c...), nil
}

// NewEnvelope builds an unsigned command with a fresh nonce.
func NewEnvelope(op Op, body any) (*Envelope, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode %s body: %w", op, err)
	}
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, err
	}
	return &Envelope{V: EnvelopeVersion, Op: op, Nonce: hex.EncodeToString(n[:]), Body: b}, nil
}

// Sign fills By, Chain, SignedAt and Sig with pki's convention (ECDSA over
// the SHA-256 of SigningBytes). The key stays with the caller: an admin's CLI
// signs locally and only the signature travels.
func (e *Envelope) Sign(s *pki.Signer, now time.Time) error {
	e.By = s.Identity().URI()
	e.Chain = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Chain()[0].Raw})
	e.SignedAt = now.UTC().Truncate(time.Millisecond)
	msg, err := e.SigningBytes()
	if err != nil {
		return err
	}
	if e.Sig, err = s.SignMessage(msg); err != nil {
		return fmt.Errorf("sign %s: %w", e.Op, err)
	}
	return nil
}

// Genesis is the body of OpInit: what the registry holds before any signed
// command can be verified.
type Genesis struct {
	// Domain is the federation domain every identity must carry.
	Domain string `json:"domain"`
	// Roots are the federation root certificates, PEM.
	Roots []byte `json:"roots"`
	// Members are the founding provinces.
	Members []MemberSpec `json:"members"`
	// Voters are the configured voting nodes.
	Voters []NodeSpec `json:"voters"`
	// Stewards are the provinces whose admins may change federation-wide
	// state: members, policy bundles, node roles. Empty means the voters'
	// provinces.
	Stewards []string `json:"stewards,omitempty"`
	// MaxSkew bounds |At - SignedAt|; zero means DefaultMaxSkew.
	MaxSkew Duration `json:"max_skew,omitempty"`
}

// DefaultMaxSkew is how far a command's signing time may be from the time the
// leader accepts it.
const DefaultMaxSkew = 10 * time.Minute

// MemberSpec describes a member province.
type MemberSpec struct {
	Province string `json:"province"`
	Name     string `json:"name"`
	// CACerts are the province's intermediate CA certificates, PEM.
	CACerts []byte `json:"ca_certs"`
}

// MemberRef names the member province that OpMemberExpel removes.
type MemberRef struct {
	// Province is the member's 2-digit code, "33".
	Province string `json:"province"`
}

// NodeSpec describes a gateway node taking part in the registry.
type NodeSpec struct {
	// ID is the raft server ID: the node identity's short form, "p51/node/gw-1".
	ID string `json:"id"`
	// RaftAddr is where the node's raft stream layer listens (host:port).
	RaftAddr string `json:"raft_addr"`
	// APIAddr is the node's HTTPS API (host:port), used to forward writes.
	APIAddr string `json:"api_addr"`
}

// NodeRef names a node in promote, demote and remove.
type NodeRef struct {
	ID string `json:"id"`
}

// PolicyBody is the body of OpPolicyPublish.
type PolicyBody struct {
	// Content is the bundle (e.g. a tar.gz of Rego and data), opaque here.
	Content []byte `json:"content"`
	// Note says what changed.
	Note string `json:"note,omitempty"`
}

// RevokeBody is the body of OpCertRevoke.
type RevokeBody struct {
	// Serial is the certificate serial number in lower-case hex.
	Serial   string `json:"serial"`
	Province string `json:"province"`
	Reason   string `json:"reason,omitempty"`
}

// IssuedBody is the body of OpCertIssued.
type IssuedBody struct {
	// Certificate is the issued certificate in PEM. Apply checks that the
	// province's CA registered in the registry signed it.
	Certificate []byte `json:"certificate"`
}

// TransitionBody is the body of approve, suspend, resume and terminate.
type TransitionBody struct {
	ID string `json:"id"`
	// Version is the version acted on; for suspend, resume and terminate 0
	// means the current one. Approve must name it.
	Version int `json:"version,omitempty"`
	// Digest is the hex SigningDigest of the version approved: an approval
	// binds the exact terms the admin saw.
	Digest string `json:"digest,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Duration is a time.Duration that encodes as a Go duration string.
type Duration time.Duration

// MarshalText encodes the duration as "10m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText decodes a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
