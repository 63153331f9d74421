package audit

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Pair is a direction of flow between two provinces: from Origin to
// Destination. "51:44" is Sichuan to Guangdong.
type Pair struct {
	Origin, Destination Province
}

// ParsePair reads a pair written "51:44".
func ParsePair(s string) (Pair, error) {
	o, d, ok := strings.Cut(s, ":")
	p := Pair{Province(o), Province(d)}
	switch {
	case !ok || !p.Origin.Valid() || !p.Destination.Valid():
		return Pair{}, fmt.Errorf("pair %q: want two province codes as origin:destination, such as 51:44", s)
	case p.Origin == p.Destination:
		// No flow stays in its province: it would select nothing.
		return Pair{}, fmt.Errorf("pair %q names province %s twice: want two different provinces as origin:destination, such as 51:44", s, p.Origin)
	}
	return p, nil
}

// String writes the pair as "51:44".
func (p Pair) String() string { return string(p.Origin) + ":" + string(p.Destination) }

// ParseBetween reads the two provinces of a Filter.Between, written
// "51,44" (either order selects the same flows). A comma, not the colon of
// a pair, because no direction is meant.
func ParseBetween(s string) (Pair, error) {
	p, q, ok := strings.Cut(s, ",")
	b := Pair{Province(p), Province(q)}
	switch {
	case !ok || !b.Origin.Valid() || !b.Destination.Valid():
		return Pair{}, fmt.Errorf("between %q: want two province codes separated by a comma, such as 51,44", s)
	case b.Origin == b.Destination:
		return Pair{}, fmt.Errorf("between %q names province %s twice: want two different provinces, such as 51,44", s, b.Origin)
	}
	return b, nil
}

// SameProvinces reports whether p and q name the same two provinces, in
// either order.
func (p Pair) SameProvinces(q Pair) bool {
	return p == q || p == Pair{Origin: q.Destination, Destination: q.Origin}
}

// Filter selects entries for Query; zero fields select everything. It maps
// one to one onto `laborlink audit query` flags.
type Filter struct {
	// From and To bound the entry time: From <= Time < To.
	From, To time.Time
	// Pair selects flows from Pair.Origin to Pair.Destination.
	Pair *Pair
	// Between selects flows between its two provinces in either direction,
	// what a reconciliation of their two logs compares.
	Between *Pair
	// AgreementID selects flows under one agreement.
	AgreementID string
	// Kind selects one kind of entry.
	Kind Kind
	// RecordType selects flows of one record type (see RecordTypes).
	RecordType string
	// Decision selects allowed or denied flows.
	Decision Decision
}

// Check reports a field that can match no entry: a kind, record type or
// decision that is not one of the log's codes, a pair that is neither
// direction of between, or an empty time window. The error names the field
// as `laborlink audit query` and the API do.
func (f Filter) Check() error {
	switch {
	case f.Pair != nil && f.Between != nil && !f.Pair.SameProvinces(*f.Between):
		return fmt.Errorf("pair %s is neither direction of between %s,%s: together they select nothing; give one of them", f.Pair, f.Between.Origin, f.Between.Destination)
	case f.Kind != "" && !slices.Contains(Kinds(), f.Kind):
		return fmt.Errorf("kind %q is not an entry kind (%s)", f.Kind, join(Kinds()))
	case f.RecordType != "" && !slices.Contains(recordTypes, f.RecordType):
		return fmt.Errorf("type %q is not a record type (%s)", f.RecordType, strings.Join(recordTypes, ", "))
	case f.Decision != "" && f.Decision != Allow && f.Decision != Deny:
		return fmt.Errorf("decision %q is neither %s nor %s", f.Decision, Allow, Deny)
	}
	return checkWindow(f.From, f.To)
}

// checkWindow refuses a window that holds no time: from not before to,
// both given.
func checkWindow(from, to time.Time) error {
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return fmt.Errorf("from %s is not before to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return nil
}

func join[S ~string](xs []S) string {
	ss := make([]string, len(xs))
	for i, x := range xs {
		ss[i] = string(x)
	}
	return strings.Join(ss, ", ")
}

// ParseWindow reads the from and to parameters of a query, RFC 3339 times
// (fractions of a second allowed), zero when left out. The error names each
// parameter that is not a time, or both when from is not before to.
func ParseWindow(q url.Values) (from, to time.Time, err error) {
	// An array, not a map: an error about both names them in the same order each time.
	for _, p := range [...]struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if s := q.Get(p.name); s != "" {
			t, perr := time.Parse(time.RFC3339, s)
			if perr != nil {
				err = errors.Join(err, fmt.Errorf("%s must be an RFC 3339 time, got %q", p.name, s))
			}
			*p.dst = t
		}
	}
	if err == nil {
		err = checkWindow(from, to)
	}
	return from, to, err
}

// Match reports whether e passes the filter.
func (f Filter) Match(e Entry) bool {
	switch {
	case !f.From.IsZero() && e.Time.Before(f.From),
		!f.To.IsZero() && !e.Time.Before(f.To),
		f.Pair != nil && (e.Origin != f.Pair.Origin || e.Destination != f.Pair.Destination),
		f.Between != nil && !between(e, f.Between.Origin, f.Between.Destination),
		f.AgreementID != "" && e.AgreementID != f.AgreementID,
		f.Kind != "" && e.Kind != f.Kind,
		f.RecordType != "" && e.RecordType != f.RecordType,
		f.Decision != "" && e.Decision != f.Decision:
		return false
	}
	return true
}

// Query returns the entries that pass f, in their original order. It works
// on any entries: a node's log (see Log.Query) or a file an auditor holds.
func Query(entries []Entry, f Filter) []Entry {
	var out []Entry
	for _, e := range entries {
		if f.Match(e) {
			out = append(out, e)
		}
	}
	return out
}

// Between keeps the entries of flows between provinces p and q, in either
// direction: those whose origin and destination are the two. It returns an
// empty slice, not nil, when none is left.
func Between(entries []Entry, p, q Province) []Entry {
	out := []Entry{}
	for _, e := range entries {
		if between(e, p, q) {
			out = append(out, e)
		}
	}
	return out
}

func between(e Entry, p, q Province) bool {
	return Pair{e.Origin, e.Destination}.SameProvinces(Pair{p, q})
}
