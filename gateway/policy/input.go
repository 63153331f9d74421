package policy

import (
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/laborlink/laborlink/contracts"
	"github.com/open-policy-agent/opa/v1/ast"
)

// Request is what a node knows when it asks for a decision.
type Request struct {
	// Side is Export at the origin, Import at the destination.
	Side Side
	// Record is the record as it is about to cross (export) or as it arrived
	// (import). Its header gives the type, schema, purpose, origin and
	// destination; its content gives the fields present and the facts the
	// policy reads (see docs/policy.md).
	Record contracts.Record
	// Fields, when not nil, are the field paths present in the record, sorted;
	// nil lets the engine compute them from Record.
	Fields []string
	// Peer is the identity URI on the other end of this step: the submitting
	// system's on export, the sending node's on import.
	Peer string
	// Agreements are the registry's current versions of the agreements the
	// record may travel under (see AgreementSource), whatever their status:
	// the policy explains why a suspended or expired one does not do.
	Agreements []contracts.Agreement
	// QuotaUsed holds how many records of the record's type already crossed
	// under each agreement in each quota's current period. Missing means 0.
	QuotaUsed map[QuotaKey]int
	// Time is when the decision is made; zero means the engine's clock.
	// Policies see only the day in China Standard Time.
	Time time.Time
}

// QuotaKey names one quota counter: an agreement and a period, for the
// record type of the request.
type QuotaKey struct {
	AgreementID string
	Period      contracts.QuotaPeriod
}

// chinaStandardTime is UTC+8 all year; agreements' days are days in China.
var chinaStandardTime = time.FixedZone("CST", 8*60*60)

// prepared is a request reduced to what the policy sees: the OPA input is
// built from it, and so is the cache key, so the two cannot disagree. It
// holds the request by value, so that a decision from the cache leaves
// nothing on the heap: only a miss copies it there (Engine.Decide).
type prepared struct {
	req        Request
	head       *contracts.Header
	recordType contracts.RecordType
	fields     presentFields
	time       time.Time // req.Time, or the engine's clock when zero
	day        string
	worker     string // worker's division (origin side), or ""
	employer   string // employer's division (destination side), or ""
	agreements []contracts.Agreement
	// keying says what the key holds beyond the contracts (keyingFor).
	keying
}

// prepare reads req; now is asked for the time only when req has none.
func prepare(req *Request, now func() time.Time) prepared {
	p := prepared{req: *req, head: req.Record.Head(), recordType: req.Record.Type(), fields: presentFields{list: req.Fields}}
	if req.Fields == nil {
		p.fields = presentIn(req.Record)
	}
	t := req.Time
	if t.IsZero() {
		t = now()
	}
	p.time = t
	p.day = dayInChina(t)
	p.worker, p.employer = facts(req.Record)
	p.agreements = ordered(req.Agreements)
	return p
}

// chinaDay is one day in China and its "2006-01-02" form.
type chinaDay struct {
	n   int64 // days since 1970-01-01 in China
	day string
}

// lastDay is the day dayInChina formatted last: every decision needs one,
// and it changes once a day.
var lastDay atomic.Pointer[chinaDay]

// dayInChina is t's date in China Standard Time, "2006-01-02".
func dayInChina(t time.Time) string {
	const day = 24 * 60 * 60
	x := t.Unix() + 8*60*60
	n := x / day
	if x%day < 0 {
		n-- // floor, for days before 1970 in China
	}
	if d := lastDay.Load(); d != nil && d.n == n {
		return d.day
	}
	d := &chinaDay{n, t.In(chinaStandardTime).Format(time.DateOnly)}
	lastDay.Store(d)
	return d.day
}

// facts are the content-derived facts the bundle reads: the divisions of the
// worker's household registration and of the employer. Confirmations and
// referral updates carry none and are decided at province level.
func facts(rec contracts.Record) (worker, employer string) {
	switch r := rec.(type) {
	case *contracts.Transfer:
		return r.Worker.HouseholdDivision, r.Placement.Division
	case *contracts.Referral:
		return r.Worker.HouseholdDivision, r.Employer.Division
	}
	return "", ""
}

// ordered sorts agreements by id and descending version, the order the bundle
// relies on to choose among several usable agreements. It copies only when
// the input is out of order.
func ordered(as []contracts.Agreement) []contracts.Agreement {
	cmp := func(a, b contracts.Agreement) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return b.Version - a.Version
	}
	if slices.IsSortedFunc(as, cmp) {
		return as
	}
	as = slices.Clone(as)
	slices.SortFunc(as, cmp)
	return as
}

// appendQuotaReached writes, for one agreement and the record's type,
// whether each quota is used up ('1') or not ('0'). It is the only thing
// about quota counts that goes into the cache key; see docs/policy.md for
// the contract this puts on policies. A policy that may read the counts
// beyond it (rawQuota) has each count written as it is instead.
func (p *prepared) appendQuotaReached(b []byte, a *contracts.Agreement) []byte {
	for _, q := range a.Quotas {
		if q.RecordType != p.recordType {
			continue
		}
		used := p.req.QuotaUsed[QuotaKey{a.ID, q.Period}]
		if p.rawQuota {
			b = strconv.AppendInt(b, int64(used), 10)
			b = append(b, ',')
		} else if used >= q.Max {
			b = append(b, '1')
		} else {
			b = append(b, '0')
		}
	}
	return b
}

// keySize is room for a cache key of a few agreements without growing:
// Engine.Decide writes keys into a buffer of this size on its stack.
const keySize = 512

// appendKey writes the cache key to b: everything in the input except the
// quota counts, which enter only as whether each quota is reached.
// Agreements enter by id, version and status, and by a fingerprint of their
// terms: the registry never changes a version's terms, but the cache should
// not depend on every source of agreements keeping that promise. The key is
// written into the caller's buffer, not built as a string, so that a hit
// allocates nothing: the cache looks it up as it is and makes a string of
// it only to keep it.
func (p *prepared) appendKey(b []byte, fingerprints *fingerprintMemo) []byte {
	sep := func(b []byte, s string) []byte { return append(append(b, s...), 0x1f) }
	b = sep(b, string(p.req.Side))
	b = sep(b, string(p.recordType))
	b = sep(b, p.head.Schema)
	b = sep(b, string(p.head.Purpose))
	b = sep(b, p.head.From)
	b = sep(b, p.head.To)
	b = sep(b, p.head.AgreementID)
	b = sep(b, p.req.Peer)
	b = sep(b, p.day)
	b = p.appendDivisionKey(b, p.worker, func(a *contracts.Agreement) string { return a.Origin.Division })
	b = p.appendDivisionKey(b, p.employer, func(a *contracts.Agreement) string { return a.Destination.Division })
	b = appendFieldsKey(b, p.fields)
	b = append(b, 0x1f)
	for i := range p.agreements {
		a := &p.agreements[i]
		b = append(b, a.ID...)
		b = append(b, 0x1e)
		b = strconv.AppendInt(b, int64(a.Version), 10)
		b = append(b, 0x1e)
		b = append(b, a.Status...)
		b = append(b, 0x1e)
		b = strconv.AppendUint(b, fingerprints.of(a), 36)
		b = append(b, 0x1e)
		b = p.appendQuotaReached(b, a)
		b = append(b, 0x1d)
	}
	return b
}

// appendFieldsKey writes what the cache key holds of the fields: the plan
// and the set, which together name one list of paths, or the list itself.
// A letter first tells the two forms apart.
func appendFieldsKey(b []byte, f presentFields) []byte {
	if f.plan == nil {
		b = append(b, 'L')
		for _, p := range f.list {
			b = append(append(b, p...), 0x1e)
		}
		return b
	}
	b = append(b, 'P')
	b = strconv.AppendUint(b, f.plan.id, 10)
	b = append(b, 0x1e)
	return strconv.AppendUint(b, f.bits, 16)
}

// appendDivisionKey writes what the cache keys on for a division fact: its
// province, and the whole code only when it does not lie within the matching
// party (origin party for the worker, destination party for the employer) of
// every candidate agreement. Records of one county and of its neighbour then
// share decisions whenever both are inside the agreements' parties, which is
// all of a province-level agreement's traffic. This is sound for policies
// that keep the contract in docs/policy.md ("Divisions"): a division is read
// only through its province and whether it lies within the party, and is
// quoted (or otherwise looked at) only when it does not. A province policy
// that reads the facts is not taken to keep it: with fullDivisions, the
// whole code is always keyed.
func (p *prepared) appendDivisionKey(b []byte, d string, party func(*contracts.Agreement) string) []byte {
	b = append(b, province(d)...)
	b = append(b, 0x1e)
	if p.fullDivisions {
		return append(append(b, d...), 0x1f)
	}
	for i := range p.agreements {
		if !within(d, party(&p.agreements[i])) {
			b = append(b, d...)
			break
		}
	}
	return append(b, 0x1f)
}

// province is a division code's first two digits, the province.
func province(d string) string { return d[:min(2, len(d))] }

// within reports whether division d lies inside party division p by the code's
// hierarchy: p is d's province (xx0000), its prefecture (xxxx00) or d itself.
// The empty division lies nowhere.
func within(d, p string) bool {
	switch {
	case len(d) != 6 || len(p) != 6:
		return false
	case strings.HasSuffix(p, "0000"):
		return d[:2] == p[:2]
	case strings.HasSuffix(p, "00"):
		return d[:4] == p[:4]
	}
	return d == p
}

// input builds the OPA input document directly as AST terms; going through
// map[string]any and JSON would double the cost of a cache miss.
func (p *prepared) input() ast.Value {
	paths := p.fields.paths()
	fields := make([]*ast.Term, len(paths))
	for i, f := range paths {
		fields[i] = ast.StringTerm(f)
	}
	agreements := make([]*ast.Term, len(p.agreements))
	quotaUsed := make([][2]*ast.Term, 0, len(p.agreements))
	for i := range p.agreements {
		a := &p.agreements[i]
		agreements[i] = agreementTerm(a)
		if used := p.quotaUsed(a); used != nil {
			quotaUsed = append(quotaUsed, ast.Item(str(a.ID), ast.ObjectTerm(ast.Item(str(string(p.recordType)), used))))
		}
	}
	return ast.NewObject(
		ast.Item(str("side"), str(string(p.req.Side))),
		ast.Item(str("record_type"), str(string(p.recordType))),
		ast.Item(str("schema"), str(p.head.Schema)),
		ast.Item(str("purpose"), str(string(p.head.Purpose))),
		ast.Item(str("agreement_id"), str(p.head.AgreementID)),
		ast.Item(str("from"), str(p.head.From)),
		ast.Item(str("to"), str(p.head.To)),
		ast.Item(str("peer"), str(p.req.Peer)),
		ast.Item(str("fields"), ast.ArrayTerm(fields...)),
		ast.Item(str("facts"), ast.ObjectTerm(
			ast.Item(str("worker_division"), str(p.worker)),
			ast.Item(str("employer_division"), str(p.employer)),
		)),
		ast.Item(str("agreements"), ast.ArrayTerm(agreements...)),
		ast.Item(str("quota_used"), ast.ObjectTerm(quotaUsed...)),
		ast.Item(str("today"), str(p.day)),
	)
}

func (p *prepared) quotaUsed(a *contracts.Agreement) *ast.Term {
	var items [][2]*ast.Term
	for _, q := range a.Quotas {
		if q.RecordType != p.recordType {
			continue
		}
		items = append(items, ast.Item(str(string(q.Period)), ast.IntNumberTerm(p.req.QuotaUsed[QuotaKey{a.ID, q.Period}])))
	}
	if items == nil {
		return nil
	}
	return ast.ObjectTerm(items...)
}

// maxFingerprints bounds the memo: past it, it starts again empty. A
// registry holds a few thousand agreements at most.
const maxFingerprints = 1 << 14

// fingerprintMemo maps what fingerprint reads of an agreement to its
// fingerprint. The zero value is ready.
type fingerprintMemo struct {
	mu sync.RWMutex
	m  map[terms]uint64
}

// terms is what fingerprint reads of an agreement: its scalars as they are
// and its scope and quotas by the arrays that hold them, so that an
// agreement with other terms (a source breaking the promise that a
// version's terms never change) is a miss even under the same id and
// version. The memo's keys keep those arrays alive, so an address cannot be
// reused for other terms while it is remembered; what an array holds is not
// changed in place, as with anything shared between goroutines.
type terms struct {
	origin, destination   contracts.Party
	validFrom, validUntil contracts.Date
	title                 string
	scope                 *contracts.ScopeRule
	scopeLen              int
	quotas                *contracts.Quota
	quotasLen             int
}

func termsOf(a *contracts.Agreement) terms {
	return terms{
		origin: a.Origin, destination: a.Destination,
		validFrom: a.ValidFrom, validUntil: a.ValidUntil,
		title: a.Title,
		scope: unsafe.SliceData(a.Scope), scopeLen: len(a.Scope),
		quotas: unsafe.SliceData(a.Quotas), quotasLen: len(a.Quotas),
	}
}

// of is fingerprint(a), remembered.
func (m *fingerprintMemo) of(a *contracts.Agreement) uint64 {
	k := termsOf(a)
	m.mu.RLock()
	f, ok := m.m[k]
	m.mu.RUnlock()
	if ok {
		return f
	}
	f = fingerprint(a)
	m.mu.Lock()
	if len(m.m) >= maxFingerprints {
		clear(m.m)
	}
	if m.m == nil {
		m.m = make(map[terms]uint64)
	}
	m.m[k] = f
	m.mu.Unlock()
	return f
}

// fingerprintSeed is per process, like the cache the fingerprints key.
var fingerprintSeed = maphash.MakeSeed()

// fingerprint hashes the terms of an agreement the policy reads.
func fingerprint(a *contracts.Agreement) uint64 {
	var h maphash.Hash
	h.SetSeed(fingerprintSeed)
	w := func(s string) { h.WriteString(s); h.WriteByte(0) }
	w(a.Origin.Division)
	w(a.Origin.Name)
	w(a.Destination.Division)
	w(a.Destination.Name)
	w(a.ValidFrom.String())
	w(a.ValidUntil.String())
	w(a.Title)
	for _, r := range a.Scope {
		w(string(r.RecordType))
		for _, x := range r.Purposes {
			w(string(x))
		}
		h.WriteByte(1)
		for _, x := range r.Fields {
			w(x)
		}
		h.WriteByte(1)
		for _, x := range r.Clear {
			w(x)
		}
		h.WriteByte(2)
	}
	for _, q := range a.Quotas {
		w(string(q.RecordType))
		w(string(q.Period))
		w(strconv.Itoa(q.Max))
	}
	return h.Sum64()
}

func str(s string) *ast.Term { return ast.StringTerm(s) }

func strs[S ~string](ss []S) *ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = ast.StringTerm(string(s))
	}
	return ast.ArrayTerm(ts...)
}

func party(p contracts.Party) *ast.Term {
	return ast.ObjectTerm(ast.Item(str("division"), str(p.Division)), ast.Item(str("name"), str(p.Name)))
}

// agreementTerm is the agreement as the policy sees it: its JSON form without
// the approvals, which the registry has already verified.
func agreementTerm(a *contracts.Agreement) *ast.Term {
	scope := make([]*ast.Term, len(a.Scope))
	for i, r := range a.Scope {
		scope[i] = ast.ObjectTerm(
			ast.Item(str("record_type"), str(string(r.RecordType))),
			ast.Item(str("purposes"), strs(r.Purposes)),
			ast.Item(str("fields"), strs(r.Fields)),
			ast.Item(str("clear"), strs(r.Clear)),
		)
	}
	quotas := make([]*ast.Term, len(a.Quotas))
	for i, q := range a.Quotas {
		quotas[i] = ast.ObjectTerm(
			ast.Item(str("record_type"), str(string(q.RecordType))),
			ast.Item(str("period"), str(string(q.Period))),
			ast.Item(str("max"), ast.IntNumberTerm(q.Max)),
		)
	}
	return ast.ObjectTerm(
		ast.Item(str("id"), str(a.ID)),
		ast.Item(str("version"), ast.IntNumberTerm(a.Version)),
		ast.Item(str("title"), str(a.Title)),
		ast.Item(str("origin"), party(a.Origin)),
		ast.Item(str("destination"), party(a.Destination)),
		ast.Item(str("valid_from"), str(a.ValidFrom.String())),
		ast.Item(str("valid_until"), str(a.ValidUntil.String())),
		ast.Item(str("status"), str(string(a.Status))),
		ast.Item(str("scope"), ast.ArrayTerm(scope...)),
		ast.Item(str("quotas"), ast.ArrayTerm(quotas...)),
	)
}
