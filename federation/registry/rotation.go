package registry

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/laborlink/laborlink/pki"
)

// presentedTimeout bounds how long the leader waits for each voter's TLS
// handshake when it looks at the certificates voters present.
const presentedTimeout = 2 * time.Second

// checkRotationOrder refuses, before it enters the log, a member.add that
// would delist a CA of the province (a rotation's last step) while a raft
// voter still presents a node certificate that CA issued: once the
// registry no longer lists the CA, every node refuses that voter's
// certificate, raft included, and with a majority of voters gone no
// command commits, not even listing the CA again. The rotation order is
// list both CAs, reissue, then list the new one alone; this makes the
// leader hold the admin to it.
//
// What a voter presents is learnt from a new TLS handshake with its raft
// address, made now, and for the leader from its own key pair. Connections
// already open would not do: they show the certificate of their handshake,
// which a reissue does not change (raft keeps them for as long as they
// work), and the leader has none to a voter it has not spoken to yet.
// Nor would recorded issuances (cert.issued): recording one is up to the
// admins, and a record says that a certificate exists, not which one a node
// presents. A voter that cannot be asked refuses the update too: it might
// be on the CA going away.
//
// Only voters are checked: without a non-voter the registry goes on, and
// the non-voter catches up once it has a certificate the registry lists.
// The check runs on the leader alone, like checkCommandLevel; apply does
// not look at connections, so it stays deterministic.
func (r *Registry) checkRotationOrder(ctx context.Context, env *Envelope) error {
	if env.Op != OpMemberAdd {
		return nil
	}
	var m MemberSpec
	if json.Unmarshal(env.Body, &m) != nil {
		return nil // apply refuses it, saying why
	}
	cas, err := pki.ParseCertificates("member "+m.Province+" CA certificates", m.CACerts)
	if err != nil || r.store.checkCAs(m.Province, cas) != nil {
		return nil // apply refuses them, saying why
	}
	gone := r.store.delisted(m.Province, cas)
	if len(gone) == 0 {
		return nil
	}
	voters, err := r.voters(m.Province)
	if err != nil {
		return Errorf(EUnavailable, "member.add for province %s would delist a CA, and the raft voters that might still use it are unknown: %v", m.Province, err)
	}
	on := make([][]string, len(gone)) // voters on each CA going away
	var unknown []string
	for _, v := range voters {
		cert, err := r.presentedBy(ctx, v)
		if err != nil {
			unknown = append(unknown, fmt.Sprintf("%s (%v)", v.ID, err))
			continue
		}
		for i, ca := range gone {
			if cert.CheckSignatureFrom(ca) == nil {
				on[i] = append(on[i], string(v.ID))
			}
		}
	}
	return rotationRefusal(m.Province, gone, on, unknown)
}

// voters returns the raft voters of province, from raft's configuration:
// the servers whose loss costs the registry its majority.
func (r *Registry) voters(province string) ([]raft.Server, error) {
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []raft.Server
	for _, s := range f.Configuration().Servers {
		if id, err := parseNodeID(string(s.ID)); err == nil && s.Suffrage == raft.Voter && id.Province == province {
			out = append(out, s)
		}
	}
	return out, nil
}

// presentedBy returns the node certificate voter v presents now: the
// leader's own from its key pair (parsed when the pair was loaded), any
// other's from a TLS handshake with its raft address, which must be v's.
func (r *Registry) presentedBy(ctx context.Context, v raft.Server) (*x509.Certificate, error) {
	if string(v.ID) == r.cfg.NodeID {
		c, err := r.cfg.TLS.KeyPair.Certificate()
		if err != nil {
			return nil, err
		}
		return c.Leaf, nil
	}
	ctx, cancel := context.WithTimeout(ctx, presentedTimeout)
	defer cancel()
	cert, err := r.stream.presented(ctx, string(v.Address))
	if err != nil {
		return nil, fmt.Errorf("no TLS handshake with it at %s: %w", v.Address, err)
	}
	if id, err := pki.IdentityFromCert(cert); err != nil || id.String() != string(v.ID) {
		return nil, fmt.Errorf("another node answers at %s", v.Address)
	}
	return cert, nil
}

// rotationRefusal is the refusal of a member.add for province that would
// delist the CAs gone while the voters on[i] present certificates gone[i]
// issued, or while the voters unknown could not be asked; nil if there are
// none.
func rotationRefusal(province string, gone []*x509.Certificate, on [][]string, unknown []string) error {
	var why []string
	for i, ca := range gone {
		if len(on[i]) > 0 {
			slices.Sort(on[i])
			why = append(why, fmt.Sprintf("it would delist province %s's CA %q (serial %s) while raft voters still present node certificates it issued: %s; reissue their node certificates from a CA the update keeps first (laborlink pki issue --kind node --force, copied to each node, which reloads it)",
				province, ca.Subject.CommonName, serialKey(ca.SerialNumber.Bytes()), strings.Join(on[i], ", ")))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		why = append(why, fmt.Sprintf("it would delist a CA of province %s, and these raft voters could not be asked which certificate they present: %s; wait until they answer, or remove them from the registry if they are gone for good (laborlink registry remove NODE-ID)",
			province, strings.Join(unknown, ", ")))
	}
	if len(why) == 0 {
		return nil
	}
	return Errorf(EConflict, "member.add refused: %s. Then send the update again: delisting a CA that voters still use would cut them off the registry, raft included", strings.Join(why, ". Also, "))
}
