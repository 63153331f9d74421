package node

import (
	"context"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/store"
)

// Registry changes are audited on every node that the change concerns: the
// transitions of agreements its province is a party to, every federation
// policy bundle published, every certificate issued or revoked. The registry keeps the
// signed commands; the audit log keeps the fact, the time and the codes, so
// an auditor sees agreement and policy changes next to the flows they
// governed. Progress is counted in the node's store, so a restart neither
// repeats nor skips an event.
//
// Changes of the province's own policy, which the node reloads from its
// directory, are audited here too: the revision in force when the node
// starts, if it is not the one last audited, and every later change.
//
// A restored backup (registry.Store.RestoredAt) starts a new history: the
// events, issuances, revocations and policy bundles it brings are not
// transitions of this log (the registry rebases their indices to the
// restore's) and are not logged one by one; one entry says the registry was
// restored, and the watermark starts again at the restore's index, whatever
// log the one before counted.

const (
	// counterRegistryIndex is the watermark, the registry index up to
	// which events are audited, while the registry has had no restore;
	// after one, the watermark is counted under watermarkCounter's name.
	counterRegistryIndex = "audit/registry-index"
	// counterPolicyVersion is the newest policy bundle version audited:
	// the watermark of bundles without a registry index (policyEntries).
	counterPolicyVersion = "audit/policy-version"
	// counterRevokedAt is the newest revocation time (Unix ns) audited:
	// the watermark of revocations without a registry index
	// (revocationEntries).
	counterRevokedAt   = "audit/revoked-at"
	markProvincePolicy = "audit/province-policy"
	// markCertSerial is the serial of the node's own certificate last
	// audited, kept so that a rotation made while the node was stopped is
	// audited when it starts.
	markCertSerial = "audit/cert-serial"
)

// auditRegistry appends entries for registry changes as they are applied,
// and for rotations of the node's own certificate.
func (n *Node) auditRegistry(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := n.auditRegistryOnce(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("audit registry changes", "err", err)
		}
		if err := n.auditProvincePolicy(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("audit province policy", "err", err)
		}
		if err := n.auditCertRotation(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("audit certificate rotation", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// AuditRegistry appends now the entries of the registry changes this node
// has applied and not yet audited, which its loop does every second: for
// a caller that must find them in the log at once, such as the development
// federation before it hands its nodes over.
func (n *Node) AuditRegistry(ctx context.Context) error { return n.auditRegistryOnce(ctx) }

func (n *Node) auditRegistryOnce(ctx context.Context) error {
	n.registryAudit.Lock()
	defer n.registryAudit.Unlock()
	st := n.registry.Store()
	// The applied index first: a restore between the two reads then
	// shows as a restore above it, with nothing of the new log to audit
	// yet, never as a range of the new log counted from the old watermark.
	applied := st.AppliedIndex()
	watermark, lastIndex, entries, err := n.registryWatermark(st.LastRestore())
	if err != nil || (applied <= lastIndex && len(entries) == 0) {
		return err
	}
	entries = append(entries, agreementEntries(st, n.cfg.Province, lastIndex, applied)...)
	for _, is := range st.Issuances() {
		if is.Index > lastIndex && is.Index <= applied {
			entries = append(entries, audit.Entry{Kind: audit.KindCertificate, Time: is.At, Detail: audit.DetailIssued,
				Origin: audit.Province(is.Province), Serial: is.Serial})
		}
	}
	lastPolicy, err := n.store.Counter(counterPolicyVersion)
	if err != nil {
		return err
	}
	policies, newestPolicy := policyEntries(st.Policies(), lastIndex, applied, lastPolicy)
	entries = append(entries, policies...)
	lastRevoked, err := n.store.Counter(counterRevokedAt)
	if err != nil {
		return err
	}
	revocations, newestRevoked := revocationEntries(st.Revocations(), lastIndex, applied, lastRevoked)
	entries = append(entries, revocations...)
	return n.appendRecording(ctx, entries, store.Progress{Counters: map[string]uint64{
		watermark: max(applied, lastIndex), counterPolicyVersion: newestPolicy, counterRevokedAt: newestRevoked}})
}

// registryWatermark reads the audit watermark of the registry's history
// since the restore at index restoredAt (0: since genesis): the counter it
// is kept in and the index up to which events are audited. When the node
// has not audited that restore yet, the watermark is the restore's index
// and restored is the entry that says so; the pass writes both in one
// commit, the watermark at the restore's index or above.
func (n *Node) registryWatermark(restoredAt uint64, restoreID string) (counter string, after uint64, restored []audit.Entry, err error) {
	counter = watermarkCounter(restoredAt, restoreID)
	after, err = n.store.Counter(counter)
	if err != nil || restoredAt == 0 || after != 0 {
		return counter, after, nil, err
	}
	return counter, restoredAt, []audit.Entry{{Kind: audit.KindAgreement, Detail: audit.DetailRegistryRestored}}, nil
}

// watermarkCounter names the counter of the audit watermark since the
// restore at index restoredAt, whose id is restoreID. Each restore has its
// own because counters never go down, and the watermark must: a backup
// restored into a fresh cluster starts at an index far below the one the
// node had reached in the log before. It is named by the restore's id:
// restores into two fresh clusters can take the same index. (A restore of
// an older release has no id, and is named by its index.) No counter under
// the name (0) means the node has not seen the restore yet.
func watermarkCounter(restoredAt uint64, restoreID string) string {
	switch {
	case restoredAt == 0:
		return counterRegistryIndex
	case restoreID != "":
		return counterRegistryIndex + "@" + restoreID
	}
	return counterRegistryIndex + "@" + strconv.FormatUint(restoredAt, 10)
}

// appendRecording appends entries and records the progress p of the pass
// that found them in one commit: a shutdown between the two would repeat
// the entries on the next start.
func (n *Node) appendRecording(ctx context.Context, entries []audit.Entry, p store.Progress) error {
	if len(entries) == 0 {
		return n.store.RecordAnd(ctx, p, nil)
	}
	// An agreement registered under the older id rule (any printable
	// ASCII) is kept by the registry; its id is no token of the audit log,
	// and an entry naming it would stop every later pass. It is written
	// without the id, as exchange writes a flow's.
	for i := range entries {
		if cleared := entries[i].Scrub(); cleared != nil {
			n.log.Warn("registry audit entry written without identifiers the audit log refuses", "kind", entries[i].Kind, "cleared", cleared)
		}
	}
	ps, err := n.audit.Prepare(entries...)
	if err != nil {
		return err
	}
	return n.store.RecordAnd(ctx, p, func(tx *bolt.Tx) error { return n.audit.AppendPreparedTx(tx, ps...) })
}

// auditProvincePolicy appends an entry when the province policy in force is
// not the revision last audited, and marks the revision in the same commit.
func (n *Node) auditProvincePolicy(ctx context.Context) error {
	n.registryAudit.Lock()
	defer n.registryAudit.Unlock()
	rev := n.policy.Revisions().Province
	last, err := n.store.Mark(markProvincePolicy)
	if err != nil || rev == last {
		return err
	}
	e := audit.Entry{Kind: audit.KindPolicy, Detail: audit.DetailProvincePolicy, Origin: audit.Province(n.cfg.Province),
		Policy: audit.PolicyRevisions{Province: rev}}
	return n.appendRecording(ctx, []audit.Entry{e}, store.Progress{Marks: map[string]string{markProvincePolicy: rev}})
}

// auditCertRotation appends an entry when the node presents a certificate
// other than the one last audited, and marks its serial in the same commit,
// so that a rotation made while the node was stopped, or in the second
// before a crash, is audited when it starts. The certificate the node first
// starts with replaced none: it is marked without an entry.
func (n *Node) auditCertRotation(ctx context.Context) error {
	serial := n.certSerial()
	if serial == "" {
		return nil
	}
	n.registryAudit.Lock()
	defer n.registryAudit.Unlock()
	last, err := n.store.Mark(markCertSerial)
	if err != nil || serial == last {
		return err
	}
	mark := store.Progress{Marks: map[string]string{markCertSerial: serial}}
	if last == "" {
		return n.appendRecording(ctx, nil, mark)
	}
	e := audit.Entry{Kind: audit.KindCertificate, Detail: audit.DetailRotated, Origin: audit.Province(n.cfg.Province), Serial: serial}
	if err := n.appendRecording(ctx, []audit.Entry{e}, mark); err != nil {
		return err
	}
	n.log.Info("certificate rotated", "serial", serial)
	return nil
}

// policyEntries lists the federation policy bundles published in (after,
// upto], by index like agreement events: a bundle's version is no
// watermark, since a restore to a registry with fewer versions hands the
// numbers out again. A bundle without an index, published by a release
// before PolicyVersion.Index and read from its state, is judged as that
// release's nodes judged every bundle, by its version above lastVersion,
// so that an upgrade neither audits one again nor skips one. newest is the
// highest version listed, of either kind, for the version counter: a
// bundle audited by index that a replica later reads without it (from a
// snapshot of a replica not yet upgraded) is not audited again.
func policyEntries(policies []*registry.PolicyVersion, after, upto, lastVersion uint64) (out []audit.Entry, newest uint64) {
	for _, p := range policies {
		fresh := p.Index > after && p.Index <= upto
		if p.Index == 0 {
			fresh = uint64(p.Version) > lastVersion
		}
		if !fresh {
			continue
		}
		out = append(out, audit.Entry{Kind: audit.KindPolicy, Time: p.PublishedAt, Detail: audit.DetailFederationBundle,
			Policy: audit.PolicyRevisions{Federation: "v" + fmt.Sprint(p.Version) + ":" + short(p.Digest)}})
		newest = max(newest, uint64(p.Version))
	}
	return out, newest
}

// revocationEntries lists the revocations applied in (after, upto], by
// index like issuances: their time is the clock of the leader that applied
// them, and leaders, whose clocks differ, change, so one applied later can
// be stamped earlier. A revocation without an index, applied by a release
// before Revocation.Index and read from its state, is judged as that
// release's nodes judged every revocation, by its time above lastAt, so
// that an upgrade neither audits one again nor skips one. newestAt is the
// latest time listed, of either kind, for the time counter: a revocation
// audited by index that a replica later reads without it (from a snapshot
// of a replica not yet upgraded) is not audited again.
func revocationEntries(revocations []registry.Revocation, after, upto, lastAt uint64) (out []audit.Entry, newestAt uint64) {
	for _, r := range revocations {
		at := uint64(r.At.UnixNano())
		fresh := r.Index > after && r.Index <= upto
		if r.Index == 0 {
			fresh = at > lastAt
		}
		if !fresh {
			continue
		}
		out = append(out, audit.Entry{Kind: audit.KindCertificate, Time: r.At, Detail: audit.DetailRevoked,
			Origin: audit.Province(r.Province), Serial: r.Serial})
		newestAt = max(newestAt, at)
	}
	return out, newestAt
}

// agreementEntries lists the transitions, applied in (after, upto], of the
// agreements the province is a party to. The upper bound keeps a transition
// applied while the list is read for the next pass, which counts from upto.
func agreementEntries(st *registry.Store, province string, after, upto uint64) []audit.Entry {
	var out []audit.Entry
	for _, s := range st.List(registry.Filter{Party: province}, time.Now()) {
		rec, err := st.Agreement(s.ID)
		if err != nil {
			continue
		}
		a := rec.Latest().Agreement
		for _, ev := range rec.History {
			if ev.Index <= after || ev.Index > upto {
				continue
			}
			out = append(out, audit.Entry{
				Kind: audit.KindAgreement, Time: ev.At, AgreementID: rec.ID, AgreementVersion: int64(ev.Version),
				Origin: audit.Province(a.Origin.Province()), Destination: audit.Province(a.Destination.Province()),
				Detail: agreementDetail(ev.Op), RecordType: "agreement",
			})
		}
	}
	return out
}

func agreementDetail(op registry.Op) audit.Detail {
	switch op {
	case registry.OpPropose:
		return audit.DetailProposed
	case registry.OpApprove, registry.OpApproveV1:
		return audit.DetailApproved
	case registry.OpSuspend:
		return audit.DetailSuspended
	case registry.OpResume:
		return audit.DetailResumed
	case registry.OpAmend, registry.OpAmendV1:
		return audit.DetailAmended
	case registry.OpTerminate:
		return audit.DetailTerminated
	}
	return ""
}

// certSerial is the serial (hex) of the certificate the node presents now;
// the key pair reloads rotated files on its own.
func (n *Node) certSerial() string {
	c, err := n.tls.KeyPair.Certificate()
	if err != nil || c.Leaf == nil {
		return ""
	}
	return c.Leaf.SerialNumber.Text(16)
}

func short(hex string) string { return hex[:min(len(hex), 16)] }
