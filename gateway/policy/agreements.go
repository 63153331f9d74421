package policy

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/laborlink/laborlink/contracts"
)

// AgreementSource finds the agreements a record may travel under. On a node it
// is the registry's local replica. Implementations must be safe for
// concurrent use and must not scan every agreement: the policy decision is
// meant not to grow with the size of the registry.
type AgreementSource interface {
	// Agreements returns the current version of every agreement between
	// provinces a and b, in either role and whatever its status, restricted to
	// the one named id when id is not empty.
	Agreements(ctx context.Context, a, b, id string) ([]contracts.Agreement, error)
}

// Candidates looks up the agreements for a record's header.
func Candidates(ctx context.Context, src AgreementSource, h *contracts.Header) ([]contracts.Agreement, error) {
	return src.Agreements(ctx, h.From, h.To, h.AgreementID)
}

// AgreementIndex is an in-memory AgreementSource indexed by province pair. The
// CLI's dry run uses it with agreement files, and tests and benchmarks with
// generated registries; a node uses the registry instead.
type AgreementIndex struct {
	mu     sync.RWMutex
	byPair map[[2]string][]contracts.Agreement
}

// NewAgreementIndex indexes agreements, keeping the highest version of each id.
func NewAgreementIndex(agreements ...contracts.Agreement) *AgreementIndex {
	x := &AgreementIndex{byPair: map[[2]string][]contracts.Agreement{}}
	for _, a := range agreements {
		x.Put(a)
	}
	return x
}

func pairKey(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// Put adds an agreement or replaces an older version of it. It writes a
// new list, never the one Agreements may have handed out.
func (x *AgreementIndex) Put(a contracts.Agreement) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := pairKey(a.Origin.Province(), a.Destination.Province())
	list := x.byPair[k]
	for i := range list {
		if list[i].ID == a.ID {
			if a.Version >= list[i].Version {
				list = slices.Clone(list)
				list[i] = a
				x.byPair[k] = list
			}
			return
		}
	}
	list = append(slices.Clone(list), a)
	slices.SortFunc(list, func(p, q contracts.Agreement) int { return strings.Compare(p.ID, q.ID) })
	x.byPair[k] = list
}

// Agreements implements AgreementSource. The returned slice must not be
// modified.
func (x *AgreementIndex) Agreements(_ context.Context, a, b, id string) ([]contracts.Agreement, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	list := x.byPair[pairKey(a, b)]
	if id == "" {
		return list, nil
	}
	i, ok := slices.BinarySearchFunc(list, id, func(g contracts.Agreement, id string) int { return strings.Compare(g.ID, id) })
	if !ok {
		return nil, nil
	}
	return list[i : i+1], nil
}

var _ AgreementSource = (*AgreementIndex)(nil)
