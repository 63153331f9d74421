package registry

import (
	"crypto/x509"
	"slices"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/pki"
)

// StatusSuperseded marks a version replaced by an approved amendment. It is
// stored on the old version; the history keeps it readable for ever.
const StatusSuperseded contracts.AgreementStatus = "superseded"

// StatusWithdrawn marks an amendment withdrawn before both parties approved
// it; the version in force before it goes on.
const StatusWithdrawn contracts.AgreementStatus = "withdrawn"

// China keeps one time zone; agreement days (valid_from, valid_until) are
// days in it. A fixed zone avoids depending on the host's tzdata.
var chinaTime = time.FixedZone("CST", 8*60*60)

// DayOf returns the calendar day of t in China Standard Time, the day that
// agreement validity is counted in.
func DayOf(t time.Time) contracts.Date { return contracts.DateOf(t.In(chinaTime)) }

// Member is a member province of the federation.
type Member struct {
	Province string `json:"province"`
	Name     string `json:"name"`
	// CACerts are the province's CA certificates (PEM) that sign its
	// identities; apply verifies signers against these, never local files.
	CACerts []byte    `json:"ca_certs"`
	AddedAt time.Time `json:"added_at"`

	cas []*x509.Certificate
}

// issued reports whether one of the CA certificates m lists signed leaf:
// what vouches for a node's certificate at the raft handshake. It checks a
// signature per listed CA.
func (m *Member) issued(leaf *x509.Certificate) bool {
	return slices.ContainsFunc(m.cas, func(ca *x509.Certificate) bool { return leaf.CheckSignatureFrom(ca) == nil })
}

// Node is a gateway node known to the registry. Voter is the role the
// registry decided; raft's configuration is the role in effect.
type Node struct {
	NodeSpec
	Province string    `json:"province"`
	Voter    bool      `json:"voter"`
	JoinedAt time.Time `json:"joined_at"`
}

// PolicyVersion is one published federation policy bundle.
type PolicyVersion struct {
	Version int `json:"version"`
	// Digest is the hex SHA-256 of Content.
	Digest      string    `json:"digest"`
	Content     []byte    `json:"content"`
	Note        string    `json:"note,omitempty"`
	PublishedAt time.Time `json:"published_at"`
	PublishedBy string    `json:"published_by"`
	// Index is the registry log index the bundle was published at; for
	// one restored from a backup, the index of the restore (RestoredAt),
	// since Version and the index it was published at count another
	// history. A reader following the registry by index (the nodes'
	// audit) tells new bundles by it, not by Version, which a restore to
	// fewer versions hands out again. 0 for a bundle published by a
	// release before the field, read from its snapshot.
	Index uint64 `json:"index,omitempty"`
}

// Revocation is one revoked certificate serial.
type Revocation struct {
	RevokeBody
	// At is the leader's clock when it applied the revocation: leaders
	// change, and their clocks differ, so it orders nothing.
	At time.Time `json:"at"`
	By string    `json:"by"`
	// Index is the registry log index the revocation was applied at; for
	// one restored from a backup, the index of the restore (RestoredAt),
	// as an Issuance's. A reader following the registry by index (the
	// nodes' audit) tells new revocations by it. 0 for a revocation
	// applied by a release before the field, read from its snapshot.
	Index uint64 `json:"index,omitempty"`
}

// RetiredCA is the key of a CA certificate of a province that member.expel
// removed. A CA certificate with that key is never registered again and no
// chain through one is trusted again (Store.Revoked): whatever it signed
// before the removal stays out, even once the province is admitted again
// with a new CA.
type RetiredCA struct {
	// Key is the hex SHA-256 of the CA certificate's SubjectPublicKeyInfo:
	// the key, not the certificate, since a new certificate for the same
	// key would vouch for the same leaves.
	Key      string `json:"key"`
	Province string `json:"province"`
	// Serial and Subject name the CA certificate the registry held.
	Serial  string    `json:"serial"`
	Subject string    `json:"subject"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
}

// caKey is the key a RetiredCA records for ca.
func caKey(ca *x509.Certificate) string { return digestHex(ca.RawSubjectPublicKeyInfo) }

// Issuance is one certificate a member's CA issued, as recorded with
// OpCertIssued. It keeps what identifies the certificate, not the
// certificate: the identity names a node, system or person's account, and
// stays in the registry, out of audit logs.
type Issuance struct {
	// Serial is the certificate serial number in lower-case hex.
	Serial   string    `json:"serial"`
	Province string    `json:"province"`
	Kind     pki.Kind  `json:"kind"`
	Identity string    `json:"identity"`
	NotAfter time.Time `json:"not_after"`
	// Index is the registry log index the record was applied at; for one
	// restored from a backup, the index of the restore (RestoredAt), since
	// the one it was applied at counts another log.
	Index uint64    `json:"index"`
	At    time.Time `json:"at"`
	By    string    `json:"by"`
}

// AgreementRecord is an agreement with all its versions and every transition
// made to it. Records are immutable once published: apply replaces the whole
// record, so a reader may keep one without locks.
type AgreementRecord struct {
	ID       string     `json:"id"`
	Versions []*Version `json:"versions"`
	History  []Event    `json:"history"`
}

// Version is one version of an agreement. Agreement.Status holds the stored
// status (proposed, approved, terminated, superseded); StatusAt derives
// active, suspended and expired from it and the day.
type Version struct {
	Agreement contracts.Agreement `json:"agreement"`
	// Digest is the hex SigningDigest of the version's terms.
	Digest     string    `json:"digest"`
	ProposedAt time.Time `json:"proposed_at"`
	ProposedBy string    `json:"proposed_by"`
	ApprovedAt time.Time `json:"approved_at,omitzero"`
	// SuspendedBy lists the provinces that suspended the version; it is
	// suspended while any of them has not resumed it. When an amendment
	// comes into force it takes over the list of the version it supersedes.
	SuspendedBy []string  `json:"suspended_by,omitempty"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
}

// Event is one applied transition, with the signed command that made it, so
// that anybody can verify the history again.
type Event struct {
	// Index is the registry log index the transition was applied at; for
	// one restored from a backup, the index of the restore (RestoredAt),
	// since the one it was applied at counts another log.
	Index   uint64    `json:"index"`
	Op      Op        `json:"op"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Version int       `json:"version"`
	Reason  string    `json:"reason,omitempty"`
	Command *Envelope `json:"command"`
}

// StatusAt is the version's lifecycle status at t.
func (v *Version) StatusAt(t time.Time) contracts.AgreementStatus {
	st := v.Agreement.Status
	switch st {
	case contracts.AgreementTerminated, StatusSuperseded, StatusWithdrawn:
		return st
	}
	day := DayOf(t)
	if v.Agreement.ValidUntil.Before(day) {
		return contracts.AgreementExpired
	}
	if st != contracts.AgreementApproved {
		return st
	}
	if len(v.SuspendedBy) > 0 {
		return contracts.AgreementSuspended
	}
	if day.Before(v.Agreement.ValidFrom) {
		return contracts.AgreementApproved
	}
	return contracts.AgreementActive
}

// Current returns the version in force (approved, possibly suspended or not
// yet started), or nil when no version was approved or the agreement ended.
func (r *AgreementRecord) Current() *Version {
	for i := len(r.Versions) - 1; i >= 0; i-- {
		switch r.Versions[i].Agreement.Status {
		case contracts.AgreementApproved:
			return r.Versions[i]
		case contracts.AgreementTerminated:
			return nil
		}
	}
	return nil
}

// Pending returns the latest version when it awaits approvals, else nil.
func (r *AgreementRecord) Pending() *Version {
	v := r.Latest()
	if v.Agreement.Status == contracts.AgreementProposed {
		return v
	}
	return nil
}

// Latest returns the newest version.
func (r *AgreementRecord) Latest() *Version { return r.Versions[len(r.Versions)-1] }

// Effective is the version a reader should look at: the one in force, else
// the newest that was not withdrawn. A withdrawn amendment never speaks for
// the agreement: once the version in force after it is terminated, the
// agreement is terminated, not withdrawn. Apply does not word what it
// stores with it, but with appliedVersion.
func (r *AgreementRecord) Effective() *Version {
	if v := r.Current(); v != nil {
		return v
	}
	for i := len(r.Versions) - 1; i > 0; i-- {
		if r.Versions[i].Agreement.Status != StatusWithdrawn {
			return r.Versions[i]
		}
	}
	return r.Versions[0]
}

// AgreementAt is the agreement as a node's policy sees it at t: the
// effective version's terms, with its status on that day.
func (r *AgreementRecord) AgreementAt(t time.Time) contracts.Agreement {
	v := r.Effective()
	a := v.Agreement
	a.Status = v.StatusAt(t)
	return a
}

// appliedVersion is Effective as the releases of command level 5 and
// before read it: the version in force, else the newest, withdrawn or not,
// so an agreement terminated after a withdrawn amendment reads withdrawn.
// Apply's refusals of the commands of those releases name the agreement's
// status and version with it (wrongState, leftInOrder): a refusal is kept
// with the command's nonce in every replica, and a replica replaying an
// older log, or of the previous release during an upgrade, must keep the
// words the others kept.
func (r *AgreementRecord) appliedVersion() *Version {
	if v := r.Current(); v != nil {
		return v
	}
	return r.Latest()
}

// StatusAt is the status of the agreement's effective version at t.
func (r *AgreementRecord) StatusAt(t time.Time) contracts.AgreementStatus {
	return r.Effective().StatusAt(t)
}

// clone returns a copy whose slices can be changed without touching r.
func (r *AgreementRecord) clone() *AgreementRecord {
	return &AgreementRecord{ID: r.ID, Versions: slices.Clone(r.Versions), History: slices.Clone(r.History)}
}

// clone returns a copy of the version whose mutable parts are fresh.
func (v *Version) clone() *Version {
	c := *v
	c.Agreement.Approvals = slices.Clone(v.Agreement.Approvals)
	c.SuspendedBy = slices.Clone(v.SuspendedBy)
	return &c
}
