package registry

import (
	"maps"
	"slices"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// Match is an agreement version that covers a record: the answer the policy
// layer gets for every record. Agreement and Rule point into the registry's
// immutable state and must not be modified.
type Match struct {
	AgreementID string
	Version     int
	Agreement   *contracts.Agreement
	// Rule is the agreement's scope rule for the record type.
	Rule *contracts.ScopeRule
}

// pairKey is an ordered (origin province, destination province) pair.
type pairKey [4]byte

func pairOf(origin, dest string) (pairKey, bool) {
	if len(origin) < 2 || len(dest) < 2 {
		return pairKey{}, false
	}
	return pairKey{origin[0], origin[1], dest[0], dest[1]}, true
}

type tpKey struct {
	rt contracts.RecordType
	p  contracts.Purpose
}

type coverEntry struct {
	m            Match
	origin, dest string // the parties' divisions
	from, until  contracts.Date
}

// pairIndex holds the covering entries of one province pair.
type pairIndex map[tpKey][]coverEntry

// Index answers "which agreement covers (origin, destination, type,
// purpose) at time t" in time independent of the number of agreements: two
// map lookups and a scan of the few agreements of that pair, type and
// purpose. An Index is immutable; apply publishes a new one that shares every
// pair it did not touch, so readers never lock.
type Index struct {
	pairs map[pairKey]pairIndex
}

func emptyIndex() *Index { return &Index{pairs: map[pairKey]pairIndex{}} }

// Covers returns the agreements in force at t that cover a record of type rt
// for purpose p from origin to dest. Origin and destination are division
// codes: 6 digits ("511321") or a 2-digit province ("51"). A party at
// province level covers every division of its province, a prefecture covers
// its counties, a county only itself.
func (ix *Index) Covers(origin, dest string, rt contracts.RecordType, p contracts.Purpose, t time.Time) []Match {
	return ix.AppendCovers(nil, origin, dest, rt, p, t)
}

// AppendCovers is Covers appending to dst, for callers that reuse a buffer.
func (ix *Index) AppendCovers(dst []Match, origin, dest string, rt contracts.RecordType, p contracts.Purpose, t time.Time) []Match {
	pk, ok := pairOf(origin, dest)
	if !ok {
		return dst
	}
	entries := ix.pairs[pk][tpKey{rt, p}]
	if len(entries) == 0 {
		return dst
	}
	day := DayOf(t)
	for i := range entries {
		e := &entries[i]
		if day.Before(e.from) || e.until.Before(day) {
			continue
		}
		if within(origin, e.origin) && within(dest, e.dest) {
			dst = append(dst, e.m)
		}
	}
	return dst
}

// within reports whether record division rec lies inside party division
// party (both GB/T 2260; rec may be a 2-digit province).
func within(rec, party string) bool {
	if len(party) != 6 {
		return false
	}
	switch {
	case party[2:] == "0000":
		return len(rec) >= 2 && rec[:2] == party[:2]
	case party[4:] == "00":
		return len(rec) == 6 && rec[:4] == party[:4]
	default:
		return rec == party
	}
}

// buildPair indexes the versions in force of the given agreements.
func buildPair(recs []*AgreementRecord) pairIndex {
	px := pairIndex{}
	for _, r := range recs {
		v := r.Current()
		if v == nil || len(v.SuspendedBy) > 0 {
			continue
		}
		a := &v.Agreement
		for i := range a.Scope {
			rule := &a.Scope[i]
			for _, p := range rule.Purposes {
				k := tpKey{rule.RecordType, p}
				px[k] = append(px[k], coverEntry{
					m:      Match{AgreementID: r.ID, Version: a.Version, Agreement: a, Rule: rule},
					origin: a.Origin.Division, dest: a.Destination.Division,
					from: a.ValidFrom, until: a.ValidUntil,
				})
			}
		}
	}
	return px
}

// Index returns the current covers index. It is immutable and safe to keep.
func (s *Store) Index() *Index { return s.index.Load() }

// Covers is Index().Covers: lock-free, allocation only for the result.
func (s *Store) Covers(origin, dest string, rt contracts.RecordType, p contracts.Purpose, t time.Time) []Match {
	return s.index.Load().Covers(origin, dest, rt, p, t)
}

// reindexPair publishes a new index in which one pair is rebuilt. Called
// under s.mu by apply.
func (s *Store) reindexPair(a *contracts.Agreement) {
	pk, ok := pairOf(a.Origin.Province(), a.Destination.Province())
	if !ok {
		return
	}
	old := s.index.Load()
	next := &Index{pairs: maps.Clone(old.pairs)}
	px := buildPair(s.pairRecords(pk))
	if len(px) == 0 {
		delete(next.pairs, pk)
	} else {
		next.pairs[pk] = px
	}
	s.index.Store(next)
}

// pairRecords returns the records of one province pair in ID order.
func (s *Store) pairRecords(pk pairKey) []*AgreementRecord {
	ids := s.pairIDs[pk]
	recs := make([]*AgreementRecord, 0, len(ids))
	for _, id := range ids {
		recs = append(recs, s.st.Agreements[id])
	}
	return recs
}

// addToPair records a new agreement ID under its pair, keeping IDs sorted.
func (s *Store) addToPair(a *contracts.Agreement) {
	pk, ok := pairOf(a.Origin.Province(), a.Destination.Province())
	if !ok {
		return
	}
	ids := s.pairIDs[pk]
	i, found := slices.BinarySearch(ids, a.ID)
	if !found {
		s.pairIDs[pk] = slices.Insert(ids, i, a.ID)
	}
}

// publish rebuilds every derived structure from the state: after init and
// restore.
func (s *Store) publish() {
	s.pairIDs = map[pairKey][]string{}
	for _, r := range s.st.Agreements {
		s.addToPair(&r.Latest().Agreement)
	}
	ix := emptyIndex()
	for pk := range s.pairIDs {
		if px := buildPair(s.pairRecords(pk)); len(px) > 0 {
			ix.pairs[pk] = px
		}
	}
	s.index.Store(ix)
	s.publishTrust()
}

// publishTrust publishes fresh copies of the revoked serial set and of the
// retired CA keys, and tells those waiting on trustChanged that whom the
// registry trusts may have changed. Apply calls it after every change to
// members, their CAs, revocations and retired keys.
func (s *Store) publishTrust() {
	m := make(map[string]struct{}, len(s.st.Revoked))
	for _, r := range s.st.Revoked {
		m[provinceSerial(r.Province, r.Serial)] = struct{}{}
	}
	s.revoked.Store(&m)
	keys := make(map[string]struct{}, len(s.st.Retired))
	for k := range s.st.Retired {
		keys[k] = struct{}{}
	}
	s.retired.Store(&keys)
	close(*s.trust.Swap(new(make(chan struct{}))))
}

// trustChanged returns a channel closed at the next change to whom the
// registry trusts (publishTrust): members, their CAs, revocations.
func (s *Store) trustChanged() <-chan struct{} { return *s.trust.Load() }
