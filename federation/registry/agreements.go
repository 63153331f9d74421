package registry

import (
	"encoding/hex"
	"slices"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/pki"
)

// validateAgreement checks an agreement's terms before the registry accepts
// them. It is contracts' validation; the registry adds its own rules
// (membership, parties, state) in apply.
func validateAgreement(a *contracts.Agreement) error {
	return a.Validate()
}

// applyProposal applies propose (version 1) and amend (version N+1). The new
// version starts proposed and needs every party's approval again; an amended
// agreement's current version stays in force until then, and its
// suspensions pass to the new version when it comes into force.
func (s *Store) applyProposal(index uint64, env *Envelope, who signer) (*Result, string) {
	var a contracts.Agreement
	if err := decodeBody(env, &a); err != nil {
		return &Result{Err: err}, ""
	}
	if err := requireKind(who, env, pki.KindAdmin); err != nil {
		return &Result{Err: err}, a.ID
	}
	if a.ID == "" {
		return &Result{Err: Errorf(EInvalid, "%s: the agreement has no id", env.Op)}, ""
	}
	if err := s.checkParties(env, who, &a); err != nil {
		return &Result{Err: err}, a.ID
	}
	old := s.st.Agreements[a.ID]
	var rec *AgreementRecord
	switch env.Op {
	case OpPropose:
		if old != nil {
			return &Result{Err: Errorf(EConflict, "agreement %s already exists (version %d); amend it instead", a.ID, old.Latest().Agreement.Version)}, a.ID
		}
		rec = &AgreementRecord{ID: a.ID}
	case OpAmend, OpAmendV1:
		if old == nil {
			return &Result{Err: Errorf(ENotFound, "unknown agreement %q", a.ID)}, a.ID
		}
		check := checkAmendable
		if env.Op == OpAmendV1 {
			check = checkAmendableV1
		}
		if err := check(old, &a); err != nil {
			return &Result{Err: err}, a.ID
		}
		rec = old.clone()
	}
	a.AsProposal(len(rec.Versions) + 1)
	if err := validateAgreement(&a); err != nil {
		return &Result{Err: Errorf(EInvalid, "agreement %s: %v", a.ID, err)}, a.ID
	}
	d, err := a.SigningDigest()
	if err != nil {
		return &Result{Err: Errorf(EInvalid, "agreement %s: %v", a.ID, err)}, a.ID
	}
	a.Status = contracts.AgreementProposed
	v := &Version{Agreement: a, Digest: hex.EncodeToString(d[:]), ProposedAt: env.At, ProposedBy: who.URI()}
	rec.Versions = append(rec.Versions, v)
	rec.History = append(rec.History, event(index, env, who, a.Version, ""))
	s.st.Agreements[a.ID] = rec
	s.addToPair(&a)
	return &Result{Agreement: rec}, a.ID
}

func (s *Store) checkParties(env *Envelope, who signer, a *contracts.Agreement) *Error {
	if !a.IsParty(who.Province) {
		return notParty(env, who, a)
	}
	for _, p := range a.Parties() {
		if s.st.Members[p] == nil {
			return Errorf(EForbidden, "agreement %s: party province %s is not a member of the federation", a.ID, p)
		}
	}
	return nil
}

func notParty(env *Envelope, who signer, a *contracts.Agreement) *Error {
	p := a.Parties()
	return Errorf(EForbidden, "%s cannot %s agreement %s: province %s is not a party (the parties are %s and %s)", who, env.Op.Verb(), a.ID, who.Province, p[0], p[1])
}

// Verb is what an agreement command does, as a person says it ("approve"
// for both approvals); other commands are their op.
func (op Op) Verb() string {
	switch op {
	case OpPropose:
		return "propose"
	case OpAmend, OpAmendV1:
		return "amend"
	case OpApprove, OpApproveV1:
		return "approve"
	case OpSuspend:
		return "suspend"
	case OpResume:
		return "resume"
	case OpTerminate:
		return "terminate"
	}
	return string(op)
}

// checkAmendable refuses an amendment of an agreement that ended or has one
// pending. It looks at the effective version, not the newest: after a
// withdrawn amendment the newest is the withdrawn one, which says nothing
// of whether the agreement was terminated since.
func checkAmendable(old *AgreementRecord, a *contracts.Agreement) *Error {
	eff := old.Effective()
	if eff.Agreement.Status == contracts.AgreementTerminated {
		return Errorf(EConflict, "agreement %s is terminated; propose a new agreement instead", a.ID)
	}
	if p := old.Pending(); p != nil {
		return Errorf(EConflict, "agreement %s: version %d is still awaiting approval; approve or terminate it before amending", a.ID, p.Agreement.Version)
	}
	if eff.Agreement.Parties() != a.Parties() {
		p := eff.Agreement.Parties()
		return Errorf(EInvalid, "agreement %s: an amendment cannot change the party provinces (%s and %s); propose a new agreement", a.ID, p[0], p[1])
	}
	return nil
}

// checkAmendableV1 is checkAmendable as the releases before
// agreement.amend.v2 had it, for the agreement.amend commands the log
// holds: it looks at the newest version, so an agreement terminated after
// a withdrawn amendment reads withdrawn, and is amended. Every replica must
// decide those commands as the replicas that first applied them did.
func checkAmendableV1(old *AgreementRecord, a *contracts.Agreement) *Error {
	latest := old.Latest()
	if latest.Agreement.Status == contracts.AgreementTerminated {
		return Errorf(EConflict, "agreement %s is terminated; propose a new agreement instead", a.ID)
	}
	if latest.Agreement.Status == contracts.AgreementProposed {
		return Errorf(EConflict, "agreement %s: version %d is still awaiting approval; approve or terminate it before amending", a.ID, latest.Agreement.Version)
	}
	if latest.Agreement.Parties() != a.Parties() {
		p := latest.Agreement.Parties()
		return Errorf(EInvalid, "agreement %s: an amendment cannot change the party provinces (%s and %s); propose a new agreement", a.ID, p[0], p[1])
	}
	return nil
}

func event(index uint64, env *Envelope, who signer, version int, reason string) Event {
	return Event{Index: index, Op: env.Op, At: env.At, By: who.URI(), Version: version, Reason: reason, Command: env}
}

// applyTransition applies approve, suspend, resume and terminate.
func (s *Store) applyTransition(index uint64, env *Envelope, who signer) (*Result, string) {
	var b TransitionBody
	if err := decodeBody(env, &b); err != nil {
		return &Result{Err: err}, ""
	}
	old := s.st.Agreements[b.ID]
	if old == nil {
		return &Result{Err: Errorf(ENotFound, "unknown agreement %q", b.ID)}, ""
	}
	if err := requireKind(who, env, pki.KindAdmin); err != nil {
		return &Result{Err: err}, b.ID
	}
	if a := &old.Latest().Agreement; !a.IsParty(who.Province) {
		return &Result{Err: notParty(env, who, a)}, b.ID
	}
	rec := old.clone()
	var err *Error
	var version int
	switch env.Op {
	case OpApprove, OpApproveV1:
		version, err = approve(rec, env, who, b)
	case OpSuspend:
		version, err = suspend(rec, env, who, b)
	case OpResume:
		version, err = resume(rec, env, who, b)
	case OpTerminate:
		version, err = terminate(rec, env, b)
	}
	if err != nil {
		return &Result{Err: err}, b.ID
	}
	rec.History = append(rec.History, event(index, env, who, version, b.Reason))
	s.st.Agreements[b.ID] = rec
	s.reindexPair(&rec.Latest().Agreement)
	return &Result{Agreement: rec}, b.ID
}

// replace swaps version v of rec for a clone and returns the clone.
func replace(rec *AgreementRecord, v *Version) *Version {
	c := v.clone()
	rec.Versions[v.Agreement.Version-1] = c
	return c
}

// wrongState refuses a transition the agreement's state does not allow. It
// reads the record with appliedVersion, not Effective: every transition is
// of a release before Effective passed over withdrawn amendments, and the
// refusal is kept in every replica's state.
func wrongState(rec *AgreementRecord, env *Envelope, want string) *Error {
	v := rec.appliedVersion()
	return Errorf(EConflict, "cannot %s agreement %s: it is %s (version %d); %s",
		env.Op.Verb(), rec.ID, v.StatusAt(env.At), v.Agreement.Version, want)
}

func approve(rec *AgreementRecord, env *Envelope, who signer, b TransitionBody) (int, *Error) {
	p := rec.Pending()
	if p == nil {
		return 0, wrongState(rec, env, "only a proposed version can be approved")
	}
	if b.Version != p.Agreement.Version {
		return 0, Errorf(EConflict, "cannot approve version %d of agreement %s: version %d is the one awaiting approval", b.Version, rec.ID, p.Agreement.Version)
	}
	if b.Digest != p.Digest {
		return 0, Errorf(EInvalid, "cannot approve agreement %s version %d: the digest signed (%.12s…) is not that of its terms (%.12s…); fetch it again and review", rec.ID, b.Version, b.Digest, p.Digest)
	}
	if p.Agreement.ValidUntil.Before(DayOf(env.At)) {
		return 0, Errorf(EConflict, "cannot approve agreement %s version %d: its validity ended on %s", rec.ID, b.Version, p.Agreement.ValidUntil)
	}
	if slices.ContainsFunc(p.Agreement.Approvals, func(a contracts.Approval) bool { return a.Province == who.Province }) {
		return 0, Errorf(EConflict, "agreement %s version %d is already approved by province %s", rec.ID, b.Version, who.Province)
	}
	v := replace(rec, p)
	v.Agreement.Approvals = append(v.Agreement.Approvals, contracts.Approval{Province: who.Province, Admin: who.URI(), At: env.At, Signature: env.Sig})
	if !approvedByAll(&v.Agreement) {
		return v.Agreement.Version, nil
	}
	if cur := rec.Current(); cur != nil {
		c := replace(rec, cur)
		c.Agreement.Status = StatusSuperseded
		c.EndedAt = env.At
		// A suspension is its party's to lift (resume): the last approval,
		// made by the other party maybe, must not lift it by bringing in
		// new terms, so it moves to the version now in force. An approval
		// of an older release (OpApproveV1) applies as it did then.
		if env.Op == OpApprove {
			v.SuspendedBy = slices.Clone(c.SuspendedBy)
		}
	}
	v.Agreement.Status = contracts.AgreementApproved
	v.ApprovedAt = env.At
	return v.Agreement.Version, nil
}

func approvedByAll(a *contracts.Agreement) bool {
	for _, p := range a.Parties() {
		if !slices.ContainsFunc(a.Approvals, func(ap contracts.Approval) bool { return ap.Province == p }) {
			return false
		}
	}
	return true
}

// current returns the version in force that a suspend or resume acts on.
func current(rec *AgreementRecord, env *Envelope, b TransitionBody, want string) (*Version, *Error) {
	cur := rec.Current()
	if cur == nil || cur.StatusAt(env.At) == contracts.AgreementExpired {
		return nil, wrongState(rec, env, want)
	}
	if b.Version != 0 && b.Version != cur.Agreement.Version {
		return nil, Errorf(EConflict, "cannot %s version %d of agreement %s: version %d is the one in force", env.Op.Verb(), b.Version, rec.ID, cur.Agreement.Version)
	}
	return cur, nil
}

func suspend(rec *AgreementRecord, env *Envelope, who signer, b TransitionBody) (int, *Error) {
	cur, err := current(rec, env, b, "only an approved agreement in force can be suspended")
	if err != nil {
		return 0, err
	}
	if slices.Contains(cur.SuspendedBy, who.Province) {
		return 0, Errorf(EConflict, "agreement %s is already suspended by province %s", rec.ID, who.Province)
	}
	v := replace(rec, cur)
	v.SuspendedBy = append(v.SuspendedBy, who.Province)
	slices.Sort(v.SuspendedBy)
	return v.Agreement.Version, nil
}

// resume lifts the signer province's suspension; the agreement is in force
// again once no party holds a suspension, so one party cannot undo the
// other's. A suspension made before an amendment came into force is held on
// the new version (approve carries it over), and is lifted there.
func resume(rec *AgreementRecord, env *Envelope, who signer, b TransitionBody) (int, *Error) {
	cur, err := current(rec, env, b, "only a suspended agreement can be resumed")
	if err != nil {
		return 0, err
	}
	i := slices.Index(cur.SuspendedBy, who.Province)
	if i < 0 {
		if len(cur.SuspendedBy) == 0 {
			return 0, wrongState(rec, env, "only a suspended agreement can be resumed")
		}
		return 0, Errorf(EConflict, "cannot resume agreement %s: it is suspended by province %v, not by %s; only the suspending party can resume", rec.ID, cur.SuspendedBy, who.Province)
	}
	v := replace(rec, cur)
	v.SuspendedBy = slices.Delete(v.SuspendedBy, i, i+1)
	return v.Agreement.Version, nil
}

// terminate ends the version in force and a pending amendment with it, or,
// naming the amendment's version, withdraws the amendment alone.
func terminate(rec *AgreementRecord, env *Envelope, b TransitionBody) (int, *Error) {
	cur, pending := rec.Current(), rec.Pending()
	if cur == nil && pending == nil {
		return 0, wrongState(rec, env, "it has already ended")
	}
	if b.Version != 0 && (cur == nil || b.Version != cur.Agreement.Version) && (pending == nil || b.Version != pending.Agreement.Version) {
		return 0, Errorf(EConflict, "cannot terminate version %d of agreement %s: it is not in force or pending", b.Version, rec.ID)
	}
	if pending != nil && cur != nil && b.Version == pending.Agreement.Version {
		// Naming the pending amendment withdraws it alone; the version in
		// force goes on, and may be amended again.
		c := replace(rec, pending)
		c.Agreement.Status, c.EndedAt = StatusWithdrawn, env.At
		return c.Agreement.Version, nil
	}
	version := 0
	for _, v := range []*Version{cur, pending} {
		if v != nil {
			c := replace(rec, v)
			c.Agreement.Status = contracts.AgreementTerminated
			c.EndedAt = env.At
			version = max(version, c.Agreement.Version)
		}
	}
	return version, nil
}
